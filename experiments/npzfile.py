"""A user's ``.npz``: its arrays read (no pickle), checked and split into train/validation/test.

``X`` (samples, timesteps, features); ``y`` (samples,) of class labels 0..K-1 or regression targets, or
(samples, labels) of 0/1 for a multi-label classification; optionally ``static`` (samples, features),
inputs that are not series, standardised with the training part's mean and standard deviation.
Every problem is a :class:`~experiments.errors.DataError` naming the array and the file.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np

from experiments.errors import DataError
from experiments.settings import NpzFile, Task
from experiments.splits import MAX_CLASSES, Dataset, seeded_rng, split_indices
from experiments.userdata import binary_labels, labels_vary_in_training, standardisation

#: fewest samples a ``.npz`` must hold to be split into train/validation/test
MIN_NPZ_SAMPLES = 10


def clear_npz_cache() -> None:
    read_npz.cache_clear()


@functools.lru_cache(maxsize=4)
def read_npz(settings: NpzFile, path: Path, size: int, mtime_ns: int) -> Dataset:
    """Read and check a user's .npz (``path`` is resolved; ``size``/``mtime_ns`` only key the cache)."""
    x, y, static = _read_npz(path)
    where = f"(file: {settings.path})"
    x = _check_x(x, where)
    y, n_classes, n_labels = _check_y(y, len(x), settings.task, where)
    if static is not None:
        static = _check_static(static, len(x), where)

    n = len(y)
    n_val = max(1, round(n * settings.val_fraction))
    n_test = max(1, round(n * settings.test_fraction))
    if n - n_val - n_test < 1:
        raise DataError(
            f"dataset.val_fraction/test_fraction: {settings.val_fraction} and {settings.test_fraction} "
            f"of {n} samples leave no training sample ({n_val} validation, {n_test} test); "
            f"lower the fractions or bring more samples {where}"
        )
    train, val, test = split_indices(n, n_val, n_test, seeded_rng(settings.seed, 0))
    if n_labels:
        labels_vary_in_training(y[train], _column, "dataset y", where)
    statics = {}
    if static is not None:
        mean, std = standardisation(static[train].astype(np.float64), [_column(j) for j in range(static.shape[1])],
                                    "dataset static", "the training part",
                                    "leave that column out of static, or bring data where it varies", where)
        statics = {f"static_{split}": ((static[rows] - mean) / std).astype(np.float32)
                   for split, rows in (("train", train), ("val", val), ("test", test))}
    return Dataset(
        name=path.stem,
        task=settings.task,
        n_classes=n_classes,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        n_labels=n_labels,
        source=str(settings.path),
        **statics,
    )


