"""The failure taxonomy at the worker and the recorder, with a fake training function and fake Tune trials
(the real Ray path is exercised by test_chaos and test_submit)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from experiments.settings import TrainingSettings
from searchsvc.ledger import SweepRecord, TrialRecord, get_ledger, now
from searchsvc.recorder import TrialRecorder
from searchsvc.worker import TrialJob, is_infra_failure, run_trial

JOB = TrialJob(sweep_seed=0, params={0: {"units": 8}}, training=TrainingSettings(), metric="accuracy", threads=1,
               device="cpu", max_retries=2)


@pytest.fixture
def reports(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr("ray.tune.report", lambda metrics: sent.append(metrics))
    return sent


def test_code_errors_are_retried_then_reported_with_their_traceback(monkeypatch, reports) -> None:
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise ValueError("bad config")

    monkeypatch.setattr("experiments.trainable.train_trial", broken)
    run_trial({"trial_index": 0}, data=None, job=JOB)
    assert len(calls) == 3  # the first try and max_retries=2 retries, same config
    (last,) = reports
    assert last["final"] is None and last["attempts"] == 3
    assert "ValueError: bad config" in last["error"] and "Traceback" in last["error"]


def test_out_of_memory_goes_to_tune_for_requeueing(monkeypatch, reports) -> None:
    monkeypatch.setattr("experiments.trainable.train_trial", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        run_trial({"trial_index": 0}, data=None, job=JOB)
    assert reports == []
    assert is_infra_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_infra_failure(ValueError("shape mismatch"))


def test_recorder_records_error_infra_and_cancelled(tmp_path) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ledger.create_sweep(SweepRecord("s", "s", {}, 3, "accuracy", "max", "running", now()))
    records = {k: TrialRecord("s", k, {"units": 8}, "pending") for k in range(3)}
    ledger.upsert_trials(list(records.values()))
    recorder = TrialRecorder(ledger, None, "s", None, records, "accuracy")
    trial = [SimpleNamespace(config={"trial_index": k}, error_file=None) for k in range(3)]

    recorder.on_trial_start(0, [], trial[0])
    recorder.on_trial_result(0, [], trial[0], {"epochs": [], "final": None, "error": "Traceback: boom", "attempts": 3})
    recorder.on_trial_complete(0, [], trial[0])

    recorder.on_trial_start(0, [], trial[1])
    recorder.on_trial_recover(0, [], trial[1])  # worker lost: re-queued
    recorder.on_trial_start(0, [], trial[1])
    recorder.on_trial_error(0, [], trial[1])  # ...until Tune gave up

    recorder.on_trial_start(0, [], trial[2])
    assert recorder.cancel_unfinished() == 1
    recorder.close()

    got = {t.trial_index: t for t in ledger.trials("s")}
    assert (got[0].status, got[0].attempts, got[0].message) == ("error", 3, "Traceback: boom")
    assert (got[1].status, got[1].attempts) == ("infra", 2)
    assert got[2].status == "cancelled" and "resume" in got[2].message
