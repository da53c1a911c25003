"""End to end through the real parts: CLI → embedded Ray Tune → LSTM training → ledger + MLflow."""

from __future__ import annotations

import json

import pytest


pytestmark = pytest.mark.usefixtures("ray_session")


def test_sweep_is_recorded_in_ledger_and_mlflow_identically_at_any_concurrency(run, tiny_spec) -> None:
    from mlflow.tracking import MlflowClient

    from searchsvc.home import default_tracking_uri

    runs = {}
    for concurrent in (1, 2):
        code, out, err = run("submit", str(tiny_spec(concurrent)), "--json")
        assert code == 0, err
        runs[concurrent] = json.loads(out)
    code, out, _ = run("validate", str(tiny_spec(1)), "--show", "6", "--json")
    shown = {t["trial_index"]: t["config"] for t in json.loads(out)["trials"]}

    client = MlflowClient(default_tracking_uri())
    for concurrent, outcome in runs.items():
        code, out, _ = run("show", outcome["sweep_id"], "--json")
        trials = json.loads(out)["trials"]
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
            assert child.data.params["units"] == str(shown[k]["units"])
            history = client.get_metric_history(child.info.run_id, "val_accuracy")
            assert len(history) == trials[k]["epochs"] >= 1
            assert [m.step for m in history] == list(range(1, len(history) + 1))


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
