"""The statuses: what each means, its MLflow run status, and the analysis' table agreeing with them."""

from __future__ import annotations

from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.stores.tracking import run_status


def test_what_each_trial_status_means() -> None:
    assert {s for s in TrialStatus if s.final} == {"ok", "stopped", "diverged", "error"}  # resume runs every other
    assert {s for s in TrialStatus if s.scored} == {"ok", "stopped"}
    assert {s for s in TrialStatus if s.usable} == {"ok", "stopped", "diverged"}
    assert {s: run_status(s) for s in TrialStatus if s.has_result} == {
        "ok": "FINISHED", "stopped": "FINISHED", "diverged": "FINISHED", "error": "FAILED", "infra": "FAILED"}
    assert run_status(TrialStatus.CANCELLED) == "KILLED" and not TrialStatus.CANCELLED.has_result
    assert {run_status(s) for s in SweepStatus} <= {"RUNNING", "FINISHED", "FAILED", "KILLED"}


def test_the_trials_table_takes_exactly_the_statuses_that_have_a_result() -> None:
    from analysis.table import STATUSES

    assert set(STATUSES) == {s for s in TrialStatus if s.has_result}
