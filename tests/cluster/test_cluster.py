"""The cluster service as a team uses it: sweeps submitted through the Jobs API from a machine that then
goes away, followed, cancelled, resumed from new processes; a lost worker node, a killed driver; and the
driver run here, joined to the cluster (--address). Two real Ray nodes, a real MLflow server on a real
PostgreSQL, all started with docker-compose.yml's commands (tests/cluster/native.py)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from searchsvc.stores.ledger import get_ledger
from searchsvc.status import TrialStatus
from tests.cluster.native import submitted
from tests.cluster.native import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("cluster_logs_on_failure")]


def trials_of(cluster, sweep_id: str) -> list:
    return get_ledger(cluster.ledger).trials(sweep_id)


def finished(cluster, sweep_id: str) -> int:
    return sum(TrialStatus(t.status).final for t in trials_of(cluster, sweep_id))


def running(cluster, sweep_id: str) -> int:
    return sum(t.status == TrialStatus.RUNNING for t in trials_of(cluster, sweep_id))


def recorded_once(cluster, searchsvc, sweep_id: str, trials: int) -> list[dict]:
    """S ledger rows, distinct, all final; the parent run and S child runs on the MLflow server, none RUNNING,
    each the trial's run; the spec on the server."""
    from mlflow.tracking import MlflowClient

    shown = json.loads(searchsvc("show", sweep_id, "--json").stdout)
    rows = shown["trials"]
    assert [t["trial_index"] for t in rows] == list(range(trials))
    assert all(TrialStatus(t["status"]).final for t in rows), [t["status"] for t in rows]
    client = MlflowClient(cluster.tracking_uri)
    parent = client.get_run(shown["mlflow_run_id"])
    children = client.search_runs([parent.info.experiment_id], max_results=1000,
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(r.data.tags["searchsvc.trial_index"]) for r in children) == list(range(trials))
    assert {r.info.run_id for r in children} == {t["mlflow_run_id"] for t in rows}
    assert not [r for r in children if r.info.status == "RUNNING"] and parent.info.status == "FINISHED"
    assert "spec.json" in [a.path for a in client.list_artifacts(parent.info.run_id)]
    return rows


def test_a_sweep_submitted_through_the_jobs_api_runs_on_both_nodes_after_the_submitter_left(cluster, spec,
                                                                                          searchsvc) -> None:
    out = submitted(searchsvc("submit", spec(8), "--cluster", cluster.jobs_api, "--json"))
    sweep_id = out["sweep_id"]
    assert out["job_id"] == sweep_id and out["dashboard"].startswith(cluster.jobs_api)
    status = json.loads(searchsvc("status", sweep_id, "--json").stdout)  # the submitting process has exited
    assert status["status"] == "running" and (status["job_id"], status["cluster"]) == (sweep_id, cluster.jobs_api)
    searchsvc("status", sweep_id, "--watch", "--interval", "1")  # a new process follows it: exit 0 once completed
    rows = recorded_once(cluster, searchsvc, sweep_id, 8)
    assert len({t["node_id"] for t in rows}) == 2, "trials ran on both nodes"
    assert all(t["host"] for t in rows)
    logs = searchsvc("logs", sweep_id).stdout
    assert f"accepted sweep {sweep_id}" in logs and "[8/8]" in logs
    assert "warning" not in logs, logs[-3000:]  # the summary on the dashboard included
    assert searchsvc("logs", sweep_id, "--follow", "--cluster", cluster.jobs_api).stdout == logs  # the job ended

    extended = submitted(searchsvc("extend", sweep_id, "--add", "2", "--json"))  # on the cluster it ran on
    assert extended["sweep_id"] == sweep_id
    searchsvc("status", sweep_id, "--watch", "--interval", "1")
    recorded_once(cluster, searchsvc, sweep_id, 10)


