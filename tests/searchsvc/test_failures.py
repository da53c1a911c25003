"""The failure taxonomy at the worker, the scheduler and the recorder, with a fake training function and
fake Tune trials (the real Ray path is exercised by test_chaos and test_submit)."""

from __future__ import annotations

import pytest

from searchsvc.run.bundles import BundleSearcher, TrialQueue
from searchsvc.run.cluster import Capacity
from searchsvc.run.protocol import Bundle, FinalReport, from_tune, to_tune
from searchsvc.run.recorder import TrialRecorder
from searchsvc.run.worker import WorkerSettings, is_infra_failure, run_bundle, run_trial
from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.records import Node
from searchsvc.status import TrialStatus
from tests.builders import owned_sweep, sweep_spec, tune_trial

SPEC = sweep_spec(10)
SETTINGS = WorkerSettings(SPEC, threads=1)
NODE = Node("node-1", "host-1")


def searcher(indices, capacity, size, max_restarts, **kw) -> BundleSearcher:
    indices = list(indices)
    return BundleSearcher(TrialQueue(indices, len(indices)), capacity, size, max_restarts, **kw)


def bundle(indices: list[int], gpus: float = 0.0) -> dict:
    return Bundle(tuple(indices), gpus).to_tune()


@pytest.fixture
def reports(monkeypatch):
    sent: list = []
    monkeypatch.setattr("ray.tune.report", lambda metrics: sent.append(from_tune(metrics)))
    return sent


def slots(n: int, gpu_share: float = 0.0):
    return lambda: Capacity(gpu_share, n)


def test_code_errors_are_retried_then_reported_with_their_traceback(monkeypatch, reports) -> None:
    calls = []

    def broken(*args, **kwargs):
        calls.append(kwargs["device"])
        raise ValueError("bad config")

    monkeypatch.setattr("experiments.trainable.train_trial", broken)
    run_bundle(bundle([0]), data=None, settings=SETTINGS)
    assert calls == ["cpu"] * 3  # the first try and max_retries=2 retries, same config
    (last,) = reports
    assert isinstance(last, FinalReport) and last.result is None and last.attempts == 3
    assert (last.trial_index, last.next_index) == (0, None) and last.node.host
    assert "ValueError: bad config" in last.error and "Traceback" in last.error


def test_a_bundle_reports_each_trial_once_and_names_the_next(monkeypatch, reports) -> None:
    devices, configs = [], []
    monkeypatch.setattr("experiments.trainable.train_trial",
                        lambda config, *a, device, **k: devices.append(device) or configs.append(config.units) or "r")
    recorded = {7: {**SPEC.config(7), "units": 99}}  # trial 7 ran before: its recorded config, not the spec's
    run_bundle(Bundle((4, 7, 9), 0.25, recorded).to_tune(), data=None, settings=SETTINGS)
    assert [(r.trial_index, r.next_index, r.attempts, r.result) for r in reports] == \
        [(4, 7, 1, "r"), (7, 9, 1, "r"), (9, None, 1, "r")]
    assert devices == ["cuda"] * 3  # a bundle given a GPU share trains on the GPU
    assert configs == [SPEC.config(4)["units"], 99, SPEC.config(9)["units"]]


