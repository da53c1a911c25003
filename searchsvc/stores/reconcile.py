"""Making the records honest after a driver died, and MLflow whole after it missed writes.

:func:`reconcile`: a sweep marked ``running`` whose driver is gone (:mod:`searchsvc.stores.lease`) becomes
``interrupted``; its ``running`` trials go back to ``pending`` (``resume`` runs them again with the
same config); a trial run that MLflow has but the ledger missed (the driver died between the two
writes) is adopted, so a re-run continues in it; MLflow runs of the sweep left RUNNING are closed as
KILLED. Run by ``status``, ``resume`` and ``cancel``. The ledger part never needs MLflow: when MLflow
does not answer, its part is left to :func:`sync_mlflow`.

:func:`sync_mlflow`: the ledger is the system of record, so every trial's MLflow run is made what the
ledger says (created whole, or completed and closed), and the sweep's run closed with its outcome.
Run by ``resume``, before it runs what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, replace

from searchsvc.stores.ledger import Ledger, SweepRecord, TrialRecord, best_trial
from searchsvc.stores.lease import driver_alive
from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.stores.tracking import Tracker

log = logging.getLogger(__name__)


def reconcile(ledger: Ledger, tracker: Tracker | None, sweep: SweepRecord) -> SweepRecord:
    """Close what a dead driver left open; return the sweep as it now stands."""
    if sweep.status != SweepStatus.RUNNING or driver_alive(sweep):
        return sweep
    tracked = tracker is not None and sweep.mlflow_run_id is not None
    run_ids = _mlflow(lambda: tracker.trial_run_ids(sweep.mlflow_run_id), {}) if tracked else {}
    fixed = []
    for trial in ledger.trials(sweep.sweep_id):
        t = trial
        if t.status == TrialStatus.RUNNING:
            t = replace(t, status=TrialStatus.PENDING, message="interrupted: the driver stopped while it ran")
        if t.mlflow_run_id is None and t.trial_index in run_ids:
            t = replace(t, mlflow_run_id=run_ids[t.trial_index])
        if t != trial:
            fixed.append(t)
    ledger.upsert_trials(fixed)
    ledger.update_sweep(sweep.sweep_id, status=SweepStatus.INTERRUPTED)
    if tracked:
        _mlflow(lambda: tracker.kill_running_runs(sweep.mlflow_run_id), 0)
    return ledger.sweep(sweep.sweep_id)


@dataclass(frozen=True)
class Sync:
    """What :func:`sync_mlflow` wrote."""

    backfilled: tuple[int, ...]  # trials whose run was created or completed from the ledger
    closed: tuple[int, ...]  # unfinished trials whose run was left RUNNING, now KILLED


def sync_mlflow(ledger: Ledger, tracker: Tracker, sweep: SweepRecord) -> Sync:
    """Make MLflow hold what the ledger holds for a sweep that is not running; raises if MLflow fails."""
    runs = {int(r.data.tags["searchsvc.trial_index"]): r for r in tracker.runs_of_sweep(sweep.mlflow_run_id)
            if r.data.tags.get("searchsvc.kind") == "trial"}
    backfilled, closed, adopted = [], [], []
    for trial in ledger.trials(sweep.sweep_id):
        run = runs.get(trial.trial_index)
        run_id = run.info.run_id if run else None
        status = TrialStatus(trial.status)
        if status in (TrialStatus.PENDING, TrialStatus.RUNNING):
            if run is not None and run.info.status == "RUNNING":
                tracker.end(run_id, "KILLED")
                closed.append(trial.trial_index)
        elif run is None or _differs(run, trial):
            run_id = tracker.backfill_trial(sweep.mlflow_run_id, trial, sweep.metric, run_id)
            backfilled.append(trial.trial_index)
        if run_id is not None and trial.mlflow_run_id != run_id:  # a run the ledger did not learn of: adopted
            adopted.append(replace(trial, mlflow_run_id=run_id))
    ledger.upsert_trials(adopted)
    parent = tracker.client.get_run(sweep.mlflow_run_id)
    if parent.info.status == "RUNNING" or parent.data.tags.get("searchsvc.status") != sweep.status:
        trials = ledger.trials(sweep.sweep_id)
        counts = ledger.status_counts(sweep.sweep_id)
        tracker.finish_sweep(sweep.mlflow_run_id, SweepStatus(sweep.status), counts, best_trial(trials, sweep.mode),
                             sweep.metric)
    return Sync(tuple(backfilled), tuple(closed))


def _differs(run: Any, trial: TrialRecord) -> bool:
    """Whether a trial's run lacks what the ledger says of its end."""
    status = TrialStatus(trial.status)
    return run.info.status != status.run_status or run.data.tags.get("searchsvc.status") != status


def _mlflow(call: Callable[[], object], fallback: object) -> object:
    """MLflow's part of reconciling, best effort: the ledger's part stands without it."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - MLflow is the dashboard; `resume` completes it later
        log.warning("MLflow does not answer (%s); `searchsvc resume` completes its records later",
                    str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        return fallback
