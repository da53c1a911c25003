"""The seams through real services: an `mlflow server` on loopback backed by PostgreSQL, and the
PostgreSQL ledger — the same programs docker-compose.yml runs, started natively."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("ray_session")


def test_sweep_against_mlflow_server_and_postgres_ledger(mlflow_server, postgres_url, run, tiny_spec) -> None:
    from mlflow.tracking import MlflowClient

    code, out, err = run("submit", str(tiny_spec(2)), "--json",
                         "--tracking-uri", mlflow_server, "--ledger", postgres_url)
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["tracking_uri"] == mlflow_server

    code, out, _ = run("show", outcome["sweep_id"], "--ledger", postgres_url, "--json")
    trials = json.loads(out)["trials"]
    assert len(trials) == 6 and all(t["status"] in ("ok", "diverged") for t in trials)

    client = MlflowClient(mlflow_server)
    parent = client.get_run(outcome["parent_run_id"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(r.data.tags["searchsvc.trial_index"]) for r in children) == list(range(6))
    assert {r.info.run_id for r in children} == {t["mlflow_run_id"] for t in trials}
    assert "spec.json" in [a.path for a in client.list_artifacts(parent.info.run_id)]
