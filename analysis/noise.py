"""The noise model of Bergstra & Bengio (JMLR 2012) eq. 5–6: which trial is truly best, and its test score.

A validation score v measured on n examples is modelled as N(v, v(1−v)/(n−1)); the test score t
likewise with the test set size. Given the trials of one experiment,

    w_i = P(trial i has the best true validation score) = ∫ φ_i(x) Π_{j≠i} Φ_j(x) dx      (eq. 5)

and the experiment's score is the Gaussian mixture Σ w_i N(t_i, σ_i²), with mean μ = Σ w_i t_i and
variance σ² = Σ w_i (σ_i² + t_i²) − μ² (eq. 6).

The integral is computed on one uniform grid per experiment: Σ_j log Φ_j(x) once
(``scipy.special.log_ndtr``), minus log Φ_i(x) for each i — O(s·G), no products of tiny numbers.
The grid spans [max_i(m_i − 8σ_i), max_i(m_i + 8σ_i)] (the maximum lies below it with probability
< 1e-15), with at least two points per standard deviation of the narrowest trial that can still
win there, times √(2 ln k) for k such trials (their maximum is that much narrower); the trapezoid rule converges geometrically for such smooth, decaying integrands and is
then accurate to ~1e-9. Trials that cannot reach the window are left out (weight < 1e-15). A zero variance (v = 0 or 1) is a point mass and is
handled exactly: point masses below the highest one never win; the highest one(s) win, shared
equally, when every continuous trial falls below them (the other integrals then start at that
point; a 16× finer grid and end corrections keep that edge's error ~1e-8). Only where the grid would need more than 4096 points (standard
deviations differing by a factor above ~128) is the narrowest one widened to the grid's
resolution, an error of order (its sd / the widest sd)² < 1e-4. Weights are normalised to sum to 1.

:func:`best_probabilities_mc` samples the same model; tests use it to check the integration.
Scores are "larger is better" here: for ``min`` mode pass the negated validation scores.

Diverged trials (``ok`` False in :func:`noise_aware`) have no validation score to be noisy about: they
sit at the worst ``ok`` score only by convention and rank below every ``ok`` trial, so they are left
out of eq. 5 (weight 0) in each experiment that has an ``ok`` trial; an experiment of diverged trials
only weighs them as usual (they all sit at the same score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

_WINDOW = 8.0  # half-width of the integration window, in standard deviations
_POINTS_PER_SD = 2.0
_MIN_POINTS, _MAX_POINTS = 33, 4097
_CUT_REFINEMENT = 16.0
_CHUNK_ELEMENTS = 1 << 21  # rows × trials × grid points evaluated at once (bounds memory)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class NoiseEstimate:
    """The eq. 5–6 mixture over a set of trials: mean and standard deviation of the test score."""

    mean: float
    sd: float

    @property
    def low(self) -> float:
        return self.mean - 1.96 * self.sd

    @property
    def high(self) -> float:
        return self.mean + 1.96 * self.sd


def binomial_variance(score: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Variance of a proportion ``score`` measured on ``n`` examples: p(1−p)/(n−1)."""
    score = np.asarray(score, dtype=float)
    return np.clip(score * (1.0 - score), 0.0, None) / (np.asarray(n, dtype=float) - 1.0)


