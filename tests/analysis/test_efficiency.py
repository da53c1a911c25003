"""The re-partitioned efficiency curve: its experiments, statistics, noise-aware scores, edge tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from analysis import TrialTable, efficiency_curve
from tests.analysis.tables import table, tables


def test_levels_are_powers_of_two_with_disjoint_consecutive_experiments():
    val = np.arange(11) / 20
    test = val[::-1].copy()
    curve = efficiency_curve(TrialTable.from_frame(table(val, test), mode="max"))
    assert [lvl.s for lvl in curve.levels] == [1, 2, 4, 8]
    assert [lvl.experiments for lvl in curve.levels] == [11, 5, 2, 1]
    # s = 4: trials 0-3 and 4-7, best by validation is the last of each, test = reversed val
    np.testing.assert_allclose(curve.levels[2].values, [test[3], test[7]])
    assert curve.best_of_all == pytest.approx(test[10]) and curve.band is None


def test_ties_use_the_mean_test_score_of_the_tied_trials():
    curve = efficiency_curve(TrialTable.from_frame(table([0.5, 0.5, 0.1, 0.2], [0.6, 0.8, 0.9, 0.1]), mode="max"))
    assert curve.levels[1].values.tolist() == pytest.approx([0.7, 0.1])
    assert curve.levels[2].values.tolist() == pytest.approx([0.7])


def test_min_mode_picks_lowest_validation_loss():
    curve = efficiency_curve(TrialTable.from_frame(table([0.3, 0.1, 0.2, 0.4], [0.33, 0.12, 0.25, 0.5]), mode="min"))
    assert curve.levels[2].values.tolist() == pytest.approx([0.12])
    assert curve.levels[0].row()["mean"] == pytest.approx(np.mean([0.33, 0.12, 0.25, 0.5]))


def test_row_statistics_and_exact_expectation(synthetic):
    t = TrialTable.from_frame(synthetic, mode="max")
    curve = efficiency_curve(t)
    for lvl in curve.levels:
        row = lvl.row()
        assert set(row) >= {"s", "experiments", "mean", "median", "q1", "q3", "min", "max", "expected_best"}
        assert row["min"] <= row["q1"] <= row["median"] <= row["q3"] <= row["max"]
        assert row["experiments"] == t.size // row["s"]
    assert curve.levels[0].row()["mean"] == pytest.approx(curve.levels[0].expected_best)
    assert curve.band is not None and 0 < curve.band.sd < 0.05


def test_noise_aware_scores_close_to_best_by_validation_for_large_sets(synthetic):
    big = synthetic.assign(val_n=10**12, test_n=10**12)
    for lvl in efficiency_curve(TrialTable.from_frame(big, mode="max")).levels:
        np.testing.assert_allclose(lvl.noise_means, lvl.values, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(tables())
def test_random_tables(args):
    frame, mode = args
    t = TrialTable.from_frame(frame, mode=mode)
    curve = efficiency_curve(t)
    assert curve.levels[-1].s <= t.size < 2 * curve.levels[-1].s
    for lvl in curve.levels:
        assert lvl.experiments == t.size // lvl.s
        assert t.test.min() - 1e-12 <= lvl.values.min() and lvl.values.max() <= t.test.max() + 1e-12
        if t.has_set_sizes:
            assert np.isfinite(lvl.noise_means).all() and (lvl.noise_sds >= 0).all()
    assert (curve.band is not None) == t.has_set_sizes
