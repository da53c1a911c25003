"""The new owner of a sweep whose driver died makes MLflow whole (real SQLite ledger and MLflow store): the
run the ledger missed is adopted, a run left RUNNING is closed, a finished trial MLflow missed is backfilled."""

from __future__ import annotations

from searchsvc.status import TrialStatus
from searchsvc.stores.lease import Lease
from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.reconcile import sync_mlflow
from searchsvc.stores.records import TrialRecord
from searchsvc.stores.tracking import get_tracker
from tests.builders import expire_now, owned_sweep, result


def test_a_dead_drivers_runs_are_adopted_closed_and_backfilled_by_the_new_owner(tmp_path) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    tracker = get_tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracker.start_sweep("s", "s-1", {}, {})
    dead = owned_sweep(ledger, "s-1", trials=3, mlflow_run_id=parent, tracking_uri=tracker.tracking_uri)
    # the driver died after MLflow created trial 1's run and before the ledger learned its id; trial 0's end
    # reached the ledger only
    orphan = tracker.start_trial(parent, TrialRecord("s-1", 1, {}, TrialStatus.RUNNING, attempts=1), "accuracy")
    ledger.upsert_trials([TrialRecord("s-1", 0, {"units": 4}, TrialStatus.OK, attempts=1, result=result(0.5)),
                          TrialRecord("s-1", 1, {"units": 8}, TrialStatus.RUNNING, attempts=1)], dead)
    expire_now(ledger, "s-1")
    lease = Lease("s-1")
    sweep = ledger.take("s-1", lease)

    done = sync_mlflow(ledger, tracker, sweep, lease)

    assert (done.backfilled, done.closed, done.adopted) == ((0,), (1,), (0, 1))
    trials = {t.trial_index: t for t in ledger.trials("s-1")}
    assert [trials[k].status for k in (0, 1)] == [TrialStatus.OK, TrialStatus.PENDING]
    assert trials[1].mlflow_run_id == orphan and "interrupted" in trials[1].message
    runs = tracker.trial_runs(parent)
    assert runs[1].run_status == "KILLED" and runs[0].holds(TrialStatus.OK)
    assert sync_mlflow(ledger, tracker, ledger.sweep("s-1"), lease) == type(done)((), (), ())  # nothing left to do
