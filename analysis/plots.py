"""The figures of an analysis, drawn with matplotlib's object API on the Agg canvas (no pyplot state).

Each ``*_figure`` function takes the results of one analysis and returns a ``Figure``;
:func:`save_figure` writes it as PNG and SVG. Matplotlib is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.best_of_n import ExpectedBest
from analysis.budget import TrialsNeeded, time_unit
from analysis.compare import Comparison
from analysis.efficiency import EfficiencyCurve, EfficiencyLevel
from analysis.importance import WHERE_ACTIVE, ParamImportance
from analysis.marginals import Marginal
from analysis.ticks import log_axis, value_ticks

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SCATTER_MAX = 30  # experiments drawn as points (beside the box) when there are at most this many
BOX_FACE, BOX_EDGE = "#dbe7f3", "#33608c"
REFERENCE_COLORS = ("C3", "C5", "C9", "C7")  # grids: none of them the boxes' blue
CURVE_COLORS = ("C1", "C2", "C4", "C6", "C8")  # Sobol and other random searches
SOBOL_CAPTION = (
    "Sobol: the points of one scrambled Sobol sequence, in order, cut into aligned blocks [j·s, (j+1)·s) of s points; "
    "each block of 2^k points is itself a scrambled (t,k,d)-net, a valid Sobol design, but the blocks are not independent, "
    "so they are shown by their median and min–max, not as boxes."
)


def save_figure(fig: Figure, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` in ``out_dir`` (SVG text stays text); returns both paths."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    fig.savefig(png, dpi=100)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(svg, metadata={"Date": None})
    return png, svg


def _figure(width: float, height: float, **margins: float) -> Figure:
    """A figure with fixed margins (inches from each edge): constrained layout would double the drawing time."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    m = {"left": 0.8, "right": 0.2, "bottom": 0.6, "top": 0.45, "wspace": 0.3, "hspace": 0.45} | margins
    fig.subplots_adjust(
        left=m["left"] / width,
        right=1 - m["right"] / width,
        bottom=m["bottom"] / height,
        top=1 - m["top"] / height,
        wspace=m["wspace"],
        hspace=m["hspace"],
    )
    return fig


def _labelled(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def efficiency_figure(
    curve: EfficiencyCurve, *, metric_name: str, references: Mapping[str, float] | None = None
) -> Figure:
    """Bergstra & Bengio Fig. 2/5: box plots of the experiments' results per experiment size s."""
    fig = _figure(9.0, 5.5, right=0.25)
    ax = fig.add_subplot()
    boxes = _efficiency_boxes(ax, curve.levels, f"⌊{curve.size}/s⌋ experiments of s trials")
    pos = np.log2([lvl.s for lvl in curve.levels])
    ax.plot(pos, [lvl.expected_best for lvl in curve.levels], "o-", color="C1", ms=4, label="exact E[best of s] (no Monte Carlo)")
    if curve.levels[0].noise_means is not None:
        noise = [float(np.mean(lvl.noise_means)) for lvl in curve.levels]  # type: ignore[arg-type]
        ax.plot(pos, noise, "d--", color="C2", ms=4, label="mean eq. 5 score (validation noise)")
    if curve.band is not None:
        ax.axhspan(curve.band.low, curve.band.high, color="C2", alpha=0.15, label=f"95% band, eq. 5–6 over all {curve.size} trials")
    for k, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, ls=":", lw=1.5, color=f"C{3 + k % 6}", label=name)
    _s_axis(ax, [lvl.s for lvl in curve.levels])
    title = f"Random experiment efficiency: {curve.size} trials re-partitioned into ⌊{curve.size}/s⌋ experiments"
    _labelled(ax, "trials per experiment s (log₂ scale)", f"test {metric_name} of the best-by-validation trial", title)
    ax.legend(handles=[boxes, *ax.get_legend_handles_labels()[0]], loc="best", fontsize=8)
    return fig


