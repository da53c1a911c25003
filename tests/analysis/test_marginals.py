"""Marginal effects: per category/bin means with t intervals, and the interactions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis import TrialTable, marginal_effects
from analysis.marginals import mean_ci
from tests.analysis.tables import table


def test_mean_ci_is_the_t_interval():
    x = np.array([0.5, 0.6, 0.7, 0.65])
    mean, low, high = mean_ci(x)
    ref = stats.t.interval(0.95, 3, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean()) and (low, high) == pytest.approx(ref)
    assert mean_ci(np.array([0.3])) == (0.3, None, None)


def test_intervals_of_proportions_stay_within_0_and_1():
    two = np.array([0.1, 0.9])  # t interval of 2 trials: 0.5 ± 5.08
    assert mean_ci(two)[1] < -4 and mean_ci(two)[2] > 5
    assert mean_ci(two, (0.0, 1.0)) == (0.5, 0.0, 1.0)
    narrow = np.array([0.5, 0.6, 0.7, 0.65])
    assert mean_ci(narrow, (0.0, 1.0)) == mean_ci(narrow)  # inside: untouched
    frame = table([0.1, 0.9, 0.2, 0.8], [0.5] * 4, val_n=100, test_n=100, units=[8, 8, 64, 64])
    for marginal in marginal_effects(TrialTable.from_frame(frame, mode="max")):
        assert all(0.0 <= p.ci_low <= p.mean <= p.ci_high <= 1.0 for p in marginal.points)


def test_categories_discrete_values_bins_and_interactions(synthetic):
    t = TrialTable.from_frame(synthetic, mode="max")
    marginals = {(m.param, m.by): m for m in marginal_effects(t)}
    assert list(marginals)[:6] == [(p, None) for p in ("units", "layers", "dropout_placement", "dropout", "optimizer", "lr")]
    layers = marginals[("layers", None)]
    assert layers.discrete and [p.x for p in layers.points] == [1, 2, 3, 4]
    for p in layers.points:
        scores = t.val[t.params["layers"].to_numpy() == p.x]
        assert p.n == len(scores) and p.mean == pytest.approx(scores.mean())
    lr = marginals[("lr", None)]
    assert lr.numeric and lr.log and not lr.discrete and len(lr.points) == 5 and sum(p.n for p in lr.points) == t.size
    by = marginals[("lr", "optimizer")]
    assert {p.group for p in by.points} == {"adam", "rmsprop", "sgd"} and sum(p.n for p in by.points) == t.size
    dropout = marginals[("dropout", "dropout_placement")]
    assert "none" not in {p.group for p in dropout.points}  # inactive there
    assert sum(p.n for p in dropout.points) == int(t.params["dropout"].notna().sum())


def test_generic_params_and_no_params():
    t = TrialTable.from_frame(table([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], act=["relu", "tanh", "relu"]), mode="max")
    (act,) = marginal_effects(t)
    assert [(p.label, p.n) for p in act.points] == [("relu", 2), ("tanh", 1)] and act.points[1].ci_low is None
    assert marginal_effects(TrialTable.from_frame(table([0.1], [0.1]), mode="max")) == ()