def test_out_of_memory_goes_to_tune_for_requeueing(monkeypatch, reports) -> None:
    monkeypatch.setattr("experiments.trainable.train_trial", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        run_trial(0, {"units": 8}, None, SETTINGS, reports.append, NODE)
    assert reports == []
    assert is_infra_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_infra_failure(ValueError("shape mismatch"))


def final(k: int) -> dict:
    return to_tune(FinalReport(k, 1, (), None, "boom", NODE))


def test_factoring_hands_out_large_bundles_first_and_single_trials_at_the_end() -> None:
    scheduler = searcher(range(128), slots(2), size=None, max_restarts=10)
    sizes = []
    while (config := scheduler.suggest(f"t{len(sizes)}")) != BundleSearcher.FINISHED:
        if config is None:  # both slots busy: the oldest bundle ends
            done = next(iter(scheduler.bundles))
            for k in scheduler.bundles[done]:
                scheduler.on_trial_result(done, final(k))
            scheduler.on_trial_complete(done)
            continue
        sizes.append(len(Bundle.from_tune(config).trial_indices))
    assert sizes[:4] == [32, 24, 18, 14] and sizes[-4:] == [1, 1, 1, 1] and sum(sizes) == 128
    assert not scheduler.bundles and not len(scheduler.pending)
    fixed = searcher(range(10), slots(3), size=4, max_restarts=10)
    assert [len(Bundle.from_tune(fixed.suggest(str(i))).trial_indices) for i in range(3)] == [4, 4, 2]


def test_bundles_follow_the_clusters_capacity_when_they_start() -> None:
    """GPU workers that join a running sweep: later bundles get a GPU share, and more run at once."""
    capacity = [Capacity(0.0, 1)]
    scheduler = searcher(range(8), lambda: capacity[0], size=1, max_restarts=10)
    assert scheduler.suggest("a") == bundle([0])
    assert scheduler.suggest("b") is None  # one at a time
    capacity[0] = Capacity(0.25, 4)
    assert [scheduler.suggest(x) for x in "bcd"] == [bundle([k], 0.25) for k in (1, 2, 3)]
    assert scheduler.suggest("e") is None


def test_a_failed_bundle_gives_back_its_unfinished_trials_until_the_restart_limit() -> None:
    gave_up = []
    scheduler = searcher(range(3), slots(1), size=3, max_restarts=1, on_give_up=gave_up.append)
    assert scheduler.suggest("a") == bundle([0, 1, 2])
    assert scheduler.suggest("b") is None  # nothing pending, but bundle a may give trials back
    scheduler.on_trial_result("a", final(0))
    scheduler.on_trial_complete("a", error=True)  # the worker died in trial 1
    assert scheduler.suggest("c") == bundle([1, 2]) and scheduler.restarts[1] == 1
    scheduler.on_trial_complete("c", error=True)  # ...and again: more than max_restarts
    assert scheduler.given_up == {1} and gave_up == [1]
    assert scheduler.suggest("d") == bundle([2])
    scheduler.on_trial_result("d", final(2))
    scheduler.on_trial_complete("d")
    assert scheduler.suggest("e") == BundleSearcher.FINISHED


@pytest.mark.parametrize("scheduler_first", [True, False])
def test_recorder_records_error_infra_and_cancelled(tmp_path, scheduler_first) -> None:
    """Tune tells the scheduler and the callbacks of a failed bundle in either order: the trial the
    scheduler gives up on ends infra all the same."""
    ledger = get_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    lease = owned_sweep(ledger, "s", trials=4)
    recorder = TrialRecorder(ledger, None, None, lease, sweep_spec(4), {}, on_lease_lost=lambda lost: None)
    first = tune_trial("b0", [0, 1, 2])

    recorder.on_trial_start(0, [], first)
    recorder.on_trial_result(0, [], first, to_tune(FinalReport(0, 3, (), None, "Traceback: boom", NODE, 1)))
    recorder.on_trial_error(0, [], first)  # the worker died in trial 1: re-queued
    retry = tune_trial("b1", [1, 2])
    recorder.on_trial_start(0, [], retry)
    if scheduler_first:  # ...until the scheduler gave up on it
        recorder.give_up(1)
        recorder.on_trial_error(0, [], retry)
    else:
        recorder.on_trial_error(0, [], retry)
        recorder.give_up(1)

    late = tune_trial("b2", [2])
    recorder.on_trial_start(0, [], late)
    assert recorder.cancel_unfinished() == 1  # trial 2 was running; trial 3 never started: pending, without a row
    recording = recorder.close()
    assert recording.ledger_lost == () and recording.mlflow_missing == ()

    got = {t.trial_index: t for t in ledger.trials("s")}
    assert (got[0].status, got[0].attempts, got[0].message, got[0].node) == ("error", 3, "Traceback: boom", NODE)
    assert (got[1].status, got[1].attempts) == ("infra", 2)
    assert got[2].status == "cancelled" and "resume" in got[2].message and got[2].attempts == 1
    assert 3 not in got and ledger.status_counts(ledger.sweep("s"))[TrialStatus.PENDING] == 1