def _column(j: int) -> str:
    return f"column {j}"


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The raw X, y and static (None when absent) of an .npz, refusing pickled (object) arrays."""
    how = "save it with np.savez(path, X=X, y=y)"
    with open(path, "rb") as f:
        is_npy = f.read(6) == b"\x93NUMPY"
    if not is_npy and not zipfile.is_zipfile(path):
        raise DataError(
            f"dataset.path: '{path}' is not an .npz archive (not a zip file: truncated, or another "
            f"format?); expected a zip of .npy arrays X and y; {how}"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"dataset.path: '{path}' is not a readable .npz archive ({e}); expected a zip of .npy "
            f"arrays X and y; {how}"
        ) from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"dataset.path: '{path}' holds a single .npy array, not an .npz archive; "
            f"expected arrays named X and y; {how}"
        )
    with archive:
        arrays = {}
        for key in ("X", "y", "static"):
            if key == "static" and key not in archive.files:
                continue  # optional
            if key not in archive.files:
                held = ", ".join(archive.files) or "no arrays"
                raise DataError(f"dataset {key}: missing from '{path}', which holds {held}; {how}")
            try:
                arrays[key] = archive[key]
            except ValueError as e:
                if "allow_pickle" not in str(e):
                    raise DataError(f"dataset {key}: cannot be read from '{path}' ({e}); {how}") from e
                raise DataError(
                    f"dataset {key}: is an object array stored with pickle, which is not loaded "
                    f"(unsafe); expected a numeric array; convert it before saving, e.g. "
                    f"{key}.astype(np.float32), or np.stack for a list of equal-length sequences "
                    f"(file: {path})"
                ) from e
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise DataError(f"dataset {key}: cannot be read from '{path}' (corrupt file? {e}); {how}") from e
            if not isinstance(arrays[key], np.ndarray):
                raise DataError(f"dataset {key}: cannot be read from '{path}': its member is not a .npy array; {how}")
    return arrays["X"], arrays["y"], arrays.get("static")


def _check_numeric(name: str, a: np.ndarray, where: str) -> None:
    if a.dtype.kind not in "biuf":
        raise DataError(
            f"dataset {name}: expected a numeric dtype (integer or float), got {a.dtype}; "
            f"convert it with {name}.astype(np.float32) before saving {where}"
        )


def _check_finite(name: str, a: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"dataset {name}: {int(bad.sum())} of {bad.size} values are NaN or infinite (as float32), the first at "
            f"index {first}; expected finite numbers; impute or drop those samples {where}"
        )


def _check_x(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim != 3:
        hint = "; for a univariate series add a feature axis: X = X[..., None]" if x.ndim == 2 else ""
        raise DataError(
            f"dataset X: expected 3 dimensions (samples, timesteps, features), got shape {x.shape}{hint} {where}"
        )
    _check_numeric("X", x, where)
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise DataError(
            f"dataset X: expected at least 1 timestep and 1 feature, got shape {x.shape} {where}"
        )
    if len(x) < MIN_NPZ_SAMPLES:
        raise DataError(
            f"dataset X: {len(x)} samples are too few to split into train/validation/test; expected "
            f"at least {MIN_NPZ_SAMPLES} {where}"
        )
    with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused just below
        x = x.astype(np.float32)
    _check_finite("X", x, where)
    return x


def _check_y(y: np.ndarray, n: int, task: Task, where: str) -> tuple[np.ndarray, int, int]:
    """Checked targets, the number of classes (0 for regression and multi-label) and of labels (0 unless
    multi-label: ``y`` (samples, labels) of 0/1 with two or more labels, float32)."""
    multilabel = task == "classification" and y.ndim == 2 and y.shape[1] >= 2
    if y.ndim != 1 and not multilabel:
        task_hint = "; a multi-label target also needs dataset.task: classification" if y.ndim == 2 else ""
        raise DataError(
            f"dataset y: expected 1 dimension (samples,), or (samples, labels) of 0/1 with two or more labels for a "
            f"multi-label classification, got shape {y.shape}; flatten it with y.reshape(-1) if it holds one "
            f"target per sample{task_hint} {where}"
        )
    if len(y) != n:
        raise DataError(
            f"dataset y: has {len(y)} samples but X has {n}; expected one target per sample of X {where}"
        )
    _check_numeric("y", y, where)
    if multilabel:
        _check_finite("y", y, where)
        return binary_labels(y, _column, "dataset y", "sample", where), 0, y.shape[1]
    if task == "regression":
        with np.errstate(over="ignore"):
            y = y.astype(np.float32)
        _check_finite("y", y, where)
        return y, 0, 0

    fix = "map them to 0..K-1 with np.unique(y, return_inverse=True)[1], or set dataset.task: regression"
    if y.dtype.kind == "f":
        _check_finite("y", y, where)
        fractional = y != np.round(y)
        if fractional.any():
            raise DataError(
                f"dataset y: classification labels must be integers, got {float(y[fractional][0])} among "
                f"others; {fix} {where}"
            )
    if y.min() < 0:
        raise DataError(
            f"dataset y: classification labels must be non-negative integers 0..K-1, got {y.min().item()}; "
            f"{fix} {where}"
        )
    n_classes = int(y.max()) + 1
    if n_classes < 2 or n_classes > MAX_CLASSES:
        raise DataError(
            f"dataset y: labels 0..{n_classes - 1} make {n_classes} class(es); expected 2 to {MAX_CLASSES}; "
            f"{fix} {where}"
        )
    return y.astype(np.int64), n_classes, 0


def _check_static(static: np.ndarray, n: int, where: str) -> np.ndarray:
    if static.ndim != 2:
        hint = "; for one static input per sample add a feature axis: static = static[:, None]" if static.ndim == 1 else ""
        raise DataError(
            f"dataset static: expected 2 dimensions (samples, features), got shape {static.shape}{hint} {where}"
        )
    if len(static) != n:
        raise DataError(
            f"dataset static: has {len(static)} samples but X and y have {n}; expected one row of static inputs "
            f"per sample of X {where}"
        )
    _check_numeric("static", static, where)
    if static.shape[1] < 1:
        raise DataError(f"dataset static: expected at least 1 feature, got shape {static.shape}; leave static out "
                        f"of the file if there is none {where}")
    with np.errstate(over="ignore"):
        static = static.astype(np.float32)
    _check_finite("static", static, where)
    return static
