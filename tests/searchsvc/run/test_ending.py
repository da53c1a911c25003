"""The end of a sweep: from its last trial's result to the exit of the `searchsvc submit` process that ran it,
with the summary on the sweep's MLflow run (a real process, its embedded Ray and MLflow's local store)."""

from __future__ import annotations

import datetime as dt
import json
import time

#: seconds from the last trial's ``finished_at`` in the ledger to the process's exit: the summary on the
#: dashboard, closing the records and stopping the embedded Ray, on a shared 2-core machine, with margin
END_DEADLINE_S = 5.0


def test_submit_exits_within_seconds_of_its_last_trial_with_the_summary_on_its_run(tiny_spec, searchsvc_home) -> None:
    from mlflow.tracking import MlflowClient

    from searchsvc.stores.ledger import get_ledger
    from tests.searchsvc.processes import finish, searchsvc

    process = searchsvc("submit", tiny_spec(2), "--json", "--quiet")
    code, out, err = finish(process)
    exited = time.time()
    assert code == 0, err
    outcome = json.loads(out)
    trials = get_ledger(outcome["ledger"], create=False).trials(outcome["sweep_id"])
    last = max(t.finished_at for t in trials)
    assert last.tzinfo == dt.timezone.utc and len(trials) == 6
    assert exited - last.timestamp() < END_DEADLINE_S, f"{exited - last.timestamp():.2f} s from the last result to exit"

    parent = MlflowClient(outcome["tracking_uri"]).get_run(outcome["parent_run_id"])
    assert "Best by validation: trial" in parent.data.tags["mlflow.note.content"]
    assert "expected_best_test_accuracy" in parent.data.metrics
    figures = {a.path for a in MlflowClient(outcome["tracking_uri"]).list_artifacts(parent.info.run_id, "analysis")}
    assert {"analysis/efficiency.png", "analysis/expected_best.png"} <= figures
