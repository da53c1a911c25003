"""What is learned from finished trials: efficiency curves, estimators, importance and plots.

The public names below are imported on first use (PEP 562), so ``import analysis`` loads neither
pandas, scipy, matplotlib nor optuna. Start with :func:`analyze` (everything, into a folder) or
:func:`load_trials` (the validated table); the estimators work on plain arrays as well.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "analyze": "pipeline",
    "Report": "report",
    "load_trials": "table",
    "write_trials": "table",
    "TrialTable": "table",
    "StatusCounts": "table",
    "efficiency_curve": "efficiency",
    "EfficiencyCurve": "efficiency",
    "EfficiencyLevel": "efficiency",
    "best_by_validation": "efficiency",
    "best_probabilities": "noise",
    "best_probabilities_mc": "noise",
    "binomial_variance": "noise",
    "mixture": "noise",
    "noise_aware": "noise",
    "NoiseEstimate": "noise",
    "expected_best": "best_of_n",
    "rank_probabilities": "best_of_n",
    "ExpectedBest": "best_of_n",
    "trials_needed": "budget",
    "top_probability": "budget",
    "trials_for": "budget",
    "TrialsNeeded": "budget",
    "Doubling": "budget",
    "best_choice": "best_trial",
    "BestChoice": "best_trial",
    "TrialChoice": "best_trial",
    "param_space": "space",
    "infer_distribution": "space",
    "ParamSpace": "space",
    "write_space": "space",
    "read_space": "space",
    "fanova_importance": "importance",
    "ParamImportance": "importance",
    "marginal_effects": "marginals",
    "Marginal": "marginals",
    "MarginalPoint": "marginals",
    "synthetic_trials": "synthetic",
    "synthetic_curves": "synthetic",
    "simulate_sweep": "simulate",
    "Simulation": "simulate",
    "compare_strategies": "compare",
    "Comparison": "compare",
    "Reference": "compare",
    "BlockCurve": "compare",
    "BlockRow": "compare",
    "Asha": "stopping",
    "Median": "stopping",
    "Decision": "stopping",
    "parse_rule": "stopping",
    "RungBoard": "rung_board",
    "Verdict": "rung_board",
    "replay_rule": "replay",
    "Replay": "replay",
    "ReplayedTrial": "replay",
    "analyze_what_if": "what_if",
    "write_what_if": "what_if_figure",
    "WhatIf": "what_if",
    "Curve": "curves",
    "load_curves": "curves",
    "read_curves": "curves",
    "write_curves": "curves",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"analysis.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from analysis.best_trial import BestChoice, TrialChoice, best_choice
    from analysis.compare import BlockCurve, BlockRow, Comparison, Reference, compare_strategies
    from analysis.efficiency import EfficiencyCurve, EfficiencyLevel, best_by_validation, efficiency_curve
    from analysis.best_of_n import ExpectedBest, expected_best, rank_probabilities
    from analysis.importance import ParamImportance, fanova_importance
    from analysis.marginals import Marginal, MarginalPoint, marginal_effects
    from analysis.noise import NoiseEstimate, best_probabilities, best_probabilities_mc, binomial_variance, mixture, noise_aware
    from analysis.pipeline import analyze
    from analysis.report import Report
    from analysis.space import ParamSpace, infer_distribution, param_space, read_space, write_space
    from analysis.synthetic import synthetic_curves, synthetic_trials
    from analysis.table import StatusCounts, TrialTable, load_trials, write_trials
    from analysis.budget import Doubling, TrialsNeeded, top_probability, trials_for, trials_needed
    from analysis.curves import Curve, load_curves, read_curves, write_curves
    from analysis.replay import Replay, ReplayedTrial, replay_rule
    from analysis.simulate import Simulation, simulate_sweep
    from analysis.rung_board import RungBoard, Verdict
    from analysis.stopping import Asha, Decision, Median, parse_rule
    from analysis.what_if import WhatIf, analyze_what_if
    from analysis.what_if_figure import write_what_if
