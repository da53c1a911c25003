"""What matters: hyperparameter importance by fANOVA (Hutter et al. 2014) through optuna.

The trials become frozen optuna trials (``optuna.trial.create_trial``) with the validation score as
value (diverged trials at the worst score, as everywhere) and only their active parameters.
Importances come from ``optuna.importance.FanovaImportanceEvaluator`` with a fixed seed.

Conditional parameters: fANOVA needs every parameter it assesses to be set in every trial it fits.
So there are two scopes, both reported:

* ``all trials`` — the parameters active in every trial, assessed together on all trials;
* ``where active`` — for each conditional parameter c (inactive in some trials), fANOVA on the
  trials where c is active, over c and every parameter active in all of those trials; c's share
  of that subset's variance is reported (e.g. ``dropout`` among the trials with dropout).

Importances are shares of the variance explained, normalised to 1 within each fit, so numbers of
different scopes are not on one scale. Constant parameters get 0. With fewer than two trials in a
scope fANOVA has nothing to fit and reports 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.space import ParamSpace, param_space
from analysis.table import TrialTable

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study

ALL_TRIALS = "all trials"
WHERE_ACTIVE = "where active"


@dataclass(frozen=True)
class ParamImportance:
    """fANOVA importance of one parameter within a scope (module docstring) fitted on ``trials`` trials."""

    param: str
    importance: float
    scope: str
    trials: int


def fanova_importance(
    table: TrialTable,
    distributions: Mapping[str, BaseDistribution] | None = None,
    *,
    seed: int = 0,
    n_trees: int = 32,
    max_depth: int = 8,
    max_trials: int | None = 5000,
) -> tuple[ParamImportance, ...]:
    """Importances of ``table``'s parameters, most important first within each scope.

    ``n_trees`` and ``max_depth`` are the forest's. Optuna's fANOVA walks every leaf of every tree
    in Python, so the defaults are smaller than optuna's (64 trees, depth 64: ~10 s for 300 trials,
    minutes for 2000); depth 8 changes the importances of the synthetic tests by ~0.01.
    ``max_trials`` caps the trials fitted (a seeded random subset); ``None`` uses all.
    """
    space = param_space(table.params, distributions)
    if not space.names:
        return ()
    keep = np.arange(table.size)
    if max_trials is not None and table.size > max_trials:
        keep = np.sort(np.random.default_rng(seed).choice(table.size, max_trials, replace=False))
    study = _study(table, space, keep)
    forest = {"n_trees": n_trees, "max_depth": max_depth, "seed": seed}
    active = space.values.iloc[keep].notna()
    always = [p for p in space.names if active[p].all()]
    out = [ParamImportance(p, v, ALL_TRIALS, len(keep)) for p, v in _evaluate(study, always, forest).items()]
    for c in space.names:
        if c in always or not active[c].any():
            continue
        subset = active[active[c]]
        params = [p for p in space.names if subset[p].all()]
        value = _evaluate(study, params, forest)[c]
        out.append(ParamImportance(c, value, WHERE_ACTIVE, len(subset)))
    return tuple(out)


def _study(table: TrialTable, space: ParamSpace, keep: np.ndarray) -> Study:
    import optuna

    trials = []
    for i in keep:
        row = space.values.iloc[i]
        params = {p: row[p] for p in space.names if row[p] is not None}
        dists = {p: space.distributions[p] for p in params}
        trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=float(table.val[i])))
    with _quiet_optuna():
        study = optuna.create_study(direction="maximize" if table.mode == "max" else "minimize")
    study.add_trials(trials)
    return study


def _evaluate(study: Study, params: list[str], forest: dict[str, int]) -> dict[str, float]:
    """fANOVA importances of ``params``, normalised to sum to 1 (all 0 where nothing varies)."""
    from optuna.importance import FanovaImportanceEvaluator

    if not params:
        return {}
    with _quiet_optuna():
        try:
            raw = FanovaImportanceEvaluator(**forest).evaluate(study, params=params)
        except RuntimeError as e:  # optuna: "Encountered zero total variance in all trees"
            if "zero total variance" not in str(e):
                raise
            return {p: 0.0 for p in params}
    total = sum(raw.values())
    return {p: float(v / total) if total > 0 else 0.0 for p, v in raw.items()}


class _quiet_optuna:
    """Optuna's INFO logs off for the duration (restored after)."""

    def __enter__(self) -> None:
        import optuna

        self._level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        import optuna

        optuna.logging.set_verbosity(self._level)
