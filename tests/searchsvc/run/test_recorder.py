"""The recorder and the worker's reports, with fake Tune trials and a real MLflow store (SQLite, or a
tracking server on PostgreSQL): a trial's run is created at its first report, epochs arrive on the way,
the final report closes it; a store that fails is written around, and MLflow gets what it missed once it
answers again; closing waits a bounded time for a server that stalls or is down."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from experiments.results import EpochMetrics
from searchsvc.run.protocol import EpochReport, FinalReport, to_tune
from searchsvc.run.recorder import TRACKING_LANES, TrialRecorder
from searchsvc.run.worker import Reporter, WorkerSettings, run_trial
from searchsvc.status import TrialStatus
from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.records import Node
from searchsvc.stores.tracking import get_tracker
from tests.builders import epoch as _epoch
from tests.builders import owned_sweep, result, sweep_spec, tune_trial
from tests.cluster.native import free_port
from tests.searchsvc.processes import wait_for

NODE = Node("node-a", "host-a")
SPEC = sweep_spec(3)


def _result(epochs: int):
    return result(0.1 * epochs, 0.2, val_n=10, test_n=10, epochs=epochs, best_epoch=epochs, device="cpu")


def _final(k: int, epochs: list[int], total: int, following: int | None = None) -> dict:
    return to_tune(FinalReport(k, 1, tuple(map(_epoch, epochs)), _result(total), None, NODE, following))


def test_epochs_are_reported_on_the_way_at_most_every_report_every_s(monkeypatch) -> None:
    def train(*args, on_epoch, **kwargs):
        for e in (1, 2, 3):
            on_epoch(EpochMetrics(e, 1.0, 1.0, 0.5, 0.1))
        return "result"

    monkeypatch.setattr("experiments.trainable.train_trial", train)
    for every, expected in ((0.0, [[1], [2], [3]]), (60.0, [])):
        settings = WorkerSettings(SPEC, threads=1, report_every_s=every)
        sent: list[EpochReport] = []
        final = run_trial(0, {"units": 8}, None, settings, sent.append, NODE)
        assert [[e.epoch for e in r.epochs] for r in sent] == expected
        assert [e.epoch for e in final.epochs] == ([] if every == 0 else [1, 2, 3])
        assert (final.result, final.node) == ("result", NODE)


def test_training_does_not_wait_for_tune_to_take_a_report() -> None:
    taken, driver_asks = [], threading.Event()

    def report(result: dict) -> None:  # Tune's report returns when the driver asks for the next result
        driver_asks.wait(timeout=10)
        taken.append(result["k"])

    reporter = Reporter(report)
    for k in range(3):
        reporter({"k": k})  # returns at once, though the driver has not asked yet
    assert taken == []
    driver_asks.set()
    reporter.close()  # waits until every result was taken, in order
    assert taken == [0, 1, 2]


def test_what_report_raises_reaches_the_training_thread() -> None:
    def report(result: dict) -> None:
        raise SystemExit(0)  # what Tune's report does when Tune stops the trial

    reporter = Reporter(report)
    reporter({"k": 0})
    with pytest.raises(SystemExit):
        reporter.close()
    reporter = Reporter(report)
    with pytest.raises(SystemExit):  # the training thread's next report raises it (training stops)
        for _ in range(1000):
            reporter({"k": 0})
            time.sleep(0.01)


@pytest.fixture
def stores(tmp_path):
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    tracker = get_tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracker.start_sweep("rec", "s", {}, {})
    lease = owned_sweep(ledger, "s", trials=3, mlflow_run_id=parent)
    return ledger, tracker, parent, lease


def _recorder(stores, tracker=None, spec=SPEC) -> TrialRecorder:
    ledger, real, parent, lease = stores
    return TrialRecorder(ledger, tracker or real, parent, lease, spec, {}, on_lease_lost=lambda lost: None)


def _check_runs(stores, epochs_of: dict[int, int], spec=SPEC) -> None:
    """Each trial's one run: FINISHED, params, tags, every epoch once, the results; the ledger knows its id."""
    ledger, tracker, parent, _ = stores
    rows = {t.trial_index: t for t in ledger.trials("s")}
    assert tracker.trial_run_ids(parent) == {k: rows[k].mlflow_run_id for k in epochs_of}  # one run per trial
    for k, epochs in epochs_of.items():
        run = tracker.client.get_run(rows[k].mlflow_run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["units"] == str(spec.config(k)["units"]) and rows[k].config == spec.config(k)
        assert {t: run.data.tags[f"searchsvc.{t}"] for t in ("status", "attempts", "device", "trial_index", "host")} \
            == {"status": "ok", "attempts": "1", "device": "cpu", "trial_index": str(k), "host": "host-a"}
        history = tracker.client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [(m.step, round(m.value, 6)) for m in history] == [(e, round(0.1 * e, 6)) for e in range(1, epochs + 1)]
        assert run.data.metrics["best_val_accuracy"] == rows[k].val_score and rows[k].status == "ok"
        assert run.data.metrics["cpu_seconds"] == rows[k].result.cpu_seconds == 1.4
        assert "seconds" not in run.data.metrics  # each epoch's seconds: kept in the ledger only
        assert [e.seconds for e in rows[k].epoch_metrics] == [0.5] * epochs and rows[k].node == NODE


def test_a_run_is_created_at_the_first_report_and_closed_with_the_results(stores) -> None:
    recorder = _recorder(stores)
    bundle = tune_trial("b", [0, 1])
    recorder.on_trial_start(0, [], bundle)  # trial 0: a long one, with epochs on the way
    recorder.on_trial_result(0, [], bundle, to_tune(EpochReport(0, (_epoch(1), _epoch(2)))))
    recorder.on_trial_result(0, [], bundle, _final(0, [3], 3, following=1))
    recorder.on_trial_result(0, [], bundle, _final(1, [1], 1))  # trial 1: one report
    recording = recorder.close()
    assert (recording.ledger_lost, recording.mlflow_missing) == ((), ())
    _check_runs(stores, {0: 3, 1: 1})


def test_a_short_trial_costs_one_ledger_write_which_carries_its_run_id(stores, monkeypatch) -> None:
    ledger = stores[0]
    monkeypatch.setattr("searchsvc.run.writers.GROUP_S", 2.0)  # a slow machine: MLflow answers within the round
    saved: list[list[tuple[str, str | None]]] = []
    upsert = ledger.upsert_trials
    monkeypatch.setattr(ledger, "upsert_trials", lambda trials, lease: (
        saved.append([(t.status, t.mlflow_run_id) for t in trials]), upsert(trials, lease)))
    recorder = _recorder(stores)
    bundle = tune_trial("b", [0])
    recorder.on_trial_start(0, [], bundle)
    recorder.on_trial_result(0, [], bundle, _final(0, [1], 1))
    recorder.close()
    (row,) = ledger.trials("s")
    assert saved == [[("ok", row.mlflow_run_id)]] and row.mlflow_run_id is not None


def test_through_a_tracking_server_its_lanes_record_every_param_result_tag_and_curve_step(mlflow_server,
                                                                                        tmp_path) -> None:
    trials = 3 * TRACKING_LANES
    ledger, tracker = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}"), get_tracker(mlflow_server)
    parent = tracker.start_sweep("rec-server", "s", {}, {})
    stores = ledger, tracker, parent, owned_sweep(ledger, "s", trials=trials, mlflow_run_id=parent)
    recorder = _recorder(stores, spec=sweep_spec(trials))
    for k in range(trials):  # odd trials report epochs on the way, even ones only their end
        bundle = tune_trial(f"b{k}", [k])
        recorder.on_trial_start(0, [], bundle)
        if k % 2:
            recorder.on_trial_result(0, [], bundle, to_tune(EpochReport(k, (_epoch(1), _epoch(2)))))
        recorder.on_trial_result(0, [], bundle, _final(k, [3] if k % 2 else [1, 2, 3], 3))
    recording = recorder.close()
    assert (recording.ledger_lost, recording.mlflow_missing) == ((), ())
    _check_runs(stores, dict.fromkeys(range(trials), 3), sweep_spec(trials))


