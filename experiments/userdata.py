"""What a user's ``.npz`` and a table of series share: multi-label targets of 0/1 that vary in the training
part, and inputs standardised with the training part's statistics (a series' features, static inputs).

Each check raises :class:`~experiments.errors.DataError` naming the setting or array, the column or label,
the file (``where``), what was expected and how to fix it; ``name(j)`` names label or column j.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from experiments.errors import DataError


def binary_labels(y: np.ndarray, name: Callable[[int], str], field: str, what: str, where: str, base: int = 0
                  ) -> np.ndarray:
    """``y`` (samples, labels) as float32 0/1, refusing any other value; ``what`` names a sample (a row),
    numbered from ``base``."""
    y = np.asarray(y, dtype=np.float64)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        row, j = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{field}: {name(j)} holds {y[row, j]:g} at {what} {row + base}; a multi-label target holds 0 or 1 in every "
            f"entry ({int(bad.sum())} entries do not); map each label to 0/1, e.g. (y > 0).astype(np.float32), "
            f"or give one class label per sample {where}"
        )
    return y.astype(np.float32)


def labels_vary_in_training(train: np.ndarray, name: Callable[[int], str], field: str, where: str) -> None:
    """Refuse a label that is the same in every sample of the training part."""
    for j in range(train.shape[1]):
        values = np.unique(train[:, j])
        if len(values) < 2:
            raise DataError(
                f"{field}: {name(j)} is {values[0]:g} in all {len(train)} samples of the training part, so it cannot "
                f"be learnt (and its pos_weight, negatives over positives, is undefined); leave that label out, or "
                f"change the split (dataset.seed, val_fraction/test_fraction) or bring data where it varies {where}"
            )


def standardisation(values: np.ndarray, names: Sequence[str], field: str, part: str, fix: str, where: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per column of the training rows ``values``; refuses a constant column.

    ``names``: each column as a message names it; ``part``: the training rows, in words.
    """
    mean, std = values.mean(axis=0), values.std(axis=0)
    for name, m, s in zip(names, mean, std):
        if not s > 0 or not np.isfinite(s):
            raise DataError(
                f"{field}: {name} is constant ({m:.6g}) over {part}, so it cannot be standardised and carries "
                f"nothing to learn from; {fix} {where}"
            )
    return mean, std