def comparison_figure(comparison: Comparison, *, metric_name: str) -> Figure:
    """Bergstra & Bengio Fig. 5: the random efficiency boxes with each grid as a line (its eq. 5–6 mean ± sd
    as a band), each Sobol search as the median of its aligned blocks over their min–max band, and each
    other random search as the median of its experiments."""
    random = comparison.random
    entries = 1 + 2 * len(comparison.references) + len(comparison.curves)
    sobol = any(c.kind == "sobol" for c in comparison.curves)
    legend_inches = 0.17 * entries + (0.4 if sobol else 0.0)
    fig = _figure(10.0, 5.4 + legend_inches, right=0.3, bottom=0.85 + legend_inches, top=0.65)
    ax = fig.add_subplot()
    handles = [_efficiency_boxes(ax, random.levels, f"random search, {random.size} trials: ⌊{random.size}/s⌋ i.i.d. experiments of s")]
    for k, ref in enumerate(comparison.references):
        color = REFERENCE_COLORS[k % len(REFERENCE_COLORS)]
        handles.append(ax.axhline(ref.best, lw=1.8, color=color, label=f"{_name(ref.label, 'grid')}, {ref.trials} trials: best by validation"))
        if ref.noise_mean is not None and ref.noise_sd is not None:
            handles.append(ax.axhspan(ref.noise_mean - ref.noise_sd, ref.noise_mean + ref.noise_sd, color=color, alpha=0.15,
                                      label=f"{ref.label}: eq. 5–6 mean ± 1 sd over its trials"))
    for k, c in enumerate(comparison.curves):
        color, x = CURVE_COLORS[k % len(CURVE_COLORS)], np.log2([row.s for row in c.rows])
        name = f"{_name(c.label, c.kind)}, {c.trials} trials"
        if c.kind == "sobol":
            ax.fill_between(x, [r.min for r in c.rows], [r.max for r in c.rows], color=color, alpha=0.15, lw=0)
            label = f"{name}: median of the aligned blocks of s points (band: min–max)"
        else:
            label = f"{name}: median of its ⌊{c.trials}/s⌋ i.i.d. experiments"
        handles += ax.plot(x, [r.median for r in c.rows], "s-" if c.kind == "sobol" else "^--", color=color, ms=5, label=label)
    _s_axis(ax, sorted({lvl.s for lvl in random.levels} | {r.s for c in comparison.curves for r in c.rows}))
    kinds = {"grid": "grid search"} if comparison.references else {}
    kinds |= {c.kind: {"sobol": "Sobol search", "random": "another random search"}[c.kind] for c in comparison.curves}
    title = f"Random search (boxes) compared with {', '.join(kinds.values())}\nas in Bergstra & Bengio (2012), Fig. 5"
    _labelled(ax, "trials per experiment s (log₂ scale)", f"test {metric_name} of the best-by-validation trial", title)
    ax.title.set_fontsize(10.5)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.09), frameon=False)
    if sobol:
        fig.text(ax.get_position().x0, 0.12 / fig.get_size_inches()[1], SOBOL_CAPTION, fontsize=8, color="0.25", va="bottom", wrap=True)
    return fig


def _name(label: str, kind: str) -> str:
    """The label, with its kind unless the label already says it."""
    return label if kind.lower() in label.lower() else f"{label} ({kind})"


def _efficiency_boxes(ax: Axes, levels: Sequence[EfficiencyLevel], label: str) -> Artist:
    """Box plots of the experiments' results at x = log2(s), the experiments themselves as points where there
    are at most ``SCATTER_MAX`` (then without fliers, which would repeat them); returns a legend handle."""
    from matplotlib.patches import Patch

    pos = np.log2([lvl.s for lvl in levels])
    shown = np.array([lvl.experiments <= SCATTER_MAX for lvl in levels])
    for fliers in (False, True):
        pick = np.flatnonzero(shown != fliers)
        if len(pick):
            ax.boxplot([levels[i].values for i in pick], positions=pos[pick], widths=0.5, whis=1.5, manage_ticks=False,
                       patch_artist=True, showfliers=fliers, boxprops={"facecolor": BOX_FACE, "edgecolor": BOX_EDGE},
                       medianprops={"color": BOX_EDGE}, flierprops={"markersize": 2, "alpha": 0.4})
    rng = np.random.default_rng(0)
    for p, lvl in zip(pos[shown], [lvl for lvl, sh in zip(levels, shown) if sh]):
        ax.scatter(p + rng.uniform(-0.12, 0.12, lvl.experiments), lvl.values, s=9, color=BOX_EDGE, alpha=0.6, zorder=3)
    return Patch(facecolor=BOX_FACE, edgecolor=BOX_EDGE, label=label)