@pytest.mark.parametrize("server", ["stalls", "is down"])
def test_closing_waits_a_bounded_time_for_a_server_that_stalls_or_is_down(server, tmp_path, monkeypatch) -> None:
    """A stalled server takes requests and never answers; a down one refuses them. Either way closing returns
    within ``CLOSE_S`` (here 2 s), with every trial in the ledger and named as missing from MLflow."""
    monkeypatch.setattr("searchsvc.run.writers.CLOSE_S", 2.0)
    with socket.socket() as listener:
        port = free_port()
        if server == "stalls":  # the kernel completes the connections; nobody reads them
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
        ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        stores = ledger, get_tracker(f"http://127.0.0.1:{port}"), "parent", owned_sweep(ledger, "s", trials=6)
        recorder = _recorder(stores, spec=sweep_spec(6))
        bundle = tune_trial("b", list(range(6)))
        recorder.on_trial_start(0, [], bundle)
        for k in range(6):
            recorder.on_trial_result(0, [], bundle, _final(k, [1], 1, following=k + 1 if k < 5 else None))
        started = time.monotonic()
        recording = recorder.close()
        assert time.monotonic() - started < 2.0 + 3  # a down server: refused at once, or after the client's retries
    assert recording.mlflow_missing == tuple(range(6)) and recording.ledger_lost == ()
    assert [t.status for t in ledger.trials("s")] == ["ok"] * 6


