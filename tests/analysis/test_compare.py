"""Random search against grid, Sobol and other random searches (Bergstra & Bengio Fig. 5)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import TrialTable, analyze, compare_strategies, efficiency_curve, noise_aware
from analysis.compare import ROW_COLUMNS, reached_at
from analysis.errors import DataError, UsageError
from tests.analysis.tables import table

# random trials in index order, validation = test: experiments of s = 1, 2, 4, 8 have the medians
# 0.45 (all eight), 0.65 (pair maxima 0.8 0.7 0.6 0.5), 0.7 (0.8 0.6) and 0.8
RANDOM = [0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.5]
# Sobol points in index order, validation = test: aligned block maxima are
# s=1: the values; s=2: 0.5 0.9 0.4 0.8; s=4: 0.9 0.8; s=8: 0.9
SOBOL = [0.3, 0.5, 0.1, 0.9, 0.2, 0.4, 0.8, 0.6]


def _curve(values, mode="max"):
    return efficiency_curve(TrialTable.from_frame(table(values, values), mode=mode))


def _grid(best_test):
    # best by validation is the middle trial; its test score is not the largest one
    return table([0.3, 0.9, 0.5], [0.2, best_test, 0.99])


def test_grid_reference_at_the_third_best_random_trial():
    comparison = compare_strategies(_curve(RANDOM), [("grid 3", "grid", _grid(0.6))], mode="max")
    (ref,) = comparison.references
    assert (ref.label, ref.trials, ref.best) == ("grid 3", 3, 0.6)
    assert ref.reached_at == 2  # median at s=2 is 0.65 ≥ 0.6; at s=1 0.45
    assert ref.noise_mean is None and ref.noise_sd is None and ref.noise_reached_at is None


@pytest.mark.parametrize(("best", "expected"), [(0.45, 1), (0.65, 2), (0.75, 8), (0.8, 8), (0.9, None)])
def test_smallest_s_reaching_the_grid(best, expected):
    (ref,) = compare_strategies(_curve(RANDOM), [("g", "grid", _grid(best))], mode="max").references
    assert ref.reached_at == expected


def test_min_mode_reaches_downwards():
    losses = [1 - v for v in RANDOM]  # medians 0.55, 0.35, 0.3, 0.2
    grid = table([0.7, 0.1, 0.5], [0.8, 0.4, 0.01])  # best by validation (lowest loss): test 0.4
    (ref,) = compare_strategies(_curve(losses, "min"), [("g", "grid", grid)], mode="min").references
    assert ref.best == pytest.approx(0.4) and ref.reached_at == 2
    assert reached_at([(1, 0.55), (2, 0.35)], 0.1, "min") is None


def test_sobol_blocks_have_the_known_maxima():
    comparison = compare_strategies(_curve(RANDOM), [("sobol", "sobol", table(SOBOL, SOBOL))], mode="max")
    (curve,) = comparison.curves
    assert (curve.label, curve.kind, curve.trials) == ("sobol", "sobol", 8)
    got = [(r.s, r.blocks, r.median, r.min, r.max) for r in curve.rows]
    expected = [(1, 8, 0.45, 0.1, 0.9), (2, 4, 0.65, 0.4, 0.9), (4, 2, 0.85, 0.8, 0.9), (8, 1, 0.9, 0.9, 0.9)]
    assert [r[:2] for r in got] == [e[:2] for e in expected]
    np.testing.assert_allclose([r[2:] for r in got], [e[2:] for e in expected])
    assert all(r.noise_median is None for r in curve.rows)


def test_sobol_blocks_of_a_table_not_a_power_of_two_long_and_their_noise_medians():
    values = SOBOL + [0.95, 0.05]  # 10 points: s=8 has one block (the first 8), s=2 five
    frame = table(values, values, val_n=10**12, test_n=10**12)
    (curve,) = compare_strategies(_curve(RANDOM), [("q", "sobol", frame)], mode="max").curves
    assert [(r.s, r.blocks) for r in curve.rows] == [(1, 10), (2, 5), (4, 2), (8, 1)]
    assert curve.rows[1].max == 0.95 and curve.rows[3].max == 0.9
    for r in curve.rows:  # huge validation sets: eq. 5–6 is best-by-validation
        assert r.noise_median == pytest.approx(r.median, abs=1e-9)


def test_sobol_with_a_gap_in_its_trial_indices_is_refused():
    gap = table(SOBOL, SOBOL).assign(trial_index=[0, 1, 2, 3, 5, 6, 7, 8])
    with pytest.raises(UsageError, match=r"'my sobol'.*trial 4 is missing"):
        compare_strategies(_curve(RANDOM), [("my sobol", "sobol", gap)], mode="max")
    failed = table(SOBOL, SOBOL, status=["ok", "ok", "error"] + ["ok"] * 5)
    with pytest.raises(UsageError, match=r"'s2'.*trial 2 is missing"):
        compare_strategies(_curve(RANDOM), [("s2", "sobol", failed)], mode="max")
    # a grid or random table with the same gaps is fine: they are not cut into aligned blocks
    compare_strategies(_curve(RANDOM), [("g", "grid", gap), ("r", "random", failed)], mode="max")


def test_grid_noise_model_is_eq_5_6_over_all_its_trials():
    rng = np.random.default_rng(0)
    val, test = rng.uniform(0.78, 0.82, 12), rng.uniform(0.78, 0.82, 12)
    random = efficiency_curve(TrialTable.from_frame(table(val, test, val_n=500, test_n=500), mode="max"))
    grid = table([0.8, 0.81, 0.79], [0.805, 0.8, 0.79], val_n=500, test_n=500)
    (ref,) = compare_strategies(random, [("g", "grid", grid)], mode="max").references
    g = TrialTable.from_frame(grid, mode="max")
    _, mean, sd = noise_aware(g.oriented_val, g.val_n, g.test, g.test_n, g.val)
    assert ref.best == 0.8 and (ref.noise_mean, ref.noise_sd) == pytest.approx((float(mean), float(sd)))
    noise_medians = [(lvl.s, float(np.median(lvl.noise_means))) for lvl in random.levels]
    assert ref.noise_reached_at == reached_at(noise_medians, ref.noise_mean, "max")
    assert ref.noise_reached_at is not None  # the grid's mixture is ~0.8; so are the random means


def test_a_second_random_search_is_summarised_by_its_experiments():
    other = table(SOBOL, SOBOL)
    (curve,) = compare_strategies(_curve(RANDOM), [("again", "random", other)], mode="max").curves
    for row, lvl in zip(curve.rows, efficiency_curve(TrialTable.from_frame(other, mode="max")).levels, strict=True):
        assert (row.s, row.blocks, row.median, row.min, row.max) == (lvl.s, lvl.experiments, np.median(lvl.values), lvl.values.min(), lvl.values.max())


BAD = {
    "unknown kind": ([("halton", "halton", None)], UsageError, r"compare\[0\] \('halton'\).*unknown kind 'halton'"),
    "empty label": ([(" ", "grid", None)], UsageError, r"compare\[0\] has an empty label"),
    "duplicate labels": ([("a", "grid", "G"), ("a", "sobol", "S")], UsageError, r"compare\[1\].*'a' is used twice"),
    "not a triple": ([("a", "grid")], UsageError, r"compare\[0\] must be a \(label, kind, table\)"),
    "invalid table": ([("broken grid", "grid", "G-no-val")], DataError, r"'broken grid'.*'val_score'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_comparisons(case):
    items, error, message = BAD[case]
    sources = {"G": _grid(0.6), "S": table(SOBOL, SOBOL), "G-no-val": _grid(0.6).drop(columns="val_score")}
    items = [tuple(sources.get(x, x) if isinstance(x, str) and k == 2 else x for k, x in enumerate(item)) for item in items]
    with pytest.raises(error, match=message):
        compare_strategies(_curve(RANDOM), items, mode="max")


def test_a_prepared_table_must_have_the_same_mode():
    with pytest.raises(UsageError, match="'g'.*mode 'min'"):
        compare_strategies(_curve(RANDOM), [("g", "grid", TrialTable.from_frame(_grid(0.6), mode="min"))], mode="max")


@pytest.mark.parametrize("mode", ["max", "min"])
def test_analyze_writes_the_comparison(tmp_path, mode):
    flip = (lambda v: [1 - x for x in v]) if mode == "min" else (lambda v: v)
    grid_path = tmp_path / "grid.csv"
    grid = _grid(0.6)
    if mode == "min":
        grid = table([0.7, 0.1, 0.5], [0.8, 0.4, 0.01])
    grid.to_csv(grid_path, index=False)
    compare = [("grid 3", "grid", grid_path), ("sobol 8", "sobol", table(flip(SOBOL), flip(SOBOL)))]
    report = analyze(table(flip(RANDOM), flip(RANDOM)), tmp_path / "out", mode=mode, importance=False, compare=compare)
    names = {p.name for p in report.files}
    assert {"comparison.png", "comparison.svg", "comparison.csv"} <= names
    csv = pd.read_csv(tmp_path / "out" / "comparison.csv")
    assert tuple(csv.columns) == ROW_COLUMNS
    assert csv["kind"].tolist() == ["grid"] + ["sobol"] * 4 and csv.loc[0, "reached_at"] == 2
    assert csv.loc[1:, "s"].tolist() == [1, 2, 4, 8] and csv.loc[0, ["s", "median"]].isna().all()
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["comparison"]["references"][0]["reached_at"] == 2
    assert [r["s"] for r in data["comparison"]["curves"][0]["rows"]] == [1, 2, 4, 8]
    summary = report.summary_text()
    assert f"grid 3 (grid, 3 trials): best test score {0.6 if mode == 'max' else 0.4:.4f}" in summary
    assert "reaches it at s = 2" in summary and "sobol 8 (sobol, 8 trials)" in summary
    assert b"aligned blocks" in (tmp_path / "out" / "comparison.svg").read_bytes()


def test_analyze_without_comparison_has_none_and_checks_before_writing(tmp_path):
    report = analyze(table(RANDOM, RANDOM), tmp_path / "a", mode="max", importance=False, figures=False)
    assert report.comparison is None and report.to_dict()["comparison"] is None
    assert not (tmp_path / "a" / "comparison.csv").exists()
    with pytest.raises(UsageError, match="unknown kind"):
        analyze(table(RANDOM, RANDOM), tmp_path / "b", mode="max", compare=[("x", "lhs", _grid(0.6))])
    assert not (tmp_path / "b").exists()
