"""Eq. 5–6: the integrated weights against Monte Carlo and quadrature, edge cases, the mixture."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from analysis import best_probabilities, best_probabilities_mc, binomial_variance, mixture, noise_aware
from analysis.efficiency import best_by_validation
from analysis.noise import _integrated

DRAWS = 4_000_000  # Monte-Carlo standard error ≤ 0.5/√DRAWS = 2.5e-4 per weight


def _accuracy_trials(rng, s, low=0.8, high=0.9):
    mean = rng.uniform(low, high, s)
    return mean, np.sqrt(binomial_variance(mean, rng.integers(50, 3000, s)))


@pytest.mark.parametrize("seed", range(4))
def test_integration_agrees_with_monte_carlo(seed):
    rng = np.random.default_rng(seed)
    mean, sd = _accuracy_trials(rng, int(rng.integers(2, 7)))
    np.testing.assert_allclose(best_probabilities(mean, sd), best_probabilities_mc(mean, sd, draws=DRAWS, seed=seed), atol=1e-3)


def test_point_masses_agree_with_monte_carlo():
    mean = np.array([0.88, 0.88, 0.86, 0.87, 0.89])
    sd = np.array([0.0, 0.0, 0.0, 0.01, 0.006])  # v = 0 or 1 would give these zero variances
    w = best_probabilities(mean, sd)
    np.testing.assert_allclose(w, best_probabilities_mc(mean, sd, draws=DRAWS), atol=1e-3)
    assert w[0] == w[1] and w[2] == 0.0


def _quadrature(mean, sd, i):
    others = [stats.norm(m, s) for j, (m, s) in enumerate(zip(mean, sd)) if j != i]
    f = lambda x: stats.norm.pdf(x, mean[i], sd[i]) * np.prod([o.cdf(x) for o in others])  # noqa: E731
    return integrate.quad(f, mean[i] - 12 * sd[i], mean[i] + 12 * sd[i], epsabs=1e-13, limit=200)[0]


def test_integration_agrees_with_adaptive_quadrature_to_1e_7():
    rng = np.random.default_rng(7)
    mean, sd = _accuracy_trials(rng, 8)
    sd[0] = sd[1] / 50  # a very different width
    w = _integrated(mean[None], sd[None])[0]
    np.testing.assert_allclose(w, [_quadrature(mean, sd, i) for i in range(8)], atol=1e-7)


def test_closed_form_for_two_trials_and_symmetry():
    mean, sd = np.array([0.7, 0.72]), np.array([0.02, 0.03])
    expected = stats.norm.cdf((0.7 - 0.72) / np.hypot(0.02, 0.03))
    np.testing.assert_allclose(best_probabilities(mean, sd)[0], expected, atol=1e-9)
    np.testing.assert_allclose(best_probabilities(np.full(5, 0.5), np.full(5, 0.01)), np.full(5, 0.2), atol=1e-9)
    np.testing.assert_array_equal(best_probabilities(np.array([0.3, 0.5, 0.5]), np.zeros(3)), [0, 0.5, 0.5])


def test_rows_are_independent_experiments():
    rng = np.random.default_rng(1)
    mean, sd = _accuracy_trials(rng, 24)
    rows = best_probabilities(mean.reshape(4, 6), sd.reshape(4, 6))
    for r in range(4):
        np.testing.assert_allclose(rows[r], best_probabilities(mean[6 * r : 6 * r + 6], sd[6 * r : 6 * r + 6]), atol=1e-12)


def test_huge_validation_sets_reduce_eq5_to_best_by_validation():
    rng = np.random.default_rng(2)
    val = rng.choice([0.81, 0.82, 0.83, 0.84], size=(50, 8))  # many ties inside experiments
    test = rng.uniform(0.7, 0.9, size=(50, 8))
    _, mu, sd = noise_aware(val, np.full(val.shape, 1e15), test, np.full(val.shape, 1e15), val)
    np.testing.assert_allclose(mu, best_by_validation(val, test), atol=1e-9)
    assert sd.max() < 0.2  # the spread among tied trials' test scores only


def test_mixture_moments_match_sampling():
    w, t, var = np.array([0.2, 0.5, 0.3]), np.array([0.8, 0.85, 0.9]), np.array([1e-4, 4e-4, 2e-4])
    mu, sd = mixture(w, t, var)
    rng = np.random.default_rng(0)
    k = rng.choice(3, size=2_000_000, p=w)
    draws = rng.normal(t[k], np.sqrt(var[k]))
    assert abs(mu - draws.mean()) < 1e-4 and abs(sd - draws.std()) < 1e-4


def test_large_experiment_is_normalised_and_ranks_by_mean():
    rng = np.random.default_rng(3)
    mean = rng.uniform(0.3, 0.9, 100_000)
    sd = np.full_like(mean, 0.005)
    w = _integrated(mean[None], sd[None])[0]
    assert abs(w.sum() - 1) < 1e-9 and w.argmax() == mean.argmax()
    assert (w[mean < mean.max() - 8 * 0.005 * np.sqrt(2)] < 1e-12).all()


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        best_probabilities(np.array([0.5, 0.6]), np.array([0.1]))
    with pytest.raises(ValueError, match="sd"):
        best_probabilities(np.array([0.5, 0.6]), np.array([0.1, -0.1]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.5, 0.52, 0.9, 1.0]), st.sampled_from([2, 10, 1000, 10**6])), min_size=1, max_size=12)
)
def test_weights_are_probabilities(trials):
    val = np.array([v for v, _ in trials])
    sd = np.sqrt(binomial_variance(val, np.array([n for _, n in trials])))
    w = _integrated(val[None], sd[None])[0]
    assert abs(w.sum() - 1) < 1e-6  # before normalisation: the quadrature itself is accurate
    w = best_probabilities(val, sd)
    assert (w >= 0).all() and (w <= 1).all() and abs(w.sum() - 1) < 1e-12
    same = (val[:, None] == val[None, :]) & (sd[:, None] == sd[None, :])
    assert np.allclose(w[:, None] * same, w[None, :] * same, atol=1e-12)  # identical trials, identical weights
    order = np.random.default_rng(0).permutation(len(val))
    np.testing.assert_allclose(best_probabilities(val[order], sd[order]), w[order], atol=1e-12)