def _s_axis(ax: Axes, sizes: Sequence[int]) -> None:
    """The experiment-size axis at x = log2(s): a tick per s where the labels fit, else every k-th."""
    pos = np.log2(sizes)
    ax.set_xlim(pos[0] - 0.6, pos[-1] + 0.6)
    value_ticks(ax, list(pos), [str(s) for s in sizes], thin=True)


def expected_best_figure(
    without: Sequence[ExpectedBest], with_: Sequence[ExpectedBest], *, metric_name: str, size: int
) -> Figure:
    """E[test of best-of-n] against n, with and without replacement, the former ± one sd."""
    fig = _figure(8.0, 5.0)
    ax = fig.add_subplot()
    n = np.array([e.n for e in without])
    ax.fill_between(n, [e.low for e in without], [e.high for e in without], color="C0", alpha=0.2, label="± 1 sd of the best of n")
    ax.plot(n, [e.mean for e in without], "-", color="C0", label="without replacement (unbiased: allentune, Tang et al. 2020)")
    ax.plot([e.n for e in with_], [e.mean for e in with_], "--", color="C1", label="with replacement (Dodge et al. 2019)")
    powers = [e for e in without if e.n & (e.n - 1) == 0]
    ax.plot([e.n for e in powers], [e.mean for e in powers], "o", color="C0", ms=4)
    log_axis(ax, base=2)
    title = f"Expected best of n trials, exact from the empirical distribution of {size} trials"
    _labelled(ax, "number of random trials n (log₂ scale)", f"expected test {metric_name} of the best-by-validation trial", title)
    ax.legend(loc="best", fontsize=8)
    return fig


def trials_needed_figure(needed: TrialsNeeded, *, metric_name: str) -> Figure:
    """Left: P(best of s in the top q); right: expected gain and cost of doubling the trials."""
    fig = _figure(12.0, 4.8, right=0.9, wspace=0.35)
    left, right = fig.subplots(1, 2)
    sizes = np.array(needed.sizes)
    for k, q in enumerate(needed.quantiles):
        left.plot(sizes, needed.probability[:, k], "o-", ms=3, color=f"C{k}", label=f"top {q:.0%} (95% at s = {needed.needed[k]})")
    left.axhline(0.95, ls="--", color="grey", lw=1)
    log_axis(left, base=2)
    _labelled(left, "trials s (log₂ scale)", "P(best of s trials is in the top q)", "P = 1 − (1 − q)^s")
    left.legend(fontsize=8, loc="lower right")
    _doubling_axes(right, needed, metric_name)
    return fig


def _doubling_axes(ax: Axes, needed: TrialsNeeded, metric_name: str) -> None:
    if not needed.doublings:
        ax.text(0.5, 0.5, "needs at least 2 trials", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    s = np.array([d.s for d in needed.doublings])
    ax.plot(s, [d.gain for d in needed.doublings], "o-", color="C0", label=f"expected gain in test {metric_name}")
    log_axis(ax, base=2)
    _labelled(ax, "going from s to 2s trials: s (log₂ scale)", f"expected gain in test {metric_name}", "What doubling the number of trials buys")
    if needed.mean_train_seconds is not None:
        unit, size = time_unit(max(d.extra_hours for d in needed.doublings))
        twin = ax.twinx()
        twin.plot(s, [d.extra_hours / size for d in needed.doublings], "s--", color="C3", ms=3,
                  label=f"extra compute ({unit})")
        log_axis(twin, "y")
        twin.set_ylabel(f"extra compute for s more trials ({unit})")
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=8, loc="upper center")
    else:
        ax.legend(fontsize=8, loc="upper right")


