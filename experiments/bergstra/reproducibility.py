"""What a rerun changes: a rerun table (``rerun.py``) against the shipped random table, and the study's
answers (best trial, where random reaches the grid, importance ranking) with the rerun's scores put in
place of the shipped ones for the trials it reran."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.best_trial import best_choice
from analysis.compare import compare_strategies
from analysis.efficiency import efficiency_curve
from analysis.importance import ALL_TRIALS, fanova_importance
from analysis.table import TrialTable
from experiments.bergstra.results import NEAR_CHANCE

SCORES = ("val_score", "test_score")


def rerun_numbers(random: pd.DataFrame, grid: pd.DataFrame, rerun: pd.DataFrame, meta: Mapping[str, Any],
                  baseline: Mapping[str, Any], distributions: Mapping[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """How many rerun trials repeat the shipped scores bit for bit, which ones (near chance or not in the
    shipped table), how far the others moved, the largest move, and whether the study's answers
    (``baseline``, :func:`answers` of the shipped tables) change with them."""
    shipped = random.set_index("trial_index").loc[rerun["trial_index"]].reset_index()
    same_status = shipped["status"].to_numpy() == rerun["status"].to_numpy()
    diffs = {c: (rerun[c] - shipped[c]).abs().to_numpy(float) for c in SCORES}
    same = same_status & np.all([_equal(rerun[c], shipped[c]) for c in SCORES], axis=0)
    changed = ~same
    near_chance = (shipped["val_score"] <= NEAR_CHANCE).to_numpy()  # in the shipped table
    out: dict[str, Any] = {
        "trials": int(len(rerun)),
        "threads": meta.get("threads"),
        "kernels": meta.get("kernels"),
        "env": meta.get("env", {}),
        "identical": int(same.sum()),
        "changed": int(changed.sum()),
        "status_changed": int((~same_status).sum()),
        "identical_near_chance": int((same & near_chance).sum()),
        "learned": int((~near_chance).sum()),
        "learned_changed": int((changed & ~near_chance).sum()),
    }
    for c in SCORES:
        name = c.removesuffix("_score")
        moved = diffs[c][changed & same_status]
        out[f"max_abs_{name}_diff"] = float(np.nanmax(moved)) if len(moved) else 0.0
        out[f"median_abs_{name}_diff_changed"] = float(np.nanmedian(moved)) if len(moved) else 0.0
    if changed.any():
        k = int(np.nanargmax(np.where(same_status, diffs["val_score"], -1.0)))
        out["largest_change"] = {"trial_index": int(rerun["trial_index"].iloc[k]),
                                 "shipped_val": float(shipped["val_score"].iloc[k]),
                                 "rerun_val": float(rerun["val_score"].iloc[k])}
        patched = random.set_index("trial_index")
        patched.loc[rerun["trial_index"], ["status", *SCORES]] = rerun.set_index("trial_index")[["status", *SCORES]]
        with_rerun = answers(patched.reset_index(), grid, distributions, seed=seed)
    else:
        with_rerun = dict(baseline)  # the same table: the same answers
    out["answers"] = with_rerun
    out["same_answers"] = {k: with_rerun[k] == baseline[k] for k in baseline}
    return out


def answers(random: pd.DataFrame, grid: pd.DataFrame, distributions: Mapping[str, Any], *,
            seed: int = 0) -> dict[str, Any]:
    """The study's answers from a random and a grid table: best trial by validation (index and test score),
    where the median random experiment reaches the grid's best (and with eq. 5–6), the fANOVA ranking."""
    table = TrialTable.from_frame(random, mode="max")
    best = best_choice(table).by_validation
    (grid_line,) = compare_strategies(efficiency_curve(table), [("grid", "grid", grid)], mode="max").references
    importance = fanova_importance(table, distributions, seed=seed)
    return {
        "best_trial": best.trial_index,
        "best_test": best.test_score,
        "reached_at": grid_line.reached_at,
        "noise_reached_at": grid_line.noise_reached_at,
        "importance_ranking": [i.param for i in importance if i.scope == ALL_TRIALS],
    }


def report_answers(report: Any) -> dict[str, Any]:
    """:func:`answers` of the tables an :func:`analysis.analyze` report (with a grid compared) was made from,
    read off the report, which computed them alike."""
    (grid_line,) = report.comparison.references
    best = report.best.by_validation
    return {
        "best_trial": best.trial_index,
        "best_test": best.test_score,
        "reached_at": grid_line.reached_at,
        "noise_reached_at": grid_line.noise_reached_at,
        "importance_ranking": [i.param for i in report.importance if i.scope == ALL_TRIALS],
    }


def _equal(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Elementwise equality where two missing scores (diverged trials) count as equal."""
    a, b = a.to_numpy(float), b.to_numpy(float)
    return (a == b) | (np.isnan(a) & np.isnan(b))
