"""The reconciler: after the driver of a sweep died (SIGKILL, power loss), make the records honest.

A sweep marked ``running`` whose driver process is gone becomes ``interrupted``; its ``running``
trials go back to ``pending`` (``resume`` runs them again with the same config); a trial run that
MLflow has but the ledger missed (the driver died between the two writes) is adopted, so a re-run
continues in it; MLflow runs of the sweep left RUNNING are closed as KILLED. Runs by ``status`` and
``resume``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace

from searchsvc.ledger import Ledger, SweepRecord
from searchsvc.tracking import Tracker


def this_driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def driver_alive(sweep: SweepRecord) -> bool:
    """Whether the process recorded as the sweep's driver still runs. Another host's is assumed alive."""
    if sweep.status != "running" or not sweep.driver:
        return False
    host, _, pid = sweep.driver.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_a_zombie(int(pid))


def _not_a_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def reconcile(ledger: Ledger, tracker: Tracker | None, sweep: SweepRecord) -> SweepRecord:
    """Close what a dead driver left open; return the sweep as it now stands."""
    if sweep.status != "running" or driver_alive(sweep):
        return sweep
    tracked = tracker is not None and sweep.mlflow_run_id is not None
    run_ids = tracker.trial_run_ids(sweep.mlflow_run_id) if tracked else {}
    fixed = []
    for trial in ledger.trials(sweep.sweep_id):
        t = trial
        if t.status == "running":
            t = replace(t, status="pending", message="interrupted: the driver stopped while it ran")
        if t.mlflow_run_id is None and t.trial_index in run_ids:
            t = replace(t, mlflow_run_id=run_ids[t.trial_index])
        if t != trial:
            fixed.append(t)
    ledger.upsert_trials(fixed)
    ledger.update_sweep(sweep.sweep_id, status="interrupted")
    if tracked:
        tracker.kill_running_runs(sweep.mlflow_run_id)
    return ledger.sweep(sweep.sweep_id)