def importance_figure(importances: Sequence[ParamImportance], *, metric_name: str) -> Figure:
    """Horizontal bars of fANOVA importances; conditional parameters (scope "where active") hatched."""
    fig = _figure(8.0, 1.2 + 0.45 * max(len(importances), 2), left=2.8, bottom=0.55, top=0.6)
    ax = fig.add_subplot()
    if not importances:
        ax.text(0.5, 0.5, "no param_ columns to assess", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    rows = list(reversed(importances))
    labels = [r.param if r.scope != WHERE_ACTIVE else f"{r.param} (where active, {r.trials} trials)" for r in rows]
    conditional = [r.scope == WHERE_ACTIVE for r in rows]
    bars = ax.barh(labels, [r.importance for r in rows], color=["C1" if c else "C0" for c in conditional])
    for bar, c in zip(bars, conditional):
        bar.set_hatch("//" if c else "")
    ax.set_xlabel(f"fANOVA importance (share of the variance of validation {metric_name})")
    ax.set_title("Which hyperparameters matter (fANOVA)\nhatched: share within the trials where the parameter is active", fontsize=10)
    ax.set_xlim(0, 1)
    ax.grid(axis="x", alpha=0.3)
    return fig


def marginals_figure(marginals: Sequence[Marginal], *, metric_name: str, columns: int = 4) -> Figure:
    """A grid of marginal-effect panels: mean validation score ± 95% CI per value/bin.

    An interaction is one panel with a line per category of its second parameter; the one-way
    marginal of its first parameter is drawn there too (black, "all"), not in a panel of its own.
    """
    overall = {m.param: m for m in marginals if m.by is None}
    inside = {m.param for m in marginals if m.by is not None}
    panels = [m for m in marginals if m.by is not None or m.param not in inside]
    rows = max(1, -(-len(panels) // columns))
    fig = _figure(4.2 * columns, 3.3 * rows, left=0.75, top=0.65, bottom=0.5, wspace=0.4, hspace=0.75)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, marginal in zip(axes, panels):
        _marginal_axes(ax, marginal, metric_name, overall.get(marginal.param) if marginal.by else None)
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    if not panels:
        axes[0].text(0.5, 0.5, "no param_ columns", ha="center", va="center", transform=axes[0].transAxes)
    fig.suptitle(f"Marginal effects on validation {metric_name} (mean ± 95% CI)")
    return fig


def _marginal_axes(ax: Axes, marginal: Marginal, metric_name: str, overall: Marginal | None) -> None:
    lines = [(str(g) if g is not None else None, [p for p in marginal.points if p.group == g], f"C{k}")
             for k, g in enumerate(dict.fromkeys(p.group for p in marginal.points))]
    if overall is not None:
        lines.insert(0, ("all", list(overall.points), "black"))
    labels = list(dict.fromkeys(p.label for _, points, _ in lines for p in points))
    xs = np.array([p.x for _, points, _ in lines for p in points], dtype=float) if marginal.numeric else np.zeros(1)
    scale = np.log if marginal.log else (lambda v: v)
    span = (float(np.ptp(scale(xs))) if xs.size else 0.0) or 1.0  # a marginal of no or one point has no span
    for k, (name, points, color) in enumerate(lines):
        offset = 0.0 if len(lines) == 1 else (k - (len(lines) - 1) / 2)
        if marginal.numeric:  # lines side by side, 1.2% of the axis apart, so their intervals do not hide each other
            x = np.array([p.x for p in points], dtype=float)
            x = x * np.exp(offset * 0.012 * span) if marginal.log else x + offset * 0.012 * span
        else:
            x = np.array([labels.index(p.label) + offset * 0.12 for p in points])
        mean = np.array([p.mean for p in points])
        low = np.array([p.mean if p.ci_low is None else p.ci_low for p in points])
        high = np.array([p.mean if p.ci_high is None else p.ci_high for p in points])
        fmt = "o-" if marginal.numeric else "o"
        ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt=fmt, ms=4, capsize=3, color=color, label=name)
    if marginal.log:
        log_axis(ax, base=2 if marginal.integer else 10)
    if not marginal.numeric:
        ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels), default=0) > 6 else 0)
    elif marginal.discrete:
        ticks = {p.x: p.label for p in marginal.points}
        value_ticks(ax, list(ticks), list(ticks.values()))
    title = marginal.param if marginal.by is None else f"{marginal.param} by {marginal.by}"
    _labelled(ax, marginal.param + (" (log scale)" if marginal.log else ""), f"validation {metric_name}", title)
    if marginal.by is not None:
        _legend_above_data(ax, len(lines))


def _legend_above_data(ax: Axes, entries: int, columns: int = 3) -> None:
    """A legend in a band added above the data (raising the y limit), so that it covers no point."""
    rows = -(-entries // columns)
    low, high = ax.get_ylim()
    ticks = [t for t in ax.get_yticks() if low <= t <= high]  # none in the legend's band
    height = ax.get_position().height * ax.figure.get_size_inches()[1]
    share = min(0.5, (0.17 * rows + 0.12) / height)
    ax.set_ylim(low, low + (high - low) / (1 - share))
    ax.set_yticks(ticks)
    ax.legend(fontsize=7, loc="upper center", ncol=min(columns, entries), handlelength=1.5, columnspacing=1.0, borderaxespad=0.3)
