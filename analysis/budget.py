"""How many trials: the chance that random search finds a good config, and what doubling the budget buys.

With i.i.d. trials, the best of s lands in the top q of the search space (by its true objective)
with probability 1 − (1 − q)^s, whatever the objective. The smallest s reaching 95% is
⌈log 0.05 / log(1 − q)⌉. The gain of going from s to 2s trials is read off the exact expected
best-of-n curve (:mod:`analysis.best_of_n`, without replacement, so only for 2s ≤ S); its cost
is s more trials, in hours the mean ``train_seconds`` of the used trials (ok and diverged) × s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.best_of_n import curve_sizes, expected_best
from analysis.table import TrialTable

QUANTILES = (0.01, 0.02, 0.05, 0.10)
TARGET = 0.95


@dataclass(frozen=True)
class Doubling:
    """Going from ``s`` to ``2s`` trials: expected best test scores, the gain (positive = better), its cost."""

    s: int
    expected_s: float
    expected_2s: float
    gain: float
    extra_trials: int
    extra_hours: float | None


def time_unit(hours: float) -> tuple[str, float]:
    """The unit to show ``hours`` of compute in (seconds, minutes or hours) and its size in hours."""
    if hours < 1.5 / 60:
        return "seconds", 1 / 3600
    if hours < 1.5:
        return "minutes", 1 / 60
    return "hours", 1.0


@dataclass(frozen=True, eq=False)
class TrialsNeeded:
    """P(best of s in the top q) for each s (rows) and q (columns); trials for 95%; gains of doubling."""

    quantiles: tuple[float, ...]
    sizes: tuple[int, ...]
    probability: np.ndarray
    needed: tuple[int, ...]
    doublings: tuple[Doubling, ...]
    mean_train_seconds: float | None


def top_probability(s: np.ndarray | int, q: float) -> np.ndarray:
    """P(the best of s i.i.d. trials is in the top q of the space) = 1 − (1 − q)^s."""
    return -np.expm1(np.asarray(s, dtype=float) * np.log1p(-q))


def trials_for(q: float, target: float = TARGET) -> int:
    """The smallest s with 1 − (1 − q)^s ≥ ``target``."""
    if not (0 < q < 1 and 0 < target < 1):
        raise ValueError(f"q and target must lie in (0, 1); got q={q}, target={target}.")
    s = max(1, math.ceil(math.log1p(-target) / math.log1p(-q)))
    while s > 1 and top_probability(s - 1, q) >= target:  # guard against rounding in the logs
        s -= 1
    while top_probability(s, q) < target:
        s += 1
    return s


def trials_needed(table: TrialTable, quantiles: tuple[float, ...] = QUANTILES) -> TrialsNeeded:
    """The table and gains for ``table`` (module docstring); s runs up to the first power of two ≥ S and ≥ every 95% count."""
    needed = tuple(trials_for(q) for q in quantiles)
    largest = max(table.size, *needed)
    sizes = 2 ** np.arange((largest - 1).bit_length() + 1)  # powers of two up to the first ≥ largest
    probability = np.column_stack([top_probability(sizes, q) for q in quantiles])
    seconds = None
    if table.train_seconds is not None:
        seconds = float(np.nanmean(table.train_seconds))
    doublings = []
    ns = curve_sizes(table.size)
    exact = {e.n: e.mean for e in expected_best(table.rank_val, table.test, ns)}
    for s in ns[ns * 2 <= table.size]:
        s = int(s)
        hours = None if seconds is None else seconds * s / 3600.0
        gain = table.sign * (exact[2 * s] - exact[s])
        doublings.append(Doubling(s, exact[s], exact[2 * s], gain, s, hours))
    return TrialsNeeded(tuple(quantiles), tuple(int(s) for s in sizes), probability, needed, tuple(doublings), seconds)
