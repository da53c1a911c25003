"""The reconciler on a sweep whose driver died, with a real SQLite ledger and MLflow store."""

from __future__ import annotations

import socket

from searchsvc.stores.ledger import SweepRecord, TrialRecord, get_ledger, now
from searchsvc.stores.reconcile import reconcile
from searchsvc.stores.tracking import get_tracker
from tests.searchsvc.test_ledger import scored


def test_a_dead_drivers_sweep_is_interrupted_and_its_orphan_runs_adopted(tmp_path) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    tracker = get_tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracker.start_sweep("s", "s-1", {}, {})
    dead_driver = f"{socket.gethostname()}:999999999"  # a pid that does not exist
    ledger.create_sweep(SweepRecord("s-1", "s", {}, 3, "accuracy", "max", "running", now(), parent,
                                    tracker.tracking_uri, driver=dead_driver))
    # the driver died after MLflow created trial 1's run and before the ledger learned its id
    orphan = tracker.start_trial(parent, TrialRecord("s-1", 1, {}, "running", attempts=1), "accuracy")
    ledger.upsert_trials([TrialRecord("s-1", 0, {}, "ok", attempts=1, result=scored(0.5)),
                          TrialRecord("s-1", 1, {}, "running", attempts=1),
                          TrialRecord("s-1", 2, {}, "pending")])

    sweep = reconcile(ledger, tracker, ledger.sweep("s-1"))

    assert sweep.status == "interrupted"
    trials = {t.trial_index: t for t in ledger.trials("s-1")}
    assert [trials[k].status for k in range(3)] == ["ok", "pending", "pending"]
    assert trials[1].mlflow_run_id == orphan and "interrupted" in trials[1].message
    assert trials[2].mlflow_run_id is None
    assert tracker.client.get_run(orphan).info.status == "KILLED"
    assert tracker.client.get_run(parent).info.status == "KILLED"