def best_probabilities(mean: np.ndarray, sd: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Eq. 5 by numerical integration: P(X_i is the largest) for independent X_i ~ N(mean_i, sd_i²).

    ``mean`` and ``sd`` have shape (s,) for one experiment or (N, s) for N experiments of s trials.
    ``present`` (same shape, boolean) leaves the trials where it is False out: weight 0, as if absent;
    each experiment needs one present trial. Returns weights of the same shape; each experiment's
    weights sum to 1.
    """
    means, sds = _as_rows(mean, sd)
    rows = np.ones(means.shape, dtype=bool) if present is None else np.atleast_2d(np.asarray(present, dtype=bool))
    if rows.shape != means.shape or not rows.any(axis=1).all():
        raise ValueError(f"present must have the shape of mean, {np.shape(mean)}, and a True in each experiment.")
    w = _integrated(means, sds, rows)
    w /= w.sum(axis=1, keepdims=True)
    return w.reshape(np.shape(mean))


def best_probabilities_mc(
    mean: np.ndarray, sd: np.ndarray, *, draws: int = 200_000, seed: int = 0
) -> np.ndarray:
    """Eq. 5 by Monte Carlo (for cross-checks): the share of draws in which each X_i is the largest.

    Exact ties (point masses) are shared equally. Standard error ≤ 0.5/√draws per weight.
    """
    means, sds = _as_rows(mean, sd)
    rng = np.random.default_rng(seed)
    w = np.zeros_like(means)
    batch = max(1, _CHUNK_ELEMENTS // means.shape[1])
    for r in range(len(means)):
        for start in range(0, draws, batch):
            x = rng.normal(means[r], sds[r], size=(min(batch, draws - start), means.shape[1]))
            top = x == x.max(axis=1, keepdims=True)
            w[r] += (top / top.sum(axis=1, keepdims=True)).sum(axis=0)
    return (w / draws).reshape(np.shape(mean))


def mixture(weights: np.ndarray, test: np.ndarray, test_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 6: mean and sd of Σ w_i N(t_i, σ_i²) along the last axis."""
    mu = (weights * test).sum(axis=-1)
    second = (weights * (test_var + test**2)).sum(axis=-1)
    return mu, np.sqrt(np.clip(second - mu**2, 0.0, None))


def noise_aware(
    oriented_val: np.ndarray,
    val_n: np.ndarray,
    test: np.ndarray,
    test_n: np.ndarray,
    raw_val: np.ndarray,
    ok: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 5–6 for experiments laid out as rows: returns (weights, mixture means, mixture sds).

    ``raw_val`` gives the variances (v(1−v) uses the score itself, not its orientation). ``ok`` False
    marks diverged trials: weight 0 in each row that has an ok trial (module docstring).
    """
    present = None
    if ok is not None:
        ok = np.asarray(ok, dtype=bool)
        present = ok | ~ok.any(axis=-1, keepdims=True)
    weights = best_probabilities(oriented_val, np.sqrt(binomial_variance(raw_val, val_n)), present)
    mu, sd = mixture(weights, test, binomial_variance(test, test_n))
    return weights, mu, sd


# --- the integration engine ----------------------------------------------------------------------


def _as_rows(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    if mean.shape != sd.shape or mean.ndim not in (1, 2) or mean.shape[-1] == 0:
        raise ValueError(f"mean and sd must have the same shape (s,) or (N, s) with s ≥ 1; got {mean.shape} and {sd.shape}.")
    if not (np.isfinite(mean).all() and np.isfinite(sd).all() and (sd >= 0).all()):
        raise ValueError("mean must be finite and sd finite and ≥ 0.")
    return np.atleast_2d(mean), np.atleast_2d(sd)


def _integrated(mean: np.ndarray, sd: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Unnormalised eq. 5 weights per row (0 where not ``present``); rows sum to 1 up to quadrature error (< 1e-10)."""
    rows, s = mean.shape
    if s == 1:
        return np.ones_like(mean)
    if present is None:
        present = np.ones(mean.shape, dtype=bool)
    point = (sd == 0) & present
    cont = (sd > 0) & present
    top_point = np.where(point, mean, -np.inf).max(axis=1)  # −inf: no point mass in the row
    lo, hi = _window(mean, sd, cont, top_point)
    # widen what the largest grid cannot resolve (module docstring), then place the window again
    sd = np.where(cont, np.maximum(sd, (hi - lo)[:, None] * _POINTS_PER_SD / (_MAX_POINTS - 1)), 0.0)
    lo, hi = _window(mean, sd, cont, top_point)
    reach = cont & (mean + _WINDOW * sd >= lo[:, None])
    narrowest = np.where(reach, sd, np.inf).min(axis=1)
    # a point mass inside the window cuts the integrands off at lo: finer grid for that edge
    cut = top_point > np.where(cont, mean - _WINDOW * sd, -np.inf).max(axis=1)
    # the maximum of k overlapping trials is narrower than each, by ~√(2 ln k)
    sharpening = np.sqrt(np.maximum(1.0, 2.0 * np.log(np.maximum(reach.sum(axis=1), 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.nan_to_num((hi - lo) / narrowest * _POINTS_PER_SD * sharpening, nan=0.0, posinf=0.0)
    needed *= np.where(cut, _CUT_REFINEMENT, 1.0)
    points = np.clip(2 ** np.ceil(np.log2(np.maximum(needed, 1.0))) + 1, _MIN_POINTS, _MAX_POINTS).astype(int)
    w = np.zeros_like(mean)
    for g in np.unique(points):
        rows_g = np.flatnonzero(points == g)
        k = int(reach[rows_g].sum(axis=1).max())
        if k == 0:
            continue
        # the k trials of each row that reach the window furthest; rows with fewer carry absent ones
        cols = np.argsort(-np.where(reach[rows_g], mean[rows_g] + _WINDOW * sd[rows_g], -np.inf), axis=1)[:, :k]
        per_chunk = max(1, _CHUNK_ELEMENTS // (k * g))
        for start in range(0, len(rows_g), per_chunk):
            r, c = rows_g[start : start + per_chunk], cols[start : start + per_chunk]
            present = reach[r[:, None], c]
            w[r[:, None], c] = _grid_weights(mean[r[:, None], c], sd[r[:, None], c], present, lo[r], hi[r], g)
    has_point = np.isfinite(top_point)
    if has_point.any():
        m, sdv, c, top = mean[has_point], sd[has_point], cont[has_point], top_point[has_point]
        with np.errstate(divide="ignore", invalid="ignore"):
            below = np.where(c, log_ndtr((top[:, None] - m) / np.where(c, sdv, 1.0)), 0.0).sum(axis=1)
        winners = point[has_point] & (m == top[:, None])
        w[has_point] += winners * (np.exp(below) / winners.sum(axis=1))[:, None]
    return w


def _window(mean: np.ndarray, sd: np.ndarray, cont: np.ndarray, top_point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.maximum(np.where(cont, mean - _WINDOW * sd, -np.inf).max(axis=1), top_point)
    hi = np.maximum(np.where(cont, mean + _WINDOW * sd, -np.inf).max(axis=1), lo)
    return lo, hi


def _grid_weights(
    mean: np.ndarray, sd: np.ndarray, present: np.ndarray, lo: np.ndarray, hi: np.ndarray, points: int
) -> np.ndarray:
    """Trapezoid rule for ∫_lo^hi φ_i Π_{j≠i} Φ_j on ``points`` nodes per row; arrays (rows, k)."""
    step = (hi - lo) / (points - 1)
    sd = np.where(present, sd, 1.0)
    x = lo[:, None] + step[:, None] * np.arange(points)  # (rows, G)
    z = (x[:, None, :] - mean[:, :, None]) / sd[:, :, None]  # (rows, k, G)
    log_cdf = np.where(present[:, :, None], log_ndtr(z), 0.0)
    total = log_cdf.sum(axis=1, keepdims=True)
    integrand = np.exp(total - log_cdf - 0.5 * z * z - _LOG_SQRT_2PI) / sd[:, :, None]
    return np.where(present, integrand @ _end_corrected_weights(points) * step[:, None], 0.0)


def _end_corrected_weights(points: int) -> np.ndarray:
    """Trapezoid weights with O(h⁴) end corrections (Numerical Recipes eq. 4.1.14): exact to h⁴ where a
    point mass cuts the integrand off at the window's edge; the same as the trapezoid where it has decayed."""
    weights = np.ones(points)
    weights[:3] = weights[-3:][::-1] = (3 / 8, 7 / 6, 23 / 24)
    return weights
