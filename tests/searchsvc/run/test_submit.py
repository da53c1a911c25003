"""End to end through the real parts: CLI → embedded Ray Tune → LSTM training → ledger + MLflow."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("ray_session")


def test_sweep_is_recorded_in_ledger_and_mlflow_identically_at_any_concurrency(run, tiny_spec) -> None:
    """One trial per Ray Tune trial one at a time, then bundles two at a time: the same configs and, trial by
    trial, the same scores (trials that share a worker process do not influence each other)."""
    from mlflow.tracking import MlflowClient

    from searchsvc.home import default_tracking_uri

    runs = {}
    for concurrent, bundle in ((1, 1), (2, "auto")):
        code, out, err = run("submit", str(tiny_spec(concurrent, bundle=bundle)), "--json")
        assert code == 0, err
        runs[concurrent] = json.loads(out)
    assert runs[1]["bundles"] == 6 and runs[2]["bundles"] == 5  # factoring: [0, 1], [2], [3], [4], [5]
    assert runs[2]["recording_cpu_seconds"] > 0
    code, out, _ = run("validate", str(tiny_spec(1)), "--show", "6", "--json")
    shown = {t["trial_index"]: t["config"] for t in json.loads(out)["trials"]}

    client = MlflowClient(default_tracking_uri())
    scores = {}
    for concurrent, outcome in runs.items():
        code, out, _ = run("show", outcome["sweep_id"], "--json")
        trials = json.loads(out)["trials"]
        scores[concurrent] = [(t["status"], t["val_score"], t["test_score"]) for t in trials]
        assert [t["trial_index"] for t in trials] == list(range(6))
        assert all(t["status"] in ("ok", "diverged") for t in trials)
        assert {t["trial_index"]: t["config"] for t in trials} == shown  # same configs at any concurrency
        assert all(t["val_n"] and t["test_n"] for t in trials if t["status"] == "ok")

        parent = client.get_run(outcome["parent_run_id"])
        children = client.search_runs([parent.info.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert len(children) == 6
        by_index = {int(r.data.tags["searchsvc.trial_index"]): r for r in children}
        assert sorted(by_index) == list(range(6))
        for k, child in by_index.items():
            assert child.info.status == "FINISHED"
            assert child.data.tags["searchsvc.status"] == trials[k]["status"]
            assert child.data.tags["searchsvc.attempts"] == str(trials[k]["attempts"])
            assert child.data.tags["searchsvc.device"] == trials[k]["device"] == "cpu"
            assert child.data.params["units"] == str(shown[k]["units"])
            history = client.get_metric_history(child.info.run_id, "val_accuracy")
            assert len(history) == trials[k]["epochs"] >= 1
            assert [m.step for m in history] == list(range(1, len(history) + 1))
            assert child.info.start_time <= child.info.end_time
        _the_sweeps_run_shows_its_results(client, parent, outcome)
    assert scores[1] == scores[2]


def _the_sweeps_run_shows_its_results(client, parent, outcome) -> None:
    """MLflow's UI opens the experiment on its runs (model training), and the sweep's run shows the key
    results on its first page: the summary as its description, the expected best of s as a metric over s,
    and the efficiency figure among its artifacts; submit's dashboard link goes to that page."""
    assert client.get_experiment(parent.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert parent.info.status == "FINISHED" and "Best by validation: trial" in parent.data.tags["mlflow.note.content"]
    assert parent.data.tags["searchsvc.best_trial"] == str(outcome["best"]["trial_index"])
    steps = [m.step for m in client.get_metric_history(parent.info.run_id, "expected_best_test_accuracy")]
    assert steps == [1, 2, 4]  # of 6 trials
    figures = {a.path for a in client.list_artifacts(parent.info.run_id, "analysis")}
    assert {"analysis/efficiency.png", "analysis/expected_best.png"} <= figures
    assert "analysis/marginals.png" not in figures  # left to `searchsvc analyze`


def test_status_list_and_unknown_sweep(run, tiny_spec) -> None:
    code, out, err = run("submit", str(tiny_spec(2)), "--no-mlflow")
    assert code == 0, err
    assert "Best trial" in out and "[6/6]" in err  # progress lines on stderr, summary on stdout
    code, out, _ = run("list", "--json")
    sweeps = json.loads(out)
    assert len(sweeps) == 1 and sweeps[0]["finished"] == 6
    code, out, _ = run("status", sweeps[0]["sweep_id"])
    assert code == 0 and "completed" in out
    code, _, err = run("status", "no-such-sweep")
    assert code == 2 and "not in the ledger" in err


def test_analyze_a_sweep_writes_figures_and_attaches_them_to_its_mlflow_run(run, tiny_spec, tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    code, out, err = run("submit", tiny_spec(2), "--json")
    assert code == 0, err
    outcome = json.loads(out)
    report = tmp_path / "report"
    code, out, err = run("analyze", outcome["sweep_id"], "--out", report, "--json", "--reference", "chance=0.1")
    assert code == 0, err
    data = json.loads(out)
    assert [row["s"] for row in data["efficiency"]] == [1, 2, 4]
    assert {"experiments", "mean", "median", "q1", "q3", "min", "max", "expected_best"} <= set(data["efficiency"][0])
    assert data["noise_aware"]["sd"] > 0
    figures = {"efficiency", "expected_best", "trials_needed", "importance", "marginals"}
    for name in figures:
        assert (report / f"{name}.png").stat().st_size > 0 and (report / f"{name}.svg").exists()

    client = MlflowClient(outcome["tracking_uri"])
    attached = {a.path for a in client.list_artifacts(outcome["parent_run_id"], "analysis")}
    assert {f"analysis/{name}.png" for name in figures} <= attached

    code, _, err = run("export", outcome["sweep_id"], "--out", tmp_path / "trials.csv")
    assert code == 0, err
    assert (tmp_path / "trials.space.json").exists()  # the sweep's search space travels with its table
    code, out, err = run("analyze", "--table", tmp_path / "trials.csv", "--mode", "max", "--out", tmp_path / "r2",
                         "--json")
    assert code == 0, err
    table = json.loads(out)
    assert table["efficiency"] == data["efficiency"]  # the table round-trips
    assert table["importance"] == data["importance"]  # over the sweep's space, not one inferred from the values
    assert (tmp_path / "r2" / "marginals.csv").read_text() == (report / "marginals.csv").read_text()


@pytest.mark.parametrize(("args", "needle"), [
    (("analyze",), "either a SWEEP"),
    (("analyze", "no-such-sweep"), "not in the ledger"),
    (("analyze", "--table", "{csv}"), "--mode"),
    (("analyze", "--table", "{csv}", "--mode", "max", "--reference", "oops"), "--reference"),
    (("analyze", "--table", "{csv}", "--mode", "max"), "val_score"),
])
def test_analyze_bad_input_exits_2(args, needle, run, tmp_path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("trial_index,status,test_score\n0,ok,0.5\n")
    code, out, err = run(*(a.format(csv=csv) for a in args))
    assert code == 2 and needle in err and "Traceback" not in err, err


DIVERGING = """\
name: diverge
seed: 0
trials: 4
dataset: {name: adding, length: 20, train: 400, val: 100, test: 100}
training: {max_epochs: 3, grad_clip: null}
space:
  optimizer: sgd
  momentum: 0.0
  lr: {type: choice, values: [10.0, 0.001]}
  units: 16
"""


def test_a_diverging_config_is_recorded_diverged_and_the_sweep_completes(run, tmp_path) -> None:
    spec = tmp_path / "diverge.yaml"
    spec.write_text(DIVERGING)
    code, out, err = run("submit", spec, "--json")
    assert code == 0, err
    code, out, _ = run("show", json.loads(out)["sweep_id"], "--json")
    trials = json.loads(out)["trials"]
    by_lr = {t["config"]["lr"]: t for t in trials}
    assert by_lr[10.0]["status"] == "diverged" and by_lr[10.0]["attempts"] == 1  # a result, never retried
    assert "became" in by_lr[10.0]["message"] and by_lr[10.0]["test_score"] is None
    assert by_lr[0.001]["status"] == "ok"


@pytest.mark.parametrize("gpus, concurrent", [(0, 16), (0.25, 4), ("auto", 4), (0.5, 2)])
def test_auto_concurrency_counts_what_fits_on_the_gpus_too(gpus, concurrent) -> None:
    """16 CPUs and one GPU: with a GPU share per trial only 1/share trials fit at once, and the bundles
    are sized for that many."""
    from searchsvc.run.cluster import Capacity, Cluster
    from searchsvc.sweep.spec import parse_spec
    from tests.builders import TINY

    text = TINY.format(concurrent="auto", bundle="auto") + f"resources: {{cpus: 1, gpus: {gpus}}}\n"
    cluster = Cluster(parse_spec(text), address="head:6380")
    cluster.resources = lambda: {"CPU": 16.0, "GPU": 1.0}
    assert cluster.capacity().slots == concurrent
    cluster.resources = lambda: {"CPU": 16.0}  # no GPU (yet): gpus auto takes none, and CPUs bound it
    assert cluster.capacity() == (Capacity(0.0, 16) if gpus in (0, "auto") else Capacity(gpus, 1))


@pytest.mark.parametrize(("resources", "field"), [("{cpus: 64}", "resources.cpus"), ("{gpus: 1}", "resources.gpus")])
def test_a_trial_that_cannot_fit_on_this_machine_is_refused_before_anything_is_written(
        resources, field, run, tiny_spec, searchsvc_home) -> None:
    """On the embedded Ray it would wait forever; a cluster (--address) may still grow, so it is not refused."""
    import ray

    if field == "resources.gpus" and ray.is_initialized() and ray.cluster_resources().get("GPU", 0) >= 1:
        pytest.skip("this machine has a GPU")
    spec = tiny_spec()
    spec.write_text(spec.read_text() + f"resources: {resources}\n")
    code, out, err = run("submit", spec, "-q")
    assert code == 2 and field in err and "this machine's Ray has" in err and "Traceback" not in err, err
    written = {p.name for p in searchsvc_home.iterdir()} if searchsvc_home.exists() else set()
    assert out == "" and written <= {"datasets"}, f"a refused sweep must write no ledger or MLflow store: {written}"


def test_the_embedded_ray_runs_no_log_monitor(ray_session) -> None:
    """Nothing shows the workers' output (log_to_driver=False), and the monitor would poll their log files
    ten times a second on the trials' cores."""
    import ray

    from searchsvc.run.cluster import _start_ray

    _start_ray(None)
    session = ray._private.worker._global_node.get_session_dir_path()
    commands = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            commands.append(path.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    assert any(session in c and "raylet" in c for c in commands), "the scan sees this Ray's processes"
    assert not any(session in c and "log_monitor" in c for c in commands)


def test_extend_adds_the_trials_a_bigger_sweep_would_have_had(run, tiny_spec, tmp_path) -> None:
    spec = tiny_spec(2)
    code, out, err = run("submit", spec, "--json", "--no-mlflow")
    assert code == 0, err
    sweep_id = json.loads(out)["sweep_id"]
    code, out, err = run("extend", sweep_id, "--add", "2", "--json")
    assert code == 0, err
    trials = json.loads(run("show", sweep_id, "--json")[1])["trials"]
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(spec.read_text().replace("trials: 6", "trials: 8"))
    expected = {t["trial_index"]: t["config"] for t in json.loads(run("validate", bigger, "--show", "8", "--json")[1])["trials"]}
    assert {t["trial_index"]: t["config"] for t in trials} == expected
    assert all(t["status"] in ("ok", "diverged") for t in trials)


def test_validate_shows_each_trials_size_and_a_memory_limit_refuses_the_sweep(run, tiny_spec, searchsvc_home) -> None:
    spec = tiny_spec()
    code, out, _ = run("validate", spec, "--show", "3", "--json")
    shown = json.loads(out)["trials"]
    assert code == 0 and all(t["param_count"] > 0 and t["memory_bytes"] > t["optimizer_state_bytes"] >= 0 for t in shown)
    code, out, _ = run("validate", spec, "--show", "2")
    assert " params, ~" in out and "optimizer state" in out
    spec.write_text(spec.read_text() + "resources: {memory_limit: 100KiB}\n")
    for command in ("validate", "submit"):
        code, out, err = run(command, spec)
        assert code == 2 and "resources.memory_limit: trial 0 needs an estimated" in err and "Traceback" not in err
    assert not (searchsvc_home / "ledger.db").exists()


def test_the_end_of_submit_names_the_stores_by_address_and_the_next_step() -> None:
    from collections import Counter

    from searchsvc.run.driver import SweepOutcome
    from searchsvc.stores.records import TrialRecord
    from searchsvc.status import SweepStatus
    from searchsvc.cli.texts import outcome_text

    best = TrialRecord("s-1", 3, {"units": 16}, "ok")
    ledger = "postgresql+psycopg://searchsvc:***@db:5432/searchsvc"  # Ledger.display_url: the password hidden
    outcome = SweepOutcome("s-1", "accuracy", SweepStatus.COMPLETED, Counter(ok=4), best, ledger,
                           "http://mlflow:5000/", "r1", 12.0, dashboard_path="/#/experiments/7/runs/r1?workflowType=machine_learning")
    text = outcome_text("accuracy", outcome)
    assert f"Ledger:    {ledger}\n" in text  # an address, not a Python repr
    assert "Dashboard: http://mlflow:5000/#/experiments/7/runs/r1?workflowType=machine_learning" in text
    assert text.endswith("Next:      searchsvc analyze s-1 --out s-1-analysis")
