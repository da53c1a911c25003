"""The random experiment efficiency curve of Bergstra & Bengio (JMLR 2012, sec. 2.2, Figs. 2 and 5).

For s = 1, 2, 4, … (powers of two ≤ S, as in the paper) the S trials, in trial-index order, are cut
into N = ⌊S/s⌋ disjoint experiments of s consecutive trials (the last S − N·s trials sit out that
size). With i.i.d. trials the experiments are i.i.d. draws of "a random search of s trials".

Each experiment's result is the test score of its best-by-validation trial; when several trials
tie for the best validation score, the mean of their test scores (the expectation of picking one of
them at random), where a diverged trial loses its ties with ok trials (:mod:`analysis.table`). With set sizes known, each experiment also gets its eq. 5–6 score (the mixture mean
and sd, :mod:`analysis.noise`), and the whole table gets the 95% band μ ± 1.96σ of eq. 6 over all S
trials. Each size also carries the exact expected best-of-s (:mod:`analysis.best_of_n`), which
the experiments' mean estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.best_of_n import curve_sizes, expected_best
from analysis.errors import UsageError
from analysis.noise import NoiseEstimate, noise_aware
from analysis.table import TrialTable


@dataclass(frozen=True, eq=False)
class EfficiencyLevel:
    """The N experiments of size s: their best-by-validation test scores and (optionally) eq. 5 scores."""

    s: int
    values: np.ndarray
    expected_best: float
    noise_means: np.ndarray | None = None
    noise_sds: np.ndarray | None = None

    @property
    def experiments(self) -> int:
        return len(self.values)

    def row(self) -> dict[str, float | int | None]:
        """Summary statistics over the experiments (the ``efficiency`` rows of the report)."""
        q1, median, q3 = np.percentile(self.values, [25, 50, 75])
        noise = None if self.noise_means is None else float(self.noise_means.mean())
        return {
            "s": self.s,
            "experiments": self.experiments,
            "mean": float(self.values.mean()),
            "median": float(median),
            "q1": float(q1),
            "q3": float(q3),
            "min": float(self.values.min()),
            "max": float(self.values.max()),
            "expected_best": self.expected_best,
            "noise_aware_mean": noise,
        }


@dataclass(frozen=True, eq=False)
class EfficiencyCurve:
    """All experiment sizes, plus the best-by-validation result and the eq. 5–6 band over all S trials."""

    levels: tuple[EfficiencyLevel, ...]
    size: int
    best_of_all: float
    band: NoiseEstimate | None


def best_by_validation(oriented_val: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Per row of (N, s) arrays: the test score of the best-validation trial (mean over ties).

    For a table pass :attr:`~analysis.table.TrialTable.rank_val`, so that diverged trials lose ties.
    """
    top = oriented_val == oriented_val.max(axis=-1, keepdims=True)
    return np.where(top, test, 0.0).sum(axis=-1) / top.sum(axis=-1)  # a NaN (unknown) test counts only if among the best


def experiments(table: TrialTable, s: int) -> EfficiencyLevel:
    """The ⌊S/s⌋ experiments of s consecutive trials (in trial-index order) and their results."""
    n = table.size // s

    def rows(a: np.ndarray) -> np.ndarray:
        return a[: n * s].reshape(n, s)

    values = best_by_validation(rows(table.rank_val), rows(table.test))
    (exact,) = expected_best(table.rank_val, table.test, [s])
    means = sds = None
    if table.has_set_sizes:
        _, means, sds = noise_rows(table, s)
    return EfficiencyLevel(s, values, exact.mean, means, sds)


def noise_rows(table: TrialTable, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 5–6 over each of the ⌊S/s⌋ experiments of s trials: weights (N, s), mixture means and sds (N,)."""
    if table.val_n is None or table.test_n is None:
        raise UsageError("noise_rows() needs a table with set sizes (columns val_n and test_n); this one has none. "
                         "Check table.has_set_sizes first.")
    n = table.size // s
    arrays = (table.oriented_val, table.val_n, table.test, table.test_n, table.val, table.scored)
    return noise_aware(*(a[: n * s].reshape(n, s) for a in arrays))


def efficiency_curve(table: TrialTable) -> EfficiencyCurve:
    """Re-partition the table's trials into experiments of s = 1, 2, 4, … trials (module docstring)."""
    levels = tuple(experiments(table, int(s)) for s in curve_sizes(table.size))
    whole = levels[-1] if levels[-1].s == table.size else experiments(table, table.size)
    band = None
    if whole.noise_means is not None and whole.noise_sds is not None:
        band = NoiseEstimate(float(whole.noise_means[0]), float(whole.noise_sds[0]))
    return EfficiencyCurve(levels, table.size, float(whole.values[0]), band)
