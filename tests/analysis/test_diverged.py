"""Diverged trials lose ties: every ranking by validation puts them below an ok trial of equal score."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from analysis import TrialTable, best_choice, best_probabilities, binomial_variance, efficiency_curve, expected_best, noise_aware
from analysis.efficiency import best_by_validation, noise_rows
from tests.analysis.tables import table, tables

NAN = np.nan


def _minimal(mode: str = "max") -> TrialTable:
    # the case: the diverged trial sits at the worst ok validation (0.5) and worst ok test (0.4)
    frame = table([0.5, 0.6, NAN], [0.9, 0.4, NAN], status=["ok", "ok", "diverged"])
    return TrialTable.from_frame(frame, mode=mode)


def test_expected_best_of_two_in_the_minimal_case():
    t = _minimal()
    assert t.val.tolist() == [0.5, 0.6, 0.5] and t.test.tolist() == [0.9, 0.4, 0.4]
    (e,) = expected_best(t.rank_val, t.test, [2])
    # pairs {0,1} → 0.4, {0,2} → trial 0 wins the tie → 0.9, {1,2} → 0.4 (it was 0.4833 with the tie shared)
    assert e.mean == pytest.approx(1.7 / 3) and round(e.mean, 4) == 0.5667
    (r,) = expected_best(t.rank_val, t.test, [2], replacement=True)
    # ordered draws: worst (diverged) only 1/9 → 0.4; trial 0 best 3/9 → 0.9; trial 1 best 5/9 → 0.4
    assert r.mean == pytest.approx((0.4 + 3 * 0.9 + 5 * 0.4) / 9)


def test_min_mode():
    frame = table([0.6, 0.5, NAN], [0.1, 0.9, NAN], status=["ok", "ok", "diverged"])
    t = TrialTable.from_frame(frame, mode="min")  # the diverged trial: loss 0.6, test 0.9
    (e,) = expected_best(t.rank_val, t.test, [2])
    assert e.mean == pytest.approx((0.9 + 0.1 + 0.9) / 3)  # tie {0,2} → trial 0's 0.1, not (0.1 + 0.9) / 2


def test_efficiency_experiments_and_best_choice():
    frame = table([NAN, 0.5, 0.6, 0.55], [NAN, 0.9, 0.4, 0.3], status=["diverged", "ok", "ok", "ok"])
    t = TrialTable.from_frame(frame, mode="max")
    curve = efficiency_curve(t)
    assert curve.levels[1].values.tolist() == pytest.approx([0.9, 0.4])  # not (0.4 + 0.9) / 2 for trials 0-1
    assert curve.levels[0].values.tolist() == pytest.approx([0.3, 0.9, 0.4, 0.3])
    only = TrialTable.from_frame(table([NAN, 0.5], [NAN, 0.9], status=["diverged", "ok"]), mode="max")
    choice = best_choice(only)
    assert choice.by_validation.trial_index == 1 and [c.trial_index for c in choice.ranking(only)] == [1, 0]


def test_eq5_weights_leave_diverged_trials_out_beside_ok_ones():
    frame = table([0.8, NAN, 0.82, 0.81, NAN, NAN], [0.7, NAN, 0.75, 0.72, NAN, NAN],
                  status=["ok", "diverged", "ok", "ok", "diverged", "diverged"], val_n=200, test_n=300)
    t = TrialTable.from_frame(frame, mode="max")
    weights, means, _ = noise_rows(t, 3)  # experiments: trials 0-2 (one diverged) and 3-5
    ok_only = best_probabilities(np.array([0.8, 0.82]), np.sqrt(binomial_variance(np.array([0.8, 0.82]), 200)))
    np.testing.assert_allclose(weights[0], [ok_only[0], 0.0, ok_only[1]], atol=1e-12)
    np.testing.assert_allclose(weights[1], [1.0, 0.0, 0.0], atol=1e-12)
    assert means[0] == pytest.approx(ok_only @ [0.7, 0.75])
    all_diverged = noise_aware(t.oriented_val[4:][None], t.val_n[4:][None], t.test[4:][None], t.test_n[4:][None],
                               t.val[4:][None], t.ok[4:][None])[0]
    np.testing.assert_allclose(all_diverged, [[0.5, 0.5]], atol=1e-12)  # no ok trial: weighed as usual
    choice = best_choice(t)
    assert choice.weights[~t.ok].max() == 0.0 and choice.most_probable.trial_index == 2


def test_present_mask_is_validated():
    with pytest.raises(ValueError, match="present"):
        best_probabilities(np.array([0.5, 0.6]), np.array([0.1, 0.1]), np.array([False, False]))


@settings(max_examples=30, deadline=None)
@given(tables())
def test_without_diverged_trials_nothing_changes(args):
    frame, mode = args
    t = TrialTable.from_frame(frame[frame["status"] != "diverged"], mode=mode)
    np.testing.assert_array_equal(t.rank_val, t.oriented_val)
    sizes = range(1, t.size + 1)
    for replacement in (False, True):
        assert expected_best(t.rank_val, t.test, sizes, replacement=replacement) == expected_best(
            t.oriented_val, t.test, sizes, replacement=replacement
        )
    for level in efficiency_curve(t).levels:
        n = t.size // level.s

        def rows(a):
            return a[: n * level.s].reshape(n, level.s)

        np.testing.assert_array_equal(level.values, best_by_validation(rows(t.oriented_val), rows(t.test)))
        if t.has_set_sizes:  # the mixture as computed before diverged trials were masked
            _, means, sds = noise_aware(*map(rows, (t.oriented_val, t.val_n, t.test, t.test_n, t.val)))
            np.testing.assert_array_equal(level.noise_means, means)
            np.testing.assert_array_equal(level.noise_sds, sds)
    assert best_choice(t).by_validation.trial_index == t.trial_index[np.argmax(t.oriented_val)]


@settings(max_examples=30, deadline=None)
@given(tables())
def test_a_diverged_trial_ranks_as_an_ok_trial_just_below_the_worst(args):
    frame, mode = args
    frame = frame.drop(columns=["val_n", "test_n"], errors="ignore")
    t = TrialTable.from_frame(frame, mode=mode)
    # the same table with each diverged trial an ok trial 0.1 worse in validation than the worst ok trial
    stand_in = frame.copy()
    diverged = (stand_in["status"] == "diverged").to_numpy()
    if diverged.any():
        stand_in.loc[diverged, ["status", "val_score", "test_score"]] = ["ok", t.val[~t.ok][0] - 0.1 * t.sign, t.test[~t.ok][0]]
    s = TrialTable.from_frame(stand_in, mode=mode)
    np.testing.assert_array_equal(s.test, t.test)
    sizes = range(1, t.size + 1)
    for replacement in (False, True):
        ours = expected_best(t.rank_val, t.test, sizes, replacement=replacement)
        theirs = expected_best(s.oriented_val, s.test, sizes, replacement=replacement)
        np.testing.assert_allclose([e.mean for e in ours], [e.mean for e in theirs], atol=1e-12)
        np.testing.assert_allclose([e.sd for e in ours], [e.sd for e in theirs], atol=1e-7)
    for ours, theirs in zip(efficiency_curve(t).levels, efficiency_curve(s).levels, strict=True):
        np.testing.assert_allclose(ours.values, theirs.values, atol=1e-12)
    assert best_choice(t).by_validation.trial_index == best_choice(s).by_validation.trial_index
    assert [c.trial_index for c in best_choice(t).ranking(t)] == [c.trial_index for c in best_choice(s).ranking(s)]
