"""The study's headline numbers (``results.json``), from the analysis report and the shipped tables.

Everything here is computed; nothing is typed in. Keys are strings (``s`` values and category labels
too), so that a README value can name its number by a path such as ``comparison/grid/reached_at``
(see ``tests/experiments/test_bergstra.py``). Scores are validation or test accuracies (chance: 0.1).

* :func:`sweep_summary`, :func:`totals`: each sweep's trials, best trial and times, and their sums;
* :func:`comparison_numbers`, :func:`grid_numbers`: random against the grid and the Sobol search, with
  the grid's best read three ways beside ``reached_at`` (eq. 5–6, within one sd, on validation);
* :func:`importance_numbers`, :func:`adaptive_importance`: fANOVA on all trials and on those with an
  adaptive optimizer (sgd never learned here, and its failure is most of the variance);
* :func:`marginal_numbers`: the analysis library's marginals as they are drawn;
* :func:`question_numbers`: the views the LSTM questions need beside those one-way marginals:

  - dropout placement among the two-layer trials only: ``between`` exists only there (a one-layer
    trial drawn with ``between`` trains without dropout and counts as ``none``), so the one-way
    marginal compares ``between`` with placements that are half one-layer trials;
  - each categorical question among the trials with an adaptive optimizer (not sgd), as sgd at these
    learning rates stays at chance and adds the same noise to every category;
  - Welch's t-test p-values beside the 95% intervals; two 95% intervals that overlap can still
    differ at the 5% level, so "overlap" is the cautious reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import CategoricalDistribution

from analysis.best_trial import best_choice
from analysis.compare import reached_at
from analysis.importance import ALL_TRIALS
from analysis.marginals import mean_ci
from analysis.table import TrialTable

#: validation accuracy at or below which a trial learned nothing (chance is 0.10; with 800 validation
#: examples one standard deviation of a chance-level score is about 0.011)
NEAR_CHANCE = 0.15
ADAPTIVE = ("adam", "adamw", "rmsprop")
TIMES = ("wall_seconds", "ideal_wall_seconds", "sum_train_seconds", "sum_cpu_seconds")


def sweep_summary(frame: pd.DataFrame, provenance: Mapping[str, Any] | None) -> dict[str, Any]:
    """A sweep's trials: counts, best by validation (with its config), near-chance share, time."""
    table = TrialTable.from_frame(frame, mode="max")
    best = best_choice(table).by_validation
    row = frame.loc[frame["trial_index"] == best.trial_index].iloc[0]
    config = {c.removeprefix("param_"): _plain(row[c])
              for c in frame.columns if c.startswith("param_") and pd.notna(row[c])}
    ok = frame["status"] == "ok"
    out = {
        "trials": int(len(frame)),
        "counts": {str(k): int(v) for k, v in frame["status"].value_counts().sort_index().items()},
        "best": {**asdict(best), "config": config},
        "tied_at_best_val": {str(int(r.trial_index)): float(r.test_score)
                             for r in frame[frame["val_score"] == best.val_score].itertuples()},
        "near_chance": float((frame.loc[ok, "val_score"] <= NEAR_CHANCE).sum() / len(frame)),
        "median_val": float(frame.loc[ok, "val_score"].median()),
        "sum_train_seconds": float(frame["train_seconds"].sum()),
        "median_train_seconds": float(frame["train_seconds"].median()),
        "max_train_seconds": float(frame["train_seconds"].max()),
    }
    if provenance is not None:
        out |= {k: provenance[k] for k in ("wall_seconds", "wall_from", "ideal_wall_seconds", "sum_cpu_seconds",
                                            "trials_at_once") if k in provenance}
    out |= {k.replace("_seconds", "_minutes"): out[k] / 60 for k in TIMES if k in out}
    if out.get("sum_cpu_seconds"):  # > 1: the trials waited for the CPU (others' load on the machine)
        out["train_over_cpu"] = out["sum_train_seconds"] / out["sum_cpu_seconds"]
    return out


