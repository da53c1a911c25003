"""Every figure at the quickstart's size (S = 24) and at S = 256: drawn without warnings, no empty panel,
readable ticks (labelled log axes, distinct numeric labels, no two labels overlapping)."""

from __future__ import annotations

import warnings

import pytest

from analysis import TrialTable, analyze, fanova_importance, plots
from analysis.ticks import log_ticks
from tests.analysis.conftest import quickstart_grid, quickstart_space, quickstart_trials

FAST = {"n_trees": 8, "max_depth": 4}


def _figures(size, tmp_path, mode):
    frames = [quickstart_trials(size, seed=1), quickstart_grid(), quickstart_trials(size, seed=2, method="sobol"),
              quickstart_trials(size, seed=5)]
    if mode == "min":  # error rates
        frames = [f.assign(val_score=1 - f["val_score"], test_score=1 - f["test_score"]) for f in frames]
    random, grid, sobol, again = frames
    compare = [("grid 3x2x2x3", "grid", grid), ("sobol", "sobol", sobol), ("second sweep", "random", again)]
    space = quickstart_space()
    report = analyze(random, tmp_path, mode=mode, distributions=space, importance=False, figures=False, compare=compare)
    name = "accuracy" if mode == "max" else "error"
    importance = fanova_importance(TrialTable.from_frame(random, mode=mode), space, **FAST)
    return {
        "efficiency": plots.efficiency_figure(report.efficiency, metric_name=name, references={"a line": 0.8}),
        "expected_best": plots.expected_best_figure(report.expected_best, report.expected_best_replacement, metric_name=name, size=size),
        "trials_needed": plots.trials_needed_figure(report.trials_needed, metric_name=name),
        "marginals": plots.marginals_figure(report.marginals, metric_name=name),
        "importance": plots.importance_figure(importance, metric_name=name),
        "comparison": plots.comparison_figure(report.comparison, metric_name=name),
    }


def _tick_labels(axis, renderer):
    low, high = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_major_ticks() if low - 1e-12 * abs(low) <= t.get_loc() <= high + 1e-12 * abs(high)]
    return [t.label1 for t in ticks if t.label1.get_visible()] + [t.label2 for t in ticks if t.label2.get_visible()]


def _twin(fig, ax, axis):
    shared = ax.get_shared_x_axes() if axis is ax.xaxis else ax.get_shared_y_axes()
    return any(shared.joined(ax, other) for other in fig.axes if other is not ax)


def _number(text):
    try:
        return float(text.replace("−", "-"))
    except ValueError:
        return None


def assert_readable(stem, fig):
    """No empty panel; every tick labelled, numeric labels distinct, log axes with two or more, none overlapping."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        if not ax.axison:
            continue
        assert ax.has_data(), f"{stem}: the panel {ax.get_title()!r} is empty"
        for axis in (ax.xaxis, ax.yaxis):
            where = f"{stem}, panel {ax.get_title()!r}, {axis.axis_name} axis"
            labels = _tick_labels(axis, renderer)
            texts = [t.get_text() for t in labels]
            if not texts and _twin(fig, ax, axis):
                continue  # the shared axis of a twin shows its labels on the other axes
            assert texts and all(texts), f"{where}: a tick without a label ({texts})"
            numbers = [_number(t) for t in texts]
            if all(n is not None for n in numbers):
                assert len(set(texts)) == len(texts), f"{where}: repeated tick labels {texts}"
            if axis.get_scale() == "log":
                assert len(texts) >= 2, f"{where}: a log axis with {texts}"
            boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: (b.x0, b.y0))
            for a, b in zip(boxes, boxes[1:]):
                assert not a.overlaps(b), f"{where}: tick labels overlap in {texts}"


@pytest.mark.parametrize(("size", "mode"), [(24, "max"), (256, "max"), (24, "min")])
def test_every_figure_is_readable(tmp_path, size, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = _figures(size, tmp_path, mode)
        for stem, fig in figures.items():
            assert_readable(stem, fig)
    assert set(figures) == {"efficiency", "expected_best", "trials_needed", "marginals", "importance", "comparison"}


def test_log_ticks_are_round_and_few():
    assert log_ticks(14.6, 105, base=2).tolist() == [16, 32, 64]  # units 16–96
    assert log_ticks(8e-4, 3.5e-2).tolist() == [1e-3, 2e-3, 5e-3, 1e-2, 2e-2]  # lr 1e-3–3e-2
    assert log_ticks(0.7, 362, base=2).tolist() == [1, 4, 16, 64, 256]  # 1..256 trials, at most 7
    assert log_ticks(1e-5, 1.0).tolist() == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert log_ticks(0.3, 2.4).tolist() == [0.5, 1, 2]  # compute in minutes
    assert log_ticks(0.9, 3.5).tolist() == [0.9, 1, 2, 3]  # 1…9 × 10^k
    assert log_ticks(1.5, 3.5).tolist() == [2, 3]  # two of them
    assert log_ticks(1.1, 1.9).tolist() == [1.1, 1.4, 1.9]  # narrower still: rounded to two digits
    with pytest.raises(ValueError, match="log axis"):
        log_ticks(0.0, 1.0)
