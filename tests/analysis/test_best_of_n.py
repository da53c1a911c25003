"""Exact expected best-of-n against random subsets, sampling with replacement, and large S."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import expected_best, rank_probabilities
from analysis.efficiency import best_by_validation


def _subsets_mean(val, test, n, draws, rng, replace=False):
    if replace:
        idx = rng.integers(0, len(val), size=(draws, n))
    else:
        idx = np.argsort(rng.random((draws, len(val))), axis=1)[:, :n]
    values = best_by_validation(val[idx], test[idx])
    return values.mean(), values.std() / np.sqrt(draws)


@pytest.mark.parametrize("n", [1, 3, 8, 20])
def test_exact_equals_mean_over_random_subsets(n):
    rng = np.random.default_rng(n)
    val = np.round(rng.uniform(0.5, 0.9, 60), 2)  # rounding makes ties
    test = val + rng.normal(0, 0.03, 60)
    (exact,) = expected_best(val, test, [n])
    mc, se = _subsets_mean(val, test, n, 40_000, rng)
    assert abs(exact.mean - mc) < 4 * se + 1e-12
    (with_replacement,) = expected_best(val, test, [n], replacement=True)
    mc, se = _subsets_mean(val, test, n, 40_000, rng, replace=True)
    assert abs(with_replacement.mean - mc) < 4 * se + 1e-12


def test_sd_is_that_of_the_random_tie_break_choice():
    val = np.array([0.1, 0.5, 0.5, 0.9, 0.9, 0.3])
    test = np.array([0.2, 0.4, 0.6, 0.7, 0.9, 0.1])
    rng = np.random.default_rng(0)
    idx = np.argsort(rng.random((200_000, 6)), axis=1)[:, :3]
    v, t = val[idx], test[idx]
    top = (v == v.max(axis=1, keepdims=True)) * rng.random(v.shape)  # a random tied trial wins
    chosen = t[np.arange(len(t)), top.argmax(axis=1)]
    (e,) = expected_best(val, test, [3])
    assert abs(e.mean - chosen.mean()) < 0.002 and abs(e.sd - chosen.std()) < 0.002


def test_n_equal_s_is_the_best_trial_and_n_one_the_mean():
    val, test = np.array([0.3, 0.8, 0.5]), np.array([0.2, 0.7, 0.9])
    first, last = expected_best(val, test, [1, 3])
    assert first.mean == pytest.approx(test.mean()) and last.mean == pytest.approx(0.7) and last.sd == pytest.approx(0.0, abs=1e-7)


def test_min_mode_via_oriented_scores():
    loss, test = np.array([0.3, 0.1, 0.2]), np.array([0.35, 0.12, 0.5])
    (e,) = expected_best(-loss, test, [3])
    assert e.mean == pytest.approx(0.12)


@pytest.mark.parametrize("size", [1, 7, 1000, 100_000])
def test_rank_probabilities_are_stable_for_large_s(size):
    for n in {1, min(2, size), max(1, size // 3), size}:
        for replacement in (False, True):
            p = rank_probabilities(size, n, replacement=replacement)
            assert np.isfinite(p).all() and (p >= 0).all() and abs(p.sum() - 1) < 1e-9
    p = rank_probabilities(100_000, 50_000)
    assert p[:49_999].max() == 0 and p[-1] == pytest.approx(0.5, abs=1e-9)  # the best is in half the subsets


def test_rank_probabilities_match_binomials_for_small_s():
    from math import comb

    p = rank_probabilities(10, 4)
    np.testing.assert_allclose(p, [comb(j - 1, 3) / comb(10, 4) for j in range(1, 11)], rtol=1e-12, atol=1e-15)
    p = rank_probabilities(10, 4, replacement=True)
    np.testing.assert_allclose(p, [(j / 10) ** 4 - ((j - 1) / 10) ** 4 for j in range(1, 11)], rtol=1e-12)
    with pytest.raises(ValueError):
        rank_probabilities(10, 11)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.2, 0.2, 0.5]), st.floats(0, 1)), min_size=1, max_size=30))
def test_expected_best_properties(rows):
    val, test = np.array([v for v, _ in rows]), np.array([t for _, t in rows])
    for replacement in (False, True):
        curve = expected_best(val, test, range(1, len(val) + 1), replacement=replacement)
        for e in curve:
            assert test.min() - 1e-9 <= e.mean <= test.max() + 1e-9 and e.sd >= 0
    best = test[val == val.max()].mean()
    assert curve[-1].mean <= test.max() + 1e-9 and expected_best(val, test, [len(val)])[0].mean == pytest.approx(best)
