"""Would early termination have reached the grid's best, and at what share of the compute?

From the random sweep run again with its curves (``early/random.csv`` and ``random.curves.csv``, as
``searchsvc export`` writes them), :func:`what_if` replays :data:`RULES` exactly as a live sweep with each
rule would have decided (:func:`analysis.analyze_what_if`); :func:`early_numbers` puts beside each rule
the grid's best-by-validation test accuracy and its eq. 6 sd (from the shipped grid table):

* the whole sweep under the rule: trials stopped (per stop epoch), epochs and seconds against the full
  sweep's, the trial it returns, its test accuracy with the binomial sd of 1,000 test examples, and
  whether that reaches the grid's best (exactly, within one sd), and where the rule stopped the full
  sweep's own pick;
* Bergstra & Bengio's view: per s, the median test accuracy of the ⌊256/s⌋ experiments under the rule,
  their compute share, and the smallest s whose median reaches the grid's best;
* the table against the shipped random table: how many trials repeat bit for bit (the sweep ran on
  another machine type, see ``early/provenance.json``).

:func:`top_figure` draws the what-if's boxes cut to the accuracies where the searches meet, with the
grid's best as a line and its ±1 sd band.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: the rules replayed: the issue's two and an ASHA whose first rung waits out the plateau near chance
#: that some trials of this space escape only after epoch 5 (the pilot, README "Sizing")
RULES = ("asha:min_epochs=2,eta=3", "asha:min_epochs=5,eta=3", "median:min_epochs=3")
TOP = (0.93, 0.99)
CHANCE_LEFT = 0.2  # validation accuracy above which a trial has left chance (0.1, ten classes)


def what_if(early: Path, max_epochs: int) -> Any:
    """The what-if of :data:`RULES` on the sweep in ``early/`` (a :class:`analysis.WhatIf`)."""
    from analysis import analyze_what_if

    return analyze_what_if(early / "random.csv", RULES, mode="max", max_epochs=max_epochs)


def early_numbers(result: Any, early: pd.DataFrame, curves: pd.DataFrame, provenance: dict[str, Any],
                  shipped: pd.DataFrame, grid: dict[str, Any]) -> dict[str, Any]:
    """The numbers the study's README quotes (module docstring); ``provenance`` is the sweep's entry in
    ``early/provenance.json``, ``grid`` is ``comparison/grid``."""
    from analysis.compare import reached_at
    from analysis.noise import binomial_variance

    best, sd = grid["best"], grid["noise_sd"]
    test_n = dict(zip(early["trial_index"], early["test_n"]))
    rows = pd.DataFrame(result.rows())
    first = rows[rows["search"] == result.searches[0][0].label]
    full_medians = dict(zip(first["s"].astype(int), first["median"]))

    def levels(label: str) -> dict[str, Any]:
        part = rows[rows["search"] == label]
        medians = list(zip(part["s"].astype(int), part["median"]))
        return {"s": {str(int(r.s)): {"median": float(r.median), "q1": float(r.q1), "q3": float(r.q3),
                                      "minus_full": float(r.median - full_medians[int(r.s)]),
                                      "compute_share": float(r.cost_share), "same_share": float(r.same_share)}
                      for r in part.itertuples()},
                "reached_at": reached_at(medians, best, "max"), "within_sd_reached_at": reached_at(medians, best - sd, "max")}

    full = result.sweeps[0]
    out: dict[str, Any] = {
        "trials": int(len(early)),
        "wall_minutes": provenance["wall_seconds"] / 60,
        "max_epochs": result.max_epochs,
        "identical_to_shipped": _identical(early, shipped),
        "full": {"best_trial": full.full_best, "test": full.full_best_test, "escaped_chance_at": _escaped(curves, full.full_best),
                 "test_sd": _sd(full.full_best_test, test_n[full.full_best], binomial_variance), **levels(result.searches[0][0].label)},
        "rules": {},
    }
    for outcome in result.sweeps:
        replay, chosen = outcome.replay, outcome.best
        pick = next(t for t in replay.trials if t.trial_index == full.full_best)  # the full sweep's pick, under the rule
        stops = pd.Series([t.stop_epoch for t in replay.trials if t.stopped], dtype=int).value_counts().sort_index()
        test = outcome.best_test
        out["rules"][outcome.label] = {
            "stopped": int(stops.sum()), "stopped_at": {str(int(e)): int(n) for e, n in stops.items()},
            "epochs_share": replay.epochs / replay.full_epochs, "compute_share": outcome.compute_share,
            "best_trial": None if chosen is None else chosen.trial_index,
            "best_val": None if chosen is None else chosen.val_score, "test": test,
            "test_sd": None if test is None else _sd(test, test_n[chosen.trial_index], binomial_variance),
            "full_pick": {"stopped": pick.stopped, "stop_epoch": pick.stop_epoch, "val": pick.val_score},
            "test_minus_grid": None if test is None else test - best,
            "same_trial": outcome.same, "reaches_grid": test is not None and test >= best,
            "within_grid_sd": test is not None and test >= best - sd,
            **levels(outcome.label),
        }
    return out


def top_figure(result: Any, grid: dict[str, Any], metric: str, folder: Path) -> None:
    """The what-if figure cut to :data:`TOP`, the grid's best and its ±1 sd band drawn across it, as
    ``what_if_top.png/.svg``."""
    from analysis import plots
    from analysis.what_if_figure import what_if_figure

    fig = what_if_figure(result, metric_name=metric)
    ax = fig.axes[0]
    ax.axhline(grid["best"], color="tab:red", lw=1.2, label="grid's best")
    ax.axhspan(grid["best"] - grid["noise_sd"], grid["best"] + grid["noise_sd"], color="tab:red", alpha=0.08, lw=0)
    ax.annotate(f"grid of 96: best-by-validation test {grid['best']:.3f} (band: ±1 eq. 6 sd)", (0.01, grid["best"]),
                xycoords=("axes fraction", "data"), xytext=(0, 4), textcoords="offset points", color="tab:red", fontsize=8)
    ax.set_ylim(*TOP)
    ax.set_title(f"{ax.get_title()}: accuracies {TOP[0]:g}–{TOP[1]:g} only", fontsize=10)
    plots.save_figure(fig, folder, "what_if_top")


def _sd(score: float, n: int, variance: Any) -> float:
    return float(np.sqrt(variance(np.array([score]), np.array([n]))[0]))


def _escaped(curves: pd.DataFrame, trial: int) -> int | None:
    """The first epoch at which ``trial``'s validation accuracy left chance (above :data:`CHANCE_LEFT`)."""
    curve = curves[curves["trial_index"] == trial]
    above = curve.loc[curve["val_score"] > CHANCE_LEFT, "epoch"]
    return int(above.min()) if len(above) else None


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Trials whose status, validation and test scores are the same in both tables, bit for bit."""
    cols = ["status", "val_score", "test_score"]
    a, b = a.set_index("trial_index")[cols], b.set_index("trial_index")[cols].reindex(a["trial_index"])
    return int((a == b).all(axis=1).sum())
