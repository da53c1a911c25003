"""The random experiment efficiency curve of Bergstra & Bengio (JMLR 2012, sec. 2.2, Figs. 2 and 5).

For s = 1, 2, 4, … (powers of two ≤ S, as in the paper) the S trials, in trial-index order, are cut
into N = ⌊S/s⌋ disjoint experiments of s consecutive trials (the last S − N·s trials sit out that
size). With i.i.d. trials the experiments are i.i.d. draws of "a random search of s trials".

Each experiment's result is the test score of its best-by-validation trial; when several trials
tie for the best validation score, the mean of their test scores (the expectation of picking one of
them at random). With set sizes known, each experiment also gets its eq. 5–6 score (the mixture mean
and sd, :mod:`analysis.noise`), and the whole table gets the 95% band μ ± 1.96σ of eq. 6 over all S
trials. Each size also carries the exact expected best-of-s (:mod:`analysis.best_of_n`), which
the experiments' mean estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.best_of_n import curve_sizes, expected_best
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
    """Per row of (N, s) arrays: the test score of the best-validation trial (mean over ties)."""
    top = oriented_val == oriented_val.max(axis=-1, keepdims=True)
    return (test * top).sum(axis=-1) / top.sum(axis=-1)


def efficiency_curve(table: TrialTable) -> EfficiencyCurve:
    """Re-partition the table's trials into experiments of s = 1, 2, 4, … trials (module docstring)."""
    size = table.size
    sizes = curve_sizes(size)
    exact = {e.n: e.mean for e in expected_best(table.oriented_val, table.test, sizes)}
    levels = []
    for s in sizes:
        s = int(s)
        used = (size // s) * s
        val, test = (a[:used].reshape(-1, s) for a in (table.oriented_val, table.test))
        values = best_by_validation(val, test)
        means = sds = None
        if table.has_set_sizes:
            assert table.val_n is not None and table.test_n is not None
            cut = [a[:used].reshape(-1, s) for a in (table.val_n, table.test_n, table.val)]
            _, means, sds = noise_aware(val, cut[0], test, cut[1], cut[2])
        levels.append(EfficiencyLevel(s, values, exact[s], means, sds))
    band = None
    if table.has_set_sizes:
        assert table.val_n is not None and table.test_n is not None
        _, mu, sd = noise_aware(table.oriented_val, table.val_n, table.test, table.test_n, table.val)
        band = NoiseEstimate(float(mu), float(sd))
    best = float(best_by_validation(table.oriented_val, table.test))
    return EfficiencyCurve(tuple(levels), size, best, band)
