"""Which trial to ship, aware of validation noise (Bergstra & Bengio eq. 5).

The best-by-validation trial is not surely the best config: with validation sets of finite size,
several trials may be indistinguishable. Beside it this reports the trial with the highest
probability of having the best true validation score (the eq. 5 weight over all S trials) and that
probability for both. Ties: a diverged trial loses to an ok one (:attr:`TrialTable.rank_val`); among
trials with the same validation score (or the same weight), the lowest trial index is reported. Without set sizes there is no noise model and no probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.efficiency import noise_rows
from analysis.table import TrialTable


@dataclass(frozen=True)
class TrialChoice:
    """One trial and, with the noise model, the probability that it truly is the best."""

    trial_index: int
    val_score: float
    test_score: float
    p_best: float | None


@dataclass(frozen=True, eq=False)
class BestChoice:
    """The best-by-validation trial, the most probably best trial, and P(best) for every trial."""

    by_validation: TrialChoice
    most_probable: TrialChoice | None
    weights: np.ndarray | None

    def ranking(self, table: TrialTable, top: int = 20) -> tuple[TrialChoice, ...]:
        """The ``top`` trials by P(best) (by validation score without the noise model)."""
        key = self.weights if self.weights is not None else table.rank_val
        order = np.lexsort((table.trial_index, -key))[:top]
        return tuple(_choice(table, int(i), self.weights) for i in order)


def best_choice(table: TrialTable) -> BestChoice:
    """Eq. 5 weights over all of ``table``'s trials and the two choices (module docstring)."""
    weights = None
    if table.has_set_sizes:
        weights = noise_rows(table, table.size)[0][0]
        weights.flags.writeable = False
    by_validation = _choice(table, int(np.argmax(table.rank_val)), weights)
    most_probable = None if weights is None else _choice(table, int(np.argmax(weights)), weights)
    return BestChoice(by_validation, most_probable, weights)


def _choice(table: TrialTable, i: int, weights: np.ndarray | None) -> TrialChoice:
    p = None if weights is None else float(weights[i])
    return TrialChoice(int(table.trial_index[i]), float(table.val[i]), float(table.test[i]), p)