def totals(sweeps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The study's trials and times summed over its sweeps (seconds and minutes)."""
    out: dict[str, Any] = {"trials": sum(s["trials"] for s in sweeps.values())}
    for key in TIMES:
        if all(key in s for s in sweeps.values()):
            out[key] = sum(s[key] for s in sweeps.values())
            out[key.replace("_seconds", "_minutes")] = out[key] / 60
    if "sum_cpu_seconds" in out:  # per trial, and the wall time of that much training, trials_at_once at a time
        out["cpu_seconds_per_trial"] = out["sum_cpu_seconds"] / out["trials"]
        at_once = {s["trials_at_once"] for s in sweeps.values()}
        if len(at_once) == 1:
            out["cpu_ideal_wall_minutes"] = out["sum_cpu_minutes"] / at_once.pop()
    return out


def comparison_numbers(report: Any) -> dict[str, Any]:
    """Random's experiments per s, each grid's line and where random reaches it, each Sobol curve."""
    comparison = report.comparison
    random = {str(lvl.s): _level(lvl) for lvl in comparison.random.levels}
    out: dict[str, Any] = {"random": random}
    for ref in comparison.references:
        out[ref.label] = asdict(ref)
    for curve in comparison.curves:
        rows = {str(r.s): asdict(r) for r in curve.rows}
        for s, row in rows.items():
            row["minus_random_median"] = row["median"] - random[s]["median"] if s in random else None
        out[curve.label] = {"kind": curve.kind, "trials": curve.trials, "rows": rows}
    band = comparison.random.band
    out["random_all"] = {"best": comparison.random.best_of_all, "noise_mean": None if band is None else band.mean,
                         "noise_sd": None if band is None else band.sd}
    return out


def _level(lvl: Any) -> dict[str, Any]:
    row = lvl.row()
    row["noise_median"] = None if lvl.noise_means is None else float(np.median(lvl.noise_means))
    return row


def grid_numbers(report: Any, random: pd.DataFrame, grid: pd.DataFrame) -> dict[str, Any]:
    """Beside ``reached_at``: where each compared curve's median block reaches the grid's best (and with
    eq. 5–6), where the median random experiment comes within one eq. 6 sd of the grid's best test score,
    and on validation: how many random trials score at least the grid's best validation score,
    and the chance that s random trials (drawn without replacement from the 256) include one."""
    (ref,) = report.comparison.references
    medians = [(lvl.s, float(np.median(lvl.values))) for lvl in report.comparison.random.levels]
    best_val = float(grid["val_score"].max())
    size, hits = len(random), int((random["val_score"] >= best_val).sum())
    chance = {str(s): 1.0 - _none_drawn(size, hits, s) for s, _ in medians}
    curves = {c.label: {"reached_at": reached_at([(r.s, r.median) for r in c.rows], ref.best, "max"),
                        "noise_reached_at": None if ref.noise_mean is None else
                        reached_at([(r.s, r.noise_median) for r in c.rows], ref.noise_mean, "max")}
              for c in report.comparison.curves}
    return {
        "curves": curves,
        "within_sd_reached_at": None if ref.noise_sd is None else
        reached_at(medians, ref.best - ref.noise_sd, "max"),
        "best_val": best_val,
        "random_trials_at_least_best_val": hits,
        "p_random_reaches_best_val": chance,
        "val_reached_at": next((int(s) for s, p in chance.items() if p >= 0.5), None),
    }


def _none_drawn(size: int, hits: int, s: int) -> float:
    """P(none of ``hits`` marked trials among ``s`` drawn without replacement from ``size``)."""
    return float(np.prod([(size - hits - i) / (size - i) for i in range(s)])) if s <= size - hits else 0.0


def importance_numbers(importance: Any) -> dict[str, Any]:
    """fANOVA shares by scope, and the ranking of the parameters assessed on all trials."""
    if importance is None:
        return {}
    everywhere = [i for i in importance if i.scope == ALL_TRIALS]
    return {
        ALL_TRIALS: {i.param: i.importance for i in everywhere},
        "where active": {i.param: {"importance": i.importance, "trials": i.trials}
                         for i in importance if i.scope != ALL_TRIALS},
        "ranking": [i.param for i in everywhere],
    }


def adaptive_importance(frame: pd.DataFrame, distributions: Mapping[str, Any], seed: int) -> Any:
    """fANOVA on the trials with an adaptive optimizer only: what mattered among the trials that learned."""
    from analysis.importance import fanova_importance

    subset = frame[frame["param_optimizer"].isin(ADAPTIVE)]
    dists = {**distributions, "optimizer": CategoricalDistribution(ADAPTIVE)}
    return fanova_importance(TrialTable.from_frame(subset, mode="max"), dists, seed=seed)


def marginal_numbers(marginals: Any) -> dict[str, Any]:
    """Every marginal point: ``param/label`` or ``param by other/group/label`` → n, mean, 95% interval."""
    out: dict[str, Any] = {}
    for m in marginals:
        key = m.param if m.by is None else f"{m.param} by {m.by}"
        points = out.setdefault(key, {})
        for p in m.points:
            target = points if p.group is None else points.setdefault(p.group, {})
            target[p.label] = {"n": p.n, "mean": p.mean, "ci_low": p.ci_low, "ci_high": p.ci_high}
    return out


def question_numbers(frame: pd.DataFrame) -> dict[str, Any]:
    """The LSTM questions in the views of the module docstring, with intervals, overlaps and p-values."""
    table = TrialTable.from_frame(frame, mode="max")
    scores = pd.Series(table.val, index=frame.index)  # diverged trials at the worst score, as in the marginals
    two_layers = frame["param_layers"] == 2
    adaptive = frame["param_optimizer"].isin(ADAPTIVE)
    placement = frame["param_dropout_placement"]
    return {
        "dropout_placement, two layers": _categories(scores, placement, two_layers),
        "dropout_placement, two layers, adaptive": _categories(scores, placement, two_layers & adaptive),
        "dropout_placement, adaptive": _categories(scores, placement, adaptive),
        "layers, adaptive": _categories(scores, frame["param_layers"], adaptive),
        "units, adaptive": _categories(scores, _units_bins(frame["param_units"]), adaptive),
        "optimizer": _categories(scores, frame["param_optimizer"], pd.Series(True, index=frame.index)),
        "batch_size, adaptive": _categories(scores, frame["param_batch_size"], adaptive),
    }


def _units_bins(units: pd.Series) -> pd.Series:
    """Units in three bins of equal width on the log scale of the spec's 16..96 (as ``log_int`` draws them):
    16–29, 30–53, 54–96."""
    edges = np.exp(np.linspace(np.log(16), np.log(97), 4))
    bins = [(int(np.ceil(lo)), int(np.ceil(hi)) - 1) for lo, hi in zip(edges[:-1], edges[1:])]
    labels = [f"{lo}–{hi}" for lo, hi in bins]
    return pd.Series(
        [next(label for label, (lo, hi) in zip(labels, bins) if lo <= u <= hi) for u in units],
        index=units.index, dtype=pd.CategoricalDtype(labels, ordered=True),
    )


def _categories(scores: pd.Series, labels: pd.Series, where: pd.Series) -> dict[str, Any]:
    """Per category: n, mean, 95% t interval (clipped to [0, 1]); then each pair's overlap and Welch p-value."""
    groups = {str(k): scores[where & (labels == k)].to_numpy() for k in _order(labels[where])}
    out: dict[str, Any] = {"trials": int(where.sum()), "groups": {}, "pairs": {}}
    for name, values in groups.items():
        mean, low, high = mean_ci(values, (0.0, 1.0))
        out["groups"][name] = {"n": len(values), "mean": mean, "ci_low": low, "ci_high": high,
                               "max": float(values.max())}
    for a, b in combinations(groups, 2):
        ga, gb = out["groups"][a], out["groups"][b]
        overlap = None if None in (ga["ci_low"], gb["ci_low"]) else \
            bool(ga["ci_low"] <= gb["ci_high"] and gb["ci_low"] <= ga["ci_high"])
        out["pairs"][f"{a} vs {b}"] = {"difference": ga["mean"] - gb["mean"], "overlap": overlap,
                                        "welch_p": _welch_p(groups[a], groups[b])}
    out["best"] = max(out["groups"], key=lambda k: out["groups"][k]["mean"])
    return out


def _order(labels: pd.Series) -> list[Any]:
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return [c for c in labels.cat.categories if (labels == c).any()]
    return sorted(labels.unique())


def _welch_p(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return None if np.isnan(p) else p  # both groups constant


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
