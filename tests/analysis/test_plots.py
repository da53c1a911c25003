"""Every figure at the quickstart's size (S = 24) and at S = 256: drawn without warnings, no empty panel,
readable ticks (labelled log axes, distinct numeric labels, no two labels overlapping)."""

from __future__ import annotations

import warnings

import pytest

from analysis import TrialTable, analyze, fanova_importance, plots
from analysis.ticks import log_ticks
from tests.analysis.figures import assert_readable
from tests.analysis.tables import quickstart_grid, quickstart_space, quickstart_trials

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
