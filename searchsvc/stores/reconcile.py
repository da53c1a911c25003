"""Making MLflow whole after a driver died or MLflow missed writes; done by the sweep's new owner.

The ledger is the system of record, so, before ``resume`` or ``extend`` runs what is left, every trial's
MLflow run is made what the ledger says: a finished trial's run is created whole or completed
(backfilled), an unfinished trial's run left RUNNING by a dead driver is closed KILLED, and a trial run
that MLflow has but the ledger missed (the driver died between the two writes) is adopted, so that its
re-run continues in it (one run per trial, ever). The ledger's own part, a dead driver's running trials
back to pending, is done by the lease's takeover (:meth:`searchsvc.stores.ledger.Ledger.take`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from searchsvc.status import TrialStatus
from searchsvc.stores.lease import Lease
from searchsvc.stores.ledger import Ledger
from searchsvc.stores.records import SweepRecord, TrialRecord
from searchsvc.stores.tracking import Tracker


@dataclass(frozen=True)
class Sync:
    """What :func:`sync_mlflow` wrote."""

    backfilled: tuple[int, ...]  # trials whose run was created or completed from the ledger
    closed: tuple[int, ...]  # unfinished trials whose run was left RUNNING, now KILLED
    adopted: tuple[int, ...]  # trials whose run the ledger learned of only now


def sync_mlflow(ledger: Ledger, tracker: Tracker, sweep: SweepRecord, lease: Lease) -> Sync:
    """Make MLflow hold what the ledger holds for the sweep ``lease`` owns; raises if MLflow fails."""
    runs = tracker.trial_runs(sweep.mlflow_run_id)
    backfilled, closed, adopted = [], [], []
    rows = ledger.trials(sweep.sweep_id)
    recorded = {t.trial_index for t in rows}
    # a trial whose run MLflow has and whose row the ledger never took (the driver died, or the ledger refused
    # its writes): its row is made, pending, with that run, so that its re-run continues in it
    rows += [TrialRecord(sweep.sweep_id, k, sweep.spec.config(k), TrialStatus.PENDING) for k in sorted(runs)
             if k not in recorded and k < sweep.trials]
    for trial in rows:
        run = runs.get(trial.trial_index)
        run_id = run.run_id if run else None
        if trial.status in (TrialStatus.PENDING, TrialStatus.RUNNING):
            if run is not None and run.open:
                tracker.kill(run_id)
                closed.append(trial.trial_index)
        elif run is None or not run.holds(trial.status):
            run_id = tracker.backfill_trial(sweep.mlflow_run_id, trial, sweep.metric, run_id)
            backfilled.append(trial.trial_index)
        if run_id is not None and trial.mlflow_run_id != run_id:
            adopted.append(replace(trial, mlflow_run_id=run_id))
    ledger.upsert_trials(adopted, lease)
    return Sync(tuple(backfilled), tuple(closed), tuple(t.trial_index for t in adopted))
