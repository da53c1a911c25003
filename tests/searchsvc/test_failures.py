"""The failure taxonomy at the worker, the scheduler and the recorder, with a fake training function and
fake Tune trials (the real Ray path is exercised by test_chaos and test_submit)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from experiments.settings import TrainingSettings
from searchsvc.ledger import SweepRecord, TrialRecord, get_ledger, now
from searchsvc.recorder import TrialRecorder
from searchsvc.bundles import BundleScheduler
from searchsvc.worker import TrialJob, is_infra_failure, run_bundle, run_trial

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
    run_bundle({"trial_indices": [0]}, data=None, job=JOB)
    assert len(calls) == 3  # the first try and max_retries=2 retries, same config
    (last,) = reports
    assert last["final"] is None and last["attempts"] == 3 and last["trial_index"] == 0 and last["next_index"] is None
    assert "ValueError: bad config" in last["error"] and "Traceback" in last["error"]


def test_a_bundle_reports_each_trial_once_and_names_the_next(monkeypatch, reports) -> None:
    job = TrialJob(sweep_seed=0, params={k: {"units": 8} for k in (4, 7, 9)}, training=TrainingSettings(),
                   metric="accuracy", threads=1, device="cpu")
    result = SimpleNamespace(as_dict=lambda: {"status": "ok"})
    monkeypatch.setattr("experiments.trainable.train_trial", lambda *a, **k: result)
    run_bundle({"trial_indices": [4, 7, 9]}, data=None, job=job)
    assert [(r["trial_index"], r["next_index"], r["attempts"]) for r in reports] == [(4, 7, 1), (7, 9, 1), (9, None, 1)]


def test_out_of_memory_goes_to_tune_for_requeueing(monkeypatch, reports) -> None:
    monkeypatch.setattr("experiments.trainable.train_trial", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        run_trial(0, None, JOB, reports.append)
    assert reports == []
    assert is_infra_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_infra_failure(ValueError("shape mismatch"))


def test_factoring_hands_out_large_bundles_first_and_single_trials_at_the_end() -> None:
    scheduler = BundleScheduler(range(128), concurrency=2, size=None, max_restarts=10)
    sizes = []
    while (config := scheduler.suggest(f"t{len(sizes)}")) is not None:
        sizes.append(len(config["trial_indices"]))
    assert sizes[:4] == [32, 24, 18, 14] and sizes[-4:] == [1, 1, 1, 1] and sum(sizes) == 128
    assert sorted(sum((b for b in scheduler.bundles.values()), [])) == list(range(128))
    fixed = BundleScheduler(range(10), concurrency=2, size=4, max_restarts=10)
    assert [len(fixed.suggest(str(i))["trial_indices"]) for i in range(3)] == [4, 4, 2]


def test_a_failed_bundle_gives_back_its_unfinished_trials_until_the_restart_limit() -> None:
    scheduler = BundleScheduler(range(3), concurrency=1, size=3, max_restarts=1)
    assert scheduler.suggest("a") == {"trial_indices": [0, 1, 2]}
    assert scheduler.suggest("b") is None  # nothing pending, but bundle a may give trials back
    scheduler.on_trial_result("a", {"trial_index": 0, "attempts": 1})
    scheduler.on_trial_complete("a", error=True)  # the worker died in trial 1
    assert scheduler.suggest("c") == {"trial_indices": [1, 2]} and scheduler.restarts[1] == 1
    scheduler.on_trial_complete("c", error=True)  # ...and again: more than max_restarts
    assert scheduler.given_up == {1} and scheduler.suggest("d") == {"trial_indices": [2]}
    scheduler.on_trial_result("d", {"trial_index": 2, "attempts": 1})
    scheduler.on_trial_complete("d")
    assert scheduler.suggest("e") == BundleScheduler.FINISHED


def test_recorder_records_error_infra_and_cancelled(tmp_path) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ledger.create_sweep(SweepRecord("s", "s", {}, 4, "accuracy", "max", "running", now()))
    records = {k: TrialRecord("s", k, {"units": 8}, "pending") for k in range(4)}
    ledger.upsert_trials(list(records.values()))
    recorder = TrialRecorder(ledger, None, "s", None, records, "accuracy", gave_up={1}.__contains__)
    bundle = [SimpleNamespace(trial_id=f"b{i}", config={"trial_indices": [0, 1, 2]}, error_file=None) for i in range(2)]

    recorder.on_trial_start(0, [], bundle[0])
    recorder.on_trial_result(0, [], bundle[0], {"trial_index": 0, "epochs": [], "final": None,
                                                "error": "Traceback: boom", "attempts": 3, "next_index": 1})
    recorder.on_trial_error(0, [], bundle[0])  # the worker died in trial 1: re-queued
    retry = SimpleNamespace(trial_id="b1", config={"trial_indices": [1, 2]}, error_file=None)
    recorder.on_trial_start(0, [], retry)
    recorder.on_trial_error(0, [], retry)  # ...until the scheduler gave up on it

    late = SimpleNamespace(trial_id="b2", config={"trial_indices": [2]}, error_file=None)
    recorder.on_trial_start(0, [], late)
    assert recorder.cancel_unfinished() == 2  # trial 2 running, trial 3 never started
    recorder.close()

    got = {t.trial_index: t for t in ledger.trials("s")}
    assert (got[0].status, got[0].attempts, got[0].message) == ("error", 3, "Traceback: boom")
    assert (got[1].status, got[1].attempts) == ("infra", 2)
    assert got[2].status == "cancelled" and "resume" in got[2].message and got[2].attempts == 1
    assert got[3].status == "cancelled" and got[3].attempts == 0
