"""A user's own series through the CLI: every bad file is refused before anything runs (exit 2, one line
naming the file, the column and the fix; no traceback; nothing written); and every shipped spec runs
end to end, submit then analyze, on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.experiments.bad_data import arrays as _arrays
from tests.experiments.bad_data import bad_npz as _bad_npz
from tests.experiments.bad_data import bad_series as _bad

ROOT = Path(__file__).resolve().parents[3]
CASES = ["missing_file", "missing_feature", "text_feature", "too_few_rows", "horizon_past_the_end",
         "constant_feature", "constant_target", "one_class", "missing_value"]


@pytest.mark.parametrize("command", ["validate", "submit"])
@pytest.mark.parametrize("case", CASES)
def test_bad_series_data_exits_2_naming_the_file_and_nothing_is_written(case, command, run, tmp_path,
                                                                         searchsvc_home) -> None:
    """``validate`` reads the data set as ``submit`` does, and refuses it with the same line."""
    path, settings = _bad(tmp_path, case)
    dataset = {"name": "series", "path": str(path), **{k: list(v) if isinstance(v, tuple) else v
                                                      for k, v in settings.items()}}
    spec = tmp_path / "series.yaml"
    spec.write_text(yaml.safe_dump({"name": "series", "trials": 2, "dataset": dataset, "space": {"units": 8}}))
    code, out, err = run(command, spec, *(["-q"] if command == "submit" else []))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: dataset") and str(path) in err, err
    assert "Traceback" not in err and out == ""
    written = {p.name for p in searchsvc_home.iterdir()} if searchsvc_home.exists() else set()
    assert written <= {"datasets"}, written


def _npz_case(tmp_path, case):
    """(data file, dataset settings, space) of a bad multi-label, static or head/resampling case."""
    if case in ("labels_not_01", "static_count", "static_nan", "constant_label"):
        return _bad_npz(tmp_path, case), {}, {"units": 8}
    a = _arrays()
    path = tmp_path / f"{case}.npz"
    if case == "binary_head_on_three_classes":
        np.savez(path, X=a["X"], y=np.arange(len(a["X"])) % 3)
        return path, {}, {"units": 8, "binary_head": {"type": "choice", "values": ["softmax2", "sigmoid1"]}}
    if case == "resample_on_a_regression":
        np.savez(path, X=a["X"], y=a["X"][:, 0, 0])
        return path, {"task": "regression"}, {"units": 8, "resample": "oversample"}
    if case == "resample_on_multilabel":
        np.savez(path, **a)
        return path, {"objective": "macro_f1"}, {"units": 8, "resample": {"type": "choice", "values": ["none", "undersample"]}}
    np.savez(path, X=a["X"], y=a["y"])  # static_input_without_static
    return path, {"objective": "macro_f1"}, {"units": 8, "static_input": {"type": "choice", "values": [True, False]}}


NPZ_CASES = {"labels_not_01": "dataset y:", "static_count": "dataset static:", "static_nan": "dataset static:",
             "constant_label": "dataset y:", "binary_head_on_three_classes": "space.binary_head:",
             "resample_on_a_regression": "space.resample:", "resample_on_multilabel": "space.resample:",
             "static_input_without_static": "space.static_input:"}


@pytest.mark.parametrize("case", NPZ_CASES)
def test_bad_multilabel_static_or_head_data_exits_2_naming_the_file_and_nothing_is_written(case, run, tmp_path,
                                                                                          searchsvc_home) -> None:
    path, dataset, space = _npz_case(tmp_path, case)
    metric = dataset.pop("objective", None)
    document = {"name": "bad", "trials": 2, "dataset": {"name": "npz", "path": str(path), **dataset}, "space": space}
    if metric:
        document["objective"] = {"metric": metric}
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(document))
    code, out, err = run("submit", spec, "-q")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: " + NPZ_CASES[case]), err
    assert str(path) in err and "Traceback" not in err and out == ""
    written = {p.name for p in searchsvc_home.iterdir()} if searchsvc_home.exists() else set()
    assert written <= {"datasets"}, written
    code, out, _ = run("list", "--json")
    assert code == 0 and json.loads(out) == []


SHIPPED = sorted(ROOT.glob("experiments/*.yaml"))


@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize("shipped", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_each_shipped_spec_runs_end_to_end_on_a_tiny_budget(shipped, run, tmp_path) -> None:
    spec = yaml.safe_load(shipped.read_text())
    spec.update(trials=3, max_concurrent=2, training={**spec.get("training", {}), "max_epochs": 2, "patience": None})
    if spec["dataset"].get("path"):
        spec["dataset"]["path"] = str(shipped.parent / spec["dataset"]["path"])
    if spec["dataset"]["name"] == "mnist1d":
        spec["dataset"]["samples"] = 600
    tiny = tmp_path / shipped.name
    tiny.write_text(yaml.safe_dump(spec))
    code, out, err = run("submit", tiny, "--json")
    assert code == 0, err
    outcome = json.loads(out)
    assert sum(outcome["counts"].values()) == 3 and outcome["status"] == "completed"
    code, out, err = run("analyze", outcome["sweep_id"], "--out", tmp_path / "report", "--no-importance", "--json")
    assert code == 0, err
    assert [row["s"] for row in json.loads(out)["efficiency"]] == [1, 2]
    summary = (tmp_path / "report" / "summary.txt").read_text()
    noise_model = spec.get("objective", {}).get("metric", "accuracy") == "accuracy" and spec["dataset"]["name"] != "adding"
    assert noise_model == ("eq. 5–6): " in summary) and noise_model != ("was not used" in summary), summary
