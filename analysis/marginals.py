"""Marginal effects: the mean validation score, with a 95% confidence interval, per value of a parameter.

For every parameter: per category (categorical parameters, and numeric ones with at most
``DISCRETE_MAX`` distinct values that are integers or repeat, e.g. ``layers`` or a grid's values,
not a few random floats), or per quantile bin of its values (numeric ones,
bins equal in count, on the log scale for log distributions). Each point is the mean validation
score of the trials in it with the t interval mean ± t_{0.975, n−1}·sd/√n (none for n = 1), clipped
to [0, 1] when the scores are proportions (the table has set sizes): the mean of a few proportions
cannot leave it, though the t interval of 2 trials easily does.

Interactions (the LSTM questions: dropout rate by placement, learning rate by optimizer) are the
same per bin of the first parameter, one line per category of the second; the bins are shared by
all lines. Only trials where the parameters are active count (``dropout`` has no value when the
placement is none, so that line is absent). Diverged trials count at the worst score (see
:mod:`analysis.table`), which is the cost of choosing such a config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from analysis.space import ParamSpace, param_space
from analysis.table import TrialTable

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

#: (parameter on the x axis, parameter whose categories make the lines)
INTERACTIONS: tuple[tuple[str, str], ...] = (("dropout", "dropout_placement"), ("lr", "optimizer"))
#: the LSTM questions first; other parameters follow in table order
PREFERRED_ORDER = ("units", "layers", "dropout_placement", "dropout", "optimizer", "lr")
DISCRETE_MAX = 8


@dataclass(frozen=True)
class MarginalPoint:
    """Trials in one category or bin (of one line): count, mean score and its 95% CI."""

    label: str
    x: float | None
    group: str | None
    n: int
    mean: float
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Marginal:
    """The points of one parameter (``by`` is None) or one interaction (one line per ``by`` category).

    ``numeric``: points have x positions; ``discrete``: one point per distinct value, not per bin;
    ``integer``: the parameter takes integer values (an ``IntDistribution``).
    """

    param: str
    by: str | None
    numeric: bool
    discrete: bool
    log: bool
    points: tuple[MarginalPoint, ...]
    integer: bool = False


def marginal_effects(
    table: TrialTable,
    distributions: Mapping[str, BaseDistribution] | None = None,
    *,
    interactions: Sequence[tuple[str, str]] = INTERACTIONS,
    bins: int = 5,
) -> tuple[Marginal, ...]:
    """One-way marginals of every parameter, then the ``interactions`` whose parameters both exist."""
    space = param_space(table.params, distributions)
    names = [p for p in PREFERRED_ORDER if p in space.names] + [p for p in space.names if p not in PREFERRED_ORDER]
    bounds = (0.0, 1.0) if table.has_set_sizes else None
    pairs = [(p, None) for p in names] + [(x, by) for x, by in interactions if x in space.names and by in space.names]
    return tuple(_marginal(table.val, space, x, by, bins, bounds) for x, by in pairs)


def mean_ci(scores: np.ndarray, bounds: tuple[float, float] | None = None) -> tuple[float, float | None, float | None]:
    """Mean and 95% t interval of ``scores`` (no interval for a single score), clipped to ``bounds``."""
    n, mean = len(scores), float(np.mean(scores))
    if n < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.975, n - 1) * np.std(scores, ddof=1) / np.sqrt(n))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, low, high


def _marginal(scores: np.ndarray, space: ParamSpace, param: str, by: str | None, bins: int,
              bounds: tuple[float, float] | None) -> Marginal:
    active = space.active(param) & (space.active(by) if by else True)
    codes, labels, xs, numeric = _binned(space, param, active, bins)
    discrete = numeric and _discrete(space.values[param].to_numpy()[active].astype(float))
    groups = [None]
    if by:
        group_codes, group_labels, _, _ = _binned(space, by, active, bins)
        groups = list(range(len(group_labels)))
    points = []
    for g in groups:
        for b, (label, x) in enumerate(zip(labels, xs)):
            inside = codes == b if g is None else (codes == b) & (group_codes == g)
            if inside.any():
                mean, low, high = mean_ci(scores[active][inside], bounds)
                name = None if g is None else group_labels[g]
                points.append(MarginalPoint(label, x, name, int(inside.sum()), mean, low, high))
    integer = numeric and space.is_integer(param)
    return Marginal(param, by, numeric, discrete, numeric and space.is_log(param), tuple(points), integer)


def _discrete(numbers: np.ndarray) -> bool:
    """One point per value: at most ``DISCRETE_MAX`` values, integers or repeated (a grid), not a few random floats."""
    distinct = np.unique(numbers)
    return len(distinct) <= DISCRETE_MAX and (bool(np.all(distinct == np.round(distinct))) or len(distinct) < len(numbers))


def _binned(
    space: ParamSpace, param: str, active: np.ndarray, bins: int
) -> tuple[np.ndarray, list[str], list[float | None], bool]:
    """Code (bin or category number) of each active trial, and each code's label and x position."""
    values = space.values[param].to_numpy()[active]
    if space.is_categorical(param):
        seen = set(values)
        choices = [c for c in space.distributions[param].choices if c in seen]  # type: ignore[attr-defined]
        index = {c: i for i, c in enumerate(choices)}
        codes = np.array([index[v] for v in values], dtype=int)
        return codes, [str(c) for c in choices], [None] * len(choices), False
    numbers = values.astype(float)
    if _discrete(numbers):
        distinct = np.unique(numbers)
        return np.searchsorted(distinct, numbers), [f"{v:g}" for v in distinct], [float(v) for v in distinct], True
    scale = np.log(numbers) if space.is_log(param) else numbers
    edges = np.unique(np.quantile(scale, np.linspace(0, 1, bins + 1)))
    codes = np.clip(np.searchsorted(edges, scale, side="right") - 1, 0, len(edges) - 2)
    labels, xs = [], []
    for b in range(len(edges) - 1):
        inside = numbers[codes == b]
        low, high = (f"{v:.3g}" for v in (inside.min(), inside.max())) if len(inside) else ("", "")
        labels.append(low if low == high else f"{low}–{high}")
        xs.append(float(np.median(inside)) if len(inside) else None)
    return codes, labels, xs, True
