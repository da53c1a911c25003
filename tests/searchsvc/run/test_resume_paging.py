"""A sweep with more runs than one page of MLflow's search resumes without a second run for any trial (the
real CLI, embedded Ray, a SQLite ledger and MLflow store, the search's page lowered to 3 runs)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from searchsvc.status import TrialStatus
from searchsvc.stores.lease import Lease
from searchsvc.stores.records import TrialRecord
from tests.builders import expire_now, result, sweep_spec

pytestmark = pytest.mark.usefixtures("ray_session")


def test_a_resume_finds_every_run_of_a_sweep_beyond_the_first_page(run, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    from searchsvc.home import default_ledger_url, default_tracking_uri
    from searchsvc.stores import tracking
    from searchsvc.stores.ledger import get_ledger

    monkeypatch.setattr(tracking, "SEARCH_PAGE", 3)
    ledger, tracker = get_ledger(default_ledger_url()), tracking.get_tracker(default_tracking_uri())
    spec = sweep_spec(8)
    parent = tracker.start_sweep(spec.name, "s-1", {}, {})
    dead = Lease("s-1")
    ledger.create_sweep("s-1", spec, dead, mlflow_run_id=parent, tracking_uri=tracker.tracking_uri)
    # the dead driver finished trials 0-4 and 7 in both stores; it had started the runs of 5 and 6, spread over
    # the search's pages, and died before the ledger learned of them
    done = [TrialRecord("s-1", k, spec.config(k), TrialStatus.OK, attempts=1, result=result(0.5)) for k in (0, 1, 2, 3, 4, 7)]
    done = [replace(t, mlflow_run_id=tracker.record_trial(parent, t, "accuracy", ())) for t in done]
    ledger.upsert_trials(done, dead)
    started = {k: tracker.start_trial(parent, TrialRecord("s-1", k, spec.config(k), TrialStatus.RUNNING, attempts=1),
                                      "accuracy") for k in (5, 6)}
    expire_now(ledger, "s-1")
    assert len(MlflowClient(tracker.tracking_uri).search_runs([tracker._experiment(parent)[0]], max_results=3)) == 3

    code, out, err = run("resume", "s-1", "--json")

    assert code == 0, err
    assert json.loads(out)["counts"] == {"ok": 8}
    trials = {t.trial_index: t for t in ledger.trials("s-1")}
    assert {k: trials[k].mlflow_run_id for k in started} == started  # the re-runs continued in their runs
    runs = MlflowClient(tracker.tracking_uri).search_runs([tracker._experiment(parent)[0]], max_results=1000)
    indices = sorted(int(r.data.tags["searchsvc.trial_index"]) for r in runs if "searchsvc.trial_index" in r.data.tags)
    assert indices == list(range(8))  # one run per trial, ever
    assert {r.info.run_id for r in runs} == {parent, *(t.mlflow_run_id for t in trials.values())}
    assert all(r.info.status == "FINISHED" for r in runs)
