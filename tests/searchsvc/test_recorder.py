"""The recorder and the worker's reports, with fake Tune trials and a real MLflow store (SQLite): a
trial's run is created at its first report, epochs arrive on the way, the final report closes it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from experiments.results import EpochMetrics
from experiments.settings import TrainingSettings
from searchsvc.ledger import SweepRecord, TrialRecord, get_ledger, now
from searchsvc.recorder import TrialRecorder
from searchsvc.tracking import get_tracker
from searchsvc.worker import Reporter, TrialJob, run_trial


def _epoch(e: int) -> dict[str, float]:
    return EpochMetrics(e, train_loss=1.0 / e, val_loss=1.0 / e, val_score=0.1 * e, seconds=0.5).as_dict()


def _final(epochs: int) -> dict[str, object]:
    return {"status": "ok", "val_score": 0.1 * epochs, "test_score": 0.2, "val_n": 10, "test_n": 10, "epochs": epochs,
            "best_epoch": epochs, "param_count": 99, "memory_estimate_bytes": 1, "train_seconds": 1.5,
            "cpu_seconds": 1.4, "samples_per_second": 100.0, "device": "cpu"}


def test_epochs_are_reported_on_the_way_at_most_every_report_every_s(monkeypatch) -> None:
    def train(*args, on_epoch, **kwargs):
        for e in (1, 2, 3):
            on_epoch(EpochMetrics(e, 1.0, 1.0, 0.5, 0.1))
        return SimpleNamespace(as_dict=lambda: {"status": "ok"})

    monkeypatch.setattr("experiments.trainable.train_trial", train)
    for every, expected in ((0.0, [[1], [2], [3]]), (60.0, [])):
        job = TrialJob(0, {0: {"units": 8}}, TrainingSettings(), "accuracy", 1, "cpu", report_every_s=every)
        sent: list[dict] = []
        final = run_trial(0, None, job, sent.append)
        assert [[e["epoch"] for e in r["epochs"]] for r in sent] == expected
        assert [e["epoch"] for e in final["epochs"]] == ([] if every == 0 else [1, 2, 3])


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


def test_a_run_is_created_at_the_first_report_and_closed_with_the_results(tmp_path) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    tracker = get_tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracker.start_sweep("rec", "s", {}, {})
    ledger.create_sweep(SweepRecord("s", "rec", {}, 2, "accuracy", "max", "running", now(), parent))
    records = {k: TrialRecord("s", k, {"units": 8 + k}, "pending") for k in range(2)}
    ledger.upsert_trials(list(records.values()))
    recorder = TrialRecorder(ledger, tracker, "s", parent, records, "accuracy", gave_up=lambda k: False)
    bundle = SimpleNamespace(trial_id="b", config={"trial_indices": [0, 1]}, error_file=None)

    recorder.on_trial_start(0, [], bundle)  # trial 0: a long one, with epochs on the way
    recorder.on_trial_result(0, [], bundle, {"trial_index": 0, "epochs": [_epoch(1), _epoch(2)]})
    recorder.on_trial_result(0, [], bundle, {"trial_index": 0, "epochs": [_epoch(3)], "final": _final(3),
                                             "attempts": 1, "next_index": 1})
    recorder.on_trial_result(0, [], bundle, {"trial_index": 1, "epochs": [_epoch(1)], "final": _final(1),
                                             "attempts": 1, "next_index": None})  # trial 1: one report
    recorder.close()

    rows = {t.trial_index: t for t in ledger.trials("s")}
    for k, epochs in ((0, 3), (1, 1)):
        run = tracker.client.get_run(rows[k].mlflow_run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["units"] == str(8 + k)
        assert {t: run.data.tags[f"searchsvc.{t}"] for t in ("status", "attempts", "device", "trial_index")} == \
            {"status": "ok", "attempts": "1", "device": "cpu", "trial_index": str(k)}
        history = tracker.client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [(m.step, round(m.value, 6)) for m in history] == [(e, round(0.1 * e, 6)) for e in range(1, epochs + 1)]
        assert run.data.metrics["best_val_accuracy"] == rows[k].val_score and rows[k].status == "ok"
        assert run.data.metrics["cpu_seconds"] == rows[k].cpu_seconds == 1.4
        assert "epoch_seconds" not in run.data.metrics  # kept in the ledger only
        assert [e["seconds"] for e in rows[k].epoch_metrics] == [0.5] * epochs
    assert tracker.trial_run_ids(parent) == {k: rows[k].mlflow_run_id for k in rows}


def test_a_short_trial_costs_one_ledger_write_which_carries_its_run_id(tmp_path, monkeypatch) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    tracker = get_tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracker.start_sweep("rec", "s", {}, {})
    ledger.create_sweep(SweepRecord("s", "rec", {}, 1, "accuracy", "max", "running", now(), parent))
    records = {0: TrialRecord("s", 0, {"units": 8}, "pending")}
    ledger.upsert_trials(list(records.values()))
    saved: list[list[tuple[str, str | None]]] = []
    upsert = ledger.upsert_trials
    monkeypatch.setattr(ledger, "upsert_trials",
                        lambda trials: (saved.append([(t.status, t.mlflow_run_id) for t in trials]), upsert(trials)))
    recorder = TrialRecorder(ledger, tracker, "s", parent, records, "accuracy", gave_up=lambda k: False)
    busy = threading.Event()
    recorder.writer.submit(lambda: busy.wait(timeout=10))  # the writer is busy while the trial runs: one round
    bundle = SimpleNamespace(trial_id="b", config={"trial_indices": [0]}, error_file=None)
    recorder.on_trial_start(0, [], bundle)
    recorder.on_trial_result(0, [], bundle, {"trial_index": 0, "epochs": [_epoch(1)], "final": _final(1),
                                             "attempts": 1, "next_index": None})
    busy.set()
    recorder.close()
    (row,) = ledger.trials("s")
    assert saved == [[("ok", row.mlflow_run_id)]] and row.mlflow_run_id is not None