class FlakyTracker:
    """A real tracker that fails every call while ``down`` is set, as a dead tracking server does."""

    def __init__(self, tracker) -> None:
        self.tracker, self.down = tracker, False

    def __getattr__(self, name):
        attribute = getattr(self.tracker, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            if self.down:
                raise ConnectionError("the tracking server does not answer")
            return attribute(*args, **kwargs)

        return call


def test_mlflow_down_never_holds_back_the_ledger_and_gets_what_it_missed_when_back(stores, monkeypatch) -> None:
    ledger, tracker = stores[:2]
    monkeypatch.setattr("searchsvc.run.writers.PROBE_S", 0.0)
    flaky = FlakyTracker(tracker)
    recorder = _recorder(stores, flaky)
    bundle = tune_trial("b", [0, 1, 2])
    recorder.on_trial_start(0, [], bundle)
    recorder.on_trial_result(0, [], bundle, to_tune(EpochReport(0, (_epoch(1),))))
    wait_for(lambda: recorder.trials[0].run_id, 10, "trial 0's run to be created")
    flaky.down = True  # the server dies mid-trial
    recorder.on_trial_result(0, [], bundle, to_tune(EpochReport(0, (_epoch(2),))))
    recorder.on_trial_result(0, [], bundle, _final(0, [3], 3, following=1))
    recorder.on_trial_result(0, [], bundle, _final(1, [1, 2], 2, following=2))
    wait_for(lambda: [t.status for t in ledger.trials("s")][:2] == ["ok", "ok"], 10,
             "the ledger's rows, which do not wait for the dashboard")
    assert recorder.mlflow.missing == {0, 1}
    flaky.down = False  # back: the next write probes it, and the missed trials are written whole
    recorder.on_trial_result(0, [], bundle, _final(2, [1], 1))
    recording = recorder.close()
    assert (recording.ledger_lost, recording.mlflow_missing) == ((), ())
    _check_runs(stores, {0: 3, 1: 2, 2: 1})


def test_mlflow_still_down_at_the_end_is_reported_trial_by_trial(stores) -> None:
    ledger, tracker = stores[:2]
    flaky = FlakyTracker(tracker)
    flaky.down = True
    recorder = _recorder(stores, flaky)
    bundle = tune_trial("b", [0, 1])
    recorder.on_trial_start(0, [], bundle)
    recorder.on_trial_result(0, [], bundle, _final(0, [1], 1, following=1))
    recorder.on_trial_result(0, [], bundle, _final(1, [1], 1))
    started = time.monotonic()
    recording = recorder.close()
    assert time.monotonic() - started < 5  # nothing waited out
    assert recording.mlflow_missing == (0, 1) and "does not answer" in recording.mlflow_error
    assert [t.status for t in ledger.trials("s")] == ["ok", "ok"]


def test_ledger_writes_that_fail_are_tried_again_and_what_never_lands_is_reported(stores, monkeypatch) -> None:
    ledger = stores[0]
    refuse = {"on": True}
    upsert = ledger.upsert_trials

    def flaky_upsert(trials, lease):
        if refuse["on"]:
            raise PermissionError("permission denied for table trials")
        upsert(trials, lease)

    monkeypatch.setattr(ledger, "upsert_trials", flaky_upsert)
    recorder = _recorder(stores)
    bundle = tune_trial("b", [0, 1])
    recorder.on_trial_start(0, [], bundle)
    recorder.on_trial_result(0, [], bundle, _final(0, [1], 1, following=1))
    wait_for(lambda: recorder.ledger.failures, 10, "a ledger round to fail")
    refuse["on"] = False  # mended: the next round writes what the failed one did not
    recorder.on_trial_result(0, [], bundle, _final(1, [1], 1))
    wait_for(lambda: [t.status for t in ledger.trials("s")] == ["ok", "ok"], 10, "the next round to write both")
    refuse["on"] = True
    recorder.on_trial_start(0, [], tune_trial("c", [0]))
    recording = recorder.close()
    assert recording.ledger_lost == (0,) and "permission denied" in recording.ledger_error
    assert [t.status for t in ledger.trials("s")] == ["ok", "ok"]  # trial 0's rerun never landed


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
