"""Chaos: SIGKILL trial workers and the driver itself; the sweep still ends with exactly S trials, each
once, with final statuses, in the ledger and in MLflow, with the configs `validate --show` prints."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from searchsvc.stores.ledger import get_ledger
from searchsvc.status import TrialStatus
from tests.searchsvc.processes import searchsvc, wait_for

FINAL_STATUSES = [s for s in TrialStatus if s.final]

pytestmark = pytest.mark.usefixtures("ray_session")  # resume runs in this process

S = 40
CHAOS = """\
name: chaos
seed: 5
trials: 40
dataset: {name: mnist1d, samples: 1000}
training: {max_epochs: 6, patience: 6}
max_concurrent: 2
space:
  units: {type: log_int, low: 8, high: 32}
  optimizer: {type: choice, values: [sgd, adam]}
  lr: {type: log_uniform, low: 1.0e-3, high: 1.0e-2}
  momentum: {type: uniform, low: 0.5, high: 0.9, when: {optimizer: sgd}}
"""


def trial_statuses() -> list[str]:
    ledger = get_ledger()
    sweeps = ledger.sweeps()
    return [t.status for t in ledger.trials(sweeps[0].sweep_id)] if sweeps else []


def trial_workers() -> list[int]:
    """Ray worker processes that are running a trial right now (their title names the trainable)."""
    out = subprocess.run(["pgrep", "-f", "ray::ImplicitFunc"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def check_everything_recorded_once(spec: Path, run) -> dict:
    code, out, _ = run("list", "--json")
    (sweep,) = json.loads(out)
    code, out, _ = run("show", sweep["sweep_id"], "--json")
    shown = json.loads(out)
    trials = shown["trials"]
    assert [t["trial_index"] for t in trials] == list(range(S))
    assert all(t["status"] in FINAL_STATUSES for t in trials), [t["status"] for t in trials]
    code, out, _ = run("validate", spec, "--show", str(S), "--json")
    assert {t["trial_index"]: t["config"] for t in trials} == {t["trial_index"]: t["config"] for t in json.loads(out)["trials"]}

    from mlflow.tracking import MlflowClient

    from searchsvc.home import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    parent = client.get_run(shown["mlflow_run_id"])
    children = client.search_runs([parent.info.experiment_id], max_results=1000,
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(r.data.tags["searchsvc.trial_index"]) for r in children) == list(range(S))
    assert not [r for r in children if r.info.status == "RUNNING"] and parent.info.status != "RUNNING"
    return {t["trial_index"]: t for t in trials}


def test_killed_trial_workers_are_requeued_as_infra(tmp_path, run) -> None:
    spec = tmp_path / "chaos.yaml"
    spec.write_text(CHAOS)
    driver = searchsvc("submit", str(spec))
    kills = 0
    rng = random.Random(0)
    try:
        for _ in range(3):
            wait_for(lambda: sum(s in FINAL_STATUSES for s in trial_statuses()) >= 5 * (kills + 1) and trial_workers(),
                     240, "trials to finish and a worker to kill")
            os.kill(rng.choice(trial_workers()), signal.SIGKILL)
            kills += 1
        out, err = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 0, err[-3000:]
    trials = check_everything_recorded_once(spec, run)
    restarted = [t for t in trials.values() if t["attempts"] > 1]
    assert restarted, "a killed worker's trial must show more than one attempt"
    assert all(t["status"] == "ok" for t in restarted)


def start_sweep(tmp_path: Path, finished: int, **env: str) -> tuple[Path, subprocess.Popen]:
    """Submit the chaos sweep in a driver process of its own; return once `finished` trials are done."""
    spec = tmp_path / "chaos.yaml"
    spec.write_text(CHAOS)
    driver = searchsvc("submit", str(spec), env=env)
    try:
        wait_for(lambda: sum(s in FINAL_STATUSES for s in trial_statuses()) >= finished
                 and "running" in trial_statuses(), 240, "the sweep to be under way")
    except BaseException:
        os.killpg(driver.pid, signal.SIGKILL)
        raise
    return spec, driver


def test_killed_driver_then_resume_finishes_the_sweep(tmp_path, run) -> None:
    spec, driver = start_sweep(tmp_path, finished=10, SEARCHSVC_LEASE_S="4")  # a short lease: noticed in seconds
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started: a power loss
    driver.wait()
    assert "running" in trial_statuses()

    sweep_id = json.loads(run("list", "--json")[1])[0]["sweep_id"]
    wait_for(lambda: json.loads(run("status", sweep_id, "--json")[1])["status"] == "interrupted", 30,
             "its lease to expire: the sweep interrupted")  # the first status after the expiry records it
    assert "running" not in trial_statuses()

    done_before = {t.trial_index: t for t in get_ledger().trials(sweep_id) if t.status in FINAL_STATUSES}
    resumed = searchsvc("resume", sweep_id, "--quiet")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    trials = check_everything_recorded_once(spec, run)
    for k, before in done_before.items():  # finished trials were not rerun
        assert trials[k]["attempts"] == before.attempts and trials[k]["val_score"] == before.val_score


@pytest.mark.parametrize("how", ["cancel", "SIGTERM"])
def test_cancel_or_sigterm_records_cancelled_trials_and_the_sweep_resumes(how, tmp_path, run) -> None:
    """`searchsvc cancel` from another process, or SIGTERM (`ray job stop`, `docker stop`), as Ctrl-C."""
    spec, driver = start_sweep(tmp_path, finished=4)
    try:
        sweep_id = json.loads(run("list", "--json")[1])[0]["sweep_id"]
        if how == "cancel":
            code, _, err = run("cancel", sweep_id)
            assert code == 0, err
        else:
            driver.send_signal(signal.SIGTERM)
        out, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, err[-2000:]
    assert f"searchsvc resume {sweep_id}" in err
    statuses = trial_statuses()
    assert "cancelled" in statuses and "running" not in statuses and "pending" not in statuses
    assert json.loads(run("status", sweep_id, "--json")[1])["status"] == "cancelled"

    code, _, err = run("resume", sweep_id, "--quiet")
    assert code == 0, err
    check_everything_recorded_once(spec, run)