def test_a_users_data_file_travels_with_the_job_or_is_read_where_the_cluster_sees_it(cluster, searchsvc,
                                                                                     tmp_path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", X=rng.normal(size=(80, 12, 2)).astype(np.float32), y=rng.integers(0, 2, 80))
    for path, flags in (("mine.npz", []), (str(tmp_path / "mine.npz"), ["--data-on-cluster"])):
        spec = tmp_path / "npz.yaml"
        spec.write_text(f"name: npz\nseed: 1\ntrials: 2\ndataset: {{name: npz, path: {path}}}\n"
                        "training: {max_epochs: 2}\nspace: {units: {type: choice, values: [4, 8]}}\n")
        sweep_id = submitted(searchsvc("submit", spec, "--cluster", cluster.jobs_api, *flags, "--json"))["sweep_id"]
        searchsvc("status", sweep_id, "--watch", "--interval", "1")
        recorded_once(cluster, searchsvc, sweep_id, 2)
        kept = str(get_ledger(cluster.ledger).sweep(sweep_id).spec.dataset.path)
        if flags:
            assert kept == str(tmp_path / "mine.npz")  # read where it lies
        else:  # uploaded, and kept in the cluster's searchsvc home for resume and extend
            assert kept.startswith(str(cluster.root / "home-ray-head" / "datasets" / "uploads")), kept


def test_cancel_stops_the_job_and_a_new_process_resumes_the_sweep(cluster, spec, searchsvc) -> None:
    # trials of ~4 s: the cancel (a new process, then the driver's next heartbeat) lands with trials to spare
    sweep_id = submitted(searchsvc("submit", spec(12, 60), "--cluster", cluster.jobs_api, "--json"))["sweep_id"]
    wait_for(lambda: finished(cluster, sweep_id) >= 2 and running(cluster, sweep_id), 180, "the sweep to be under way")
    searchsvc("cancel", sweep_id)
    status = searchsvc("status", sweep_id, "--watch", "--interval", "1", check=False)
    assert status.returncode == 130 and "cancelled" in status.stdout, status.stdout + status.stderr
    statuses = {t.status for t in trials_of(cluster, sweep_id)}
    assert TrialStatus.CANCELLED in statuses and not statuses & {TrialStatus.RUNNING, TrialStatus.PENDING}
    wait_for(lambda: cluster.job_status(sweep_id) != "RUNNING", 60, "the job to end")
    assert cluster.job_status(sweep_id) == "STOPPED"

    resumed = submitted(searchsvc("resume", sweep_id, "--cluster", cluster.jobs_api, "--json"))
    assert resumed["sweep_id"] == sweep_id and resumed["job_id"] != sweep_id
    searchsvc("status", sweep_id, "--watch", "--interval", "1")
    recorded_once(cluster, searchsvc, sweep_id, 12)


def test_a_killed_driver_is_reported_interrupted_from_another_process_and_resumes(cluster, spec, searchsvc) -> None:
    sweep_id = submitted(searchsvc("submit", spec(10, 20), "--cluster", cluster.jobs_api, "--json"))["sweep_id"]
    wait_for(lambda: finished(cluster, sweep_id) >= 2 and running(cluster, sweep_id), 180, "the sweep to be under way")
    driver = get_ledger(cluster.ledger).sweep(sweep_id).driver
    os.kill(int(driver.rpartition(":")[2]), signal.SIGKILL)  # the job's driver process, as a lost head would
    wait_for(lambda: json.loads(searchsvc("status", sweep_id, "--json").stdout)["status"] == "interrupted", 60,
             "status to find the driver dead")
    assert TrialStatus.RUNNING not in {t.status for t in trials_of(cluster, sweep_id)}
    searchsvc("resume", sweep_id)  # to the cluster it was submitted to
    searchsvc("status", sweep_id, "--watch", "--interval", "1")
    recorded_once(cluster, searchsvc, sweep_id, 10)


def test_a_driver_here_joins_the_cluster_by_address(cluster, spec, searchsvc) -> None:
    out = json.loads(searchsvc("submit", spec(6, 8), "--address", cluster.gcs, "--ledger", cluster.ledger,
                               "--tracking-uri", cluster.tracking_uri, "--json").stdout)
    assert out["status"] == "completed"
    rows = recorded_once(cluster, searchsvc, out["sweep_id"], 6)
    assert len({t["node_id"] for t in rows}) == 2


def test_a_lost_worker_node_mid_sweep_loses_no_trial(cluster, spec, searchsvc) -> None:
    sweep_id = submitted(searchsvc("submit", spec(10, 20), "--cluster", cluster.jobs_api, "--json"))["sweep_id"]
    try:
        # two trials run, one on each 1-CPU node: the worker node's raylet dies under one of them
        wait_for(lambda: finished(cluster, sweep_id) >= 2 and running(cluster, sweep_id) == 2, 180,
                 "a trial running on each node")
        os.kill(cluster.raylet_pid("worker"), signal.SIGKILL)
        searchsvc("status", sweep_id, "--watch", "--interval", "1", timeout=600)
        rows = recorded_once(cluster, searchsvc, sweep_id, 10)
        assert [t for t in rows if t["attempts"] == 2], "the trial the node died under ran again, in the same run"
    finally:
        cluster.services["ray-worker"].stop()
        cluster.start_worker()
