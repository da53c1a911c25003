"""Expected test score of the best-by-validation trial among n random trials, exactly, without Monte Carlo.

Sort the S trials by validation score, best last; t_(j) is the test score of the j-th. The best of
n trials drawn from the S is the j-th with probability

    without replacement:  C(j−1, n−1) / C(S, n)  (= [C(j,n) − C(j−1,n)] / C(S,n); the unbiased
                          estimator of allentune and Tang et al. 2020; :func:`expected_best`)
    with replacement:     (j/S)^n − ((j−1)/S)^n  (Dodge et al. 2019, "Show Your Work";
                          ``replacement=True``)

and E[test of best-of-n] = Σ_j p_j t_(j). Probabilities are formed in log space (``gammaln``) and
the with-replacement differences as (j/S)^n·(−expm1(n·log1p(−1/j))), so nothing overflows or cancels
for S up to 10^5 and beyond.

Ties in validation score: the best is chosen uniformly at random among the tied trials (the
efficiency curve's rule "mean test score of the tied trials" has the same expectation). This is
exact by replacing t and t² by their means within each tie group before summing; the reported
``sd`` is the standard deviation of the chosen trial's test score under that rule. For a table,
pass :attr:`~analysis.table.TrialTable.rank_val`, in which a diverged trial ranks just below the
ok trials it would tie with, so it never wins such a tie.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln


@dataclass(frozen=True)
class ExpectedBest:
    """E and sd of the test score of the best-by-validation trial among ``n`` random trials."""

    n: int
    mean: float
    sd: float
    replacement: bool

    @property
    def low(self) -> float:
        return self.mean - self.sd

    @property
    def high(self) -> float:
        return self.mean + self.sd


def rank_probabilities(size: int, n: int, *, replacement: bool = False) -> np.ndarray:
    """P(the best of n draws is the j-th worst of ``size`` trials), j = 1..size; sums to 1."""
    if not 1 <= n or (not replacement and n > size):
        raise ValueError(f"n must be in [1, {size}] without replacement (≥ 1 with), got {n}.")
    j = np.arange(1, size + 1, dtype=float)
    if replacement:
        with np.errstate(divide="ignore"):
            return np.exp(n * np.log(j / size)) * -np.expm1(n * np.log1p(-1.0 / j))
    p = np.zeros(size)
    jj = j[n - 1 :]
    log_total = gammaln(size + 1) - gammaln(n + 1) - gammaln(size - n + 1)
    p[n - 1 :] = np.exp(gammaln(jj) - gammaln(n) - gammaln(jj - n + 1) - log_total)
    return p


def sorted_by_validation(oriented_val: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Test scores in ascending validation order (best last), with t and t² averaged within ties."""
    order = np.argsort(oriented_val, kind="stable")
    val, t = np.asarray(oriented_val, dtype=float)[order], np.asarray(test, dtype=float)[order]
    _, group, count = np.unique(val, return_inverse=True, return_counts=True)
    if len(count) == len(val):
        return t, t * t
    mean_t = np.bincount(group, weights=t) / count
    mean_t2 = np.bincount(group, weights=t * t) / count
    return mean_t[group], mean_t2[group]


def expected_best(
    oriented_val: np.ndarray, test: np.ndarray, ns: Iterable[int], *, replacement: bool = False
) -> tuple[ExpectedBest, ...]:
    """E[test of best-of-n] for each n in ``ns``; validation scores oriented so that larger is better.

    Without replacement (default) the unbiased estimator over subsets of the trials (allentune; Tang et
    al. 2020); ``replacement=True`` the estimator of Dodge et al. 2019 ("Show Your Work").
    """
    t, t2 = sorted_by_validation(oriented_val, test)
    out = []
    for n in ns:
        p = rank_probabilities(len(t), int(n), replacement=replacement)
        mean = float(p @ t)
        out.append(ExpectedBest(int(n), mean, float(np.sqrt(max(p @ t2 - mean**2, 0.0))), replacement))
    return tuple(out)


def curve_sizes(size: int, *, dense: int = 0) -> np.ndarray:
    """n = 1, 2, 4, … ≤ ``size`` (the paper's experiment sizes), plus ``dense`` log-spaced n for smooth curves."""
    powers = 2 ** np.arange(int(size).bit_length())
    if dense <= 0:
        return powers
    extra = np.unique(np.round(np.geomspace(1, size, dense)).astype(int))
    return np.union1d(powers, extra)
