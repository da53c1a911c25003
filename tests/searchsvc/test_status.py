"""The one status vocabulary: what each status means, and the analysis' table agreeing with it."""

from __future__ import annotations

from searchsvc.status import SweepStatus, TrialStatus


def test_what_each_trial_status_means() -> None:
    assert {s for s in TrialStatus if s.final} == {"ok", "diverged", "error"}  # resume runs every other one
    assert {s for s in TrialStatus if s.scored} == {"ok"}
    assert {s for s in TrialStatus if s.usable} == {"ok", "diverged"}
    assert {s: s.run_status for s in TrialStatus if s.has_result} == {
        "ok": "FINISHED", "diverged": "FINISHED", "error": "FAILED", "infra": "FAILED"}
    assert TrialStatus.CANCELLED.run_status == "KILLED" and not TrialStatus.CANCELLED.has_result
    assert {s.run_status for s in SweepStatus} <= {"RUNNING", "FINISHED", "FAILED", "KILLED"}


def test_the_trials_table_takes_exactly_the_statuses_that_have_a_result() -> None:
    from analysis.table import STATUSES

    assert set(STATUSES) == {s for s in TrialStatus if s.has_result}
