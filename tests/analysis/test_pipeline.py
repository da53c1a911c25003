"""analyze(): the files it writes, the report's JSON and text; the package's public names."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import analysis
from analysis import analyze, synthetic_trials
from analysis.errors import DataError, UsageError
from tests.analysis.tables import tables

FIGURES = ("efficiency", "expected_best", "trials_needed", "marginals", "importance")
TABLES = (
    "efficiency", "efficiency_experiments", "expected_best", "trials_needed", "trials_needed_doublings",
    "best_trials", "marginals", "importance",
)


def test_analyze_writes_every_file_and_the_documented_json(tmp_path, synthetic):
    source = tmp_path / "trials.parquet"
    analysis.write_trials(synthetic, source)
    report = analyze(source, tmp_path / "out", mode="max", metric_name="accuracy", references={"grid search": 0.81})
    expected = {f"{s}.{ext}" for s in FIGURES for ext in ("png", "svg")} | {f"{t}.csv" for t in TABLES} | {"summary.txt", "report.json"}
    assert {p.name for p in report.files} == expected
    assert {p.name for p in (tmp_path / "out").iterdir()} == expected
    assert all(p.stat().st_size > 0 for p in report.files)
    data = json.loads(report.to_json())
    assert data == json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(data) >= {"efficiency", "noise_aware", "status_counts", "best", "trials_needed", "importance", "files"}
    for row in data["efficiency"]:
        assert set(row) >= {"s", "experiments", "mean", "median", "q1", "q3", "min", "max", "expected_best"}
    assert [row["s"] for row in data["efficiency"]] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert set(data["noise_aware"]) >= {"mean", "sd"} and data["noise_aware"]["sd"] > 0
    assert data["status_counts"]["used"] == report.counts.used == len(pd.read_csv(tmp_path / "out" / "efficiency_experiments.csv").query("s == 1"))
    assert data["best"]["most_probable"]["p_best"] > 0
    assert {r["param"] for r in data["importance"]} == {"units", "layers", "dropout_placement", "dropout", "optimizer", "lr", "momentum"}
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert summary.strip() == report.summary_text() and "accuracy" in summary and "P(truly best)" in summary
    assert b"grid search" in (tmp_path / "out" / "efficiency.svg").read_bytes()


def test_without_set_sizes_importance_or_figures(tmp_path):
    frame = synthetic_trials(40, seed=1, val_n=None, test_n=None, failures=False)
    frame["val_score"] = 1 - frame["val_score"]  # an error rate: lower is better
    frame["test_score"] = 1 - frame["test_score"]
    report = analyze(frame, tmp_path, mode="min", importance=False, figures=False)
    data = report.to_dict()
    assert data["noise_aware"] is None and data["best"]["most_probable"] is None and data["importance"] is None
    assert all(row["noise_aware_mean"] is None for row in data["efficiency"])
    assert not any(p.suffix in (".png", ".svg") for p in report.files)
    assert data["trials_needed"]["doublings"][0]["gain"] > 0
    assert "noise model" in report.summary_text()


def test_single_trial_table(tmp_path):
    frame = pd.DataFrame({"trial_index": [0], "status": ["ok"], "val_score": [0.5], "test_score": [0.4], "val_n": [100], "test_n": [100]})
    data = analyze(frame, tmp_path, mode="max").to_dict()
    assert data["efficiency"] == [
        {"s": 1, "experiments": 1, "mean": 0.4, "median": 0.4, "q1": 0.4, "q3": 0.4, "min": 0.4, "max": 0.4, "expected_best": 0.4, "noise_aware_mean": 0.4}
    ]
    assert data["noise_aware"]["mean"] == pytest.approx(0.4) and data["importance"] == []


def test_errors(tmp_path, synthetic):
    with pytest.raises(DataError, match="'val_score'"):
        analyze(synthetic.drop(columns="val_score"), tmp_path, mode="max")
    with pytest.raises(UsageError, match="mode"):
        analyze(synthetic, tmp_path, mode="best")
    with pytest.raises(UsageError, match="references"):
        analyze(synthetic, tmp_path, mode="max", references={"grid": "n/a"})


def test_public_names_are_the_objects_not_modules():
    import analysis.best_of_n, analysis.budget, analysis.efficiency  # noqa: E401, F401  (submodules imported first)

    for name in analysis.__all__:
        assert not isinstance(getattr(analysis, name), type(sys)), name


def test_import_is_light():
    code = "import sys, analysis; print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'optuna', 'ray', 'mlflow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys, analysis.pipeline; print(sorted(m for m in ('matplotlib', 'optuna', 'ray', 'mlflow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_random_tables_analyse_to_valid_json(tmp_path, args):
    frame, mode = args
    report = analyze(frame, tmp_path / "random", mode=mode, importance=False, figures=False)
    data = json.loads(report.to_json())  # allow_nan=False: every number finite or null
    assert data["status_counts"]["used"] == len(frame[frame["status"].isin(["ok", "diverged"])])
    assert [row["experiments"] for row in data["efficiency"]][0] == data["trials"]
    assert (data["noise_aware"] is None) == (report.best.weights is None)
    for m in report.marginals:  # conditional dropout: only where active
        assert sum(p.n for p in m.points if p.group is None) <= data["trials"]
