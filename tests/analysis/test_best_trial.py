"""The noise-aware choice of the best trial (eq. 5 over all trials)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import TrialTable, best_choice, best_probabilities_mc, binomial_variance
from tests.analysis.tables import table


def test_most_probable_trial_and_its_probability():
    # trial 0 is best by validation but ten precise trials sit just below it; trial 11, lower on a
    # tiny validation set, is more probably the truly best
    val = [0.95] + [0.949] * 10 + [0.94]
    frame = table(val, [0.9] * 12, val_n=[47_500] * 11 + [23], test_n=1000)
    t = TrialTable.from_frame(frame, mode="max")
    choice = best_choice(t)
    assert choice.by_validation.trial_index == 0 and choice.most_probable.trial_index == 11
    assert choice.most_probable.p_best > 0.3 > choice.by_validation.p_best
    mc = best_probabilities_mc(t.val, np.sqrt(binomial_variance(t.val, t.val_n)), draws=1_000_000)
    assert choice.weights == pytest.approx(mc, abs=2e-3)
    assert [c.trial_index for c in choice.ranking(t, top=2)] == [11, 0]


def test_ties_report_the_lowest_trial_index_and_no_probabilities_without_sizes():
    frame = table([0.5, 0.9, 0.9], [0.1, 0.2, 0.3])
    frame["trial_index"] = [7, 5, 3]
    choice = best_choice(TrialTable.from_frame(frame, mode="max"))
    assert choice.by_validation.trial_index == 3 and choice.by_validation.p_best is None
    assert choice.most_probable is None and choice.weights is None
