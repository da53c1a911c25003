"""The what-if's files (:func:`write_what_if`) and its figure: the test score reached against the compute
spent, for the full random search and for each early-termination rule, one box per experiment size s
(:mod:`analysis.what_if` computes them).

Each box holds the test scores of the ⌊S/s⌋ experiments of s trials under one search, drawn at the
median compute of those experiments on a log axis; a line joins each search's medians. Where a rule's
boxes sit left of the full search's at the same height, it reached the same answer for less compute.
Experiments whose returned trial's test score is unknown (a stopped trial whose best epoch in full
lies after its stop) are left out of the boxes and counted in the legend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.plots import BOX_EDGE, BOX_FACE, _figure, _labelled
from analysis.ticks import log_axis
from analysis.what_if import TRIAL_COLUMNS, WhatIf

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RULE_COLORS = ("C1", "C2", "C3", "C4", "C6")


def what_if_figure(what_if: WhatIf, *, metric_name: str) -> Figure:
    """Boxes of test score against compute per s, for the full search and each rule (module docstring)."""
    from matplotlib.patches import Patch

    legend = 0.2 * len(what_if.searches)  # inches: one legend line per search, below the axes
    fig = _figure(10.0, 5.7 + legend, bottom=0.7 + legend, right=0.3, top=0.75)
    ax = fig.add_subplot()
    handles = []
    order = [*range(1, len(what_if.searches)), 0]  # the full search last, on top of rules that stopped nothing
    for k in order:
        search = what_if.searches[k]
        face, edge = (BOX_FACE, BOX_EDGE) if k == 0 else (RULE_COLORS[(k - 1) % len(RULE_COLORS)],) * 2
        alpha = 0.75 if k == 0 else 0.45
        xs, medians = [], []
        for level in search:
            known = level.test[np.isfinite(level.test)]
            x = max(float(np.median(level.cost)), 1e-9)
            if len(known):
                line = {"color": edge}
                ax.boxplot([known], positions=[x], widths=[0.22 * x], manage_ticks=False, patch_artist=True, whis=1.5,
                           boxprops={"facecolor": face, "edgecolor": edge, "alpha": alpha}, medianprops=line,
                           whiskerprops=line, capprops=line, flierprops={"markersize": 2, "alpha": 0.4, "markeredgecolor": edge})
                xs.append(x)
                medians.append(float(np.median(known)))
            if len(known) and (k == 0 or level.s == search[-1].s):
                ax.annotate(f"s={level.s}", (x, float(np.median(known))), fontsize=7,
                            xytext=(4, -10 if k else 6), textcoords="offset points", color=edge)
        ax.plot(xs, medians, "-", color=edge, lw=1, alpha=0.8)
        unknown = sum(int((~np.isfinite(level.test)).sum()) for level in search)
        label = f"{search[0].label}, {len(what_if.sweeps[0].replay.trials)} trials" if k == 0 else (
            f"{search[0].label}: the whole sweep at {what_if.sweeps[k - 1].compute_share:.0%} of its compute")
        if unknown:
            label += f" ({unknown} experiments left out: test score at the stop unknown)"
        handles.append(Patch(facecolor=face, edgecolor=edge, alpha=alpha, label=label))
    handles = [handles[-1], *handles[:-1]]
    log_axis(ax, "x")
    unit = "seconds of training" if what_if.cost_unit == "seconds" else "epochs trained"
    title = ("Early termination replayed on the sweep's own curves: test score reached against compute,\n"
             "⌊S/s⌋ experiments of s trials each (Bergstra & Bengio), the rule applied inside each experiment")
    _labelled(ax, f"compute per experiment ({unit}, log scale; box at the median)",
              f"test {metric_name} of the best-by-validation trial", title)
    ax.title.set_fontsize(10.5)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.1), frameon=False)
    return fig


def write_what_if(result: WhatIf, out_dir: str | os.PathLike[str], *, metric_name: str = "score",
                  figures: bool = True) -> tuple[Path, ...]:
    """Write the what-if's files (module docstring) into ``out_dir``; return their paths."""
    from analysis.report import _plain

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "what_if.csv", out / "what_if_trials.csv", out / "what_if.txt", out / "what_if.json"]
    pd.DataFrame(result.rows()).to_csv(paths[0], index=False)
    pd.DataFrame(result.trial_rows(), columns=["rule", *TRIAL_COLUMNS]).to_csv(paths[1], index=False)
    paths[2].write_text("\n".join(result.summary_lines(metric_name)) + "\n", encoding="utf-8")
    paths[3].write_text(json.dumps(_plain(result.to_dict()), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    if figures:
        from analysis.plots import save_figure

        paths += save_figure(what_if_figure(result, metric_name=metric_name), out, "what_if")
    return tuple(paths)
