"""Records trials into the ledger and MLflow as Ray Tune reports them, off the training path.

The Tune callback only updates in-memory state and queues writes; one background thread performs
them in order. So the controller loop never waits on a database, and SQLite sees a single writer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ray.tune import Callback

from searchsvc.ledger import Ledger, TrialRecord, now
from searchsvc.tracking import Tracker

log = logging.getLogger(__name__)

class BackgroundWriter:
    """Runs queued writes in order on one thread. A failing write is logged, not fatal."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="searchsvc-writer", daemon=True)
        self._thread.start()
        self.failures = 0

    def submit(self, write: Callable[[], None]) -> None:
        self._queue.put(write)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (write := self._queue.get()) is not None:
            try:
                write()
            except Exception as e:  # noqa: BLE001 - the ledger row stays the record; keep the sweep going
                self.failures += 1
                if self.failures == 1:
                    log.warning("a ledger/MLflow write failed (further failures are counted): %s", e)


@dataclass
class _TrialState:
    record: TrialRecord
    run_id: str | None = None
    last_report: dict[str, Any] | None = None  # the trainable's final report (it has "attempts")
    done: bool = False  # a final status was recorded in this run of the sweep
    epochs: list[dict[str, float]] = field(default_factory=list)


class DriverCallback(Callback):
    """A Tune callback that lives in the driver only. Tune pickles its callbacks for its own experiment
    restore, which searchsvc does not use (``resume`` reads the ledger), so nothing of it is pickled."""

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass


class TrialRecorder(DriverCallback):
    """Tune callback: trial start / results / completion / error → ledger rows and MLflow child runs."""

    def __init__(self, ledger: Ledger, tracker: Tracker | None, sweep_id: str, parent_run_id: str | None,
                 records: dict[int, TrialRecord], metric: str) -> None:
        """``records``: the ledger rows of the trials to run (their attempts and MLflow runs carry over)."""
        self.ledger, self.tracker, self.sweep_id, self.parent_run_id = ledger, tracker, sweep_id, parent_run_id
        self.metric = metric
        self.writer = BackgroundWriter()
        self.trials = {k: _TrialState(r, run_id=r.mlflow_run_id) for k, r in records.items()}

    # -- Tune hooks (controller thread: update state, queue writes, return)
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        state = self.trials[trial.config["trial_index"]]
        state.record = replace(state.record, status="running", attempts=state.record.attempts + 1, started_at=now(),
                               finished_at=None)
        state.epochs, state.last_report = [], None
        self._save(state)
        if self.tracker:
            self.writer.submit(lambda: self._start_run(state))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        state = self.trials[trial.config["trial_index"]]
        epochs = list(result.get("epochs") or [])
        state.epochs.extend(epochs)
        if "attempts" in result:  # the trial's last report
            state.last_report = result
        if self.tracker and epochs:
            names = {"train_loss": "train_loss", "val_loss": "val_loss", "val_score": f"val_{self.metric}",
                     "seconds": "epoch_seconds"}
            rows = [(name, e[key], int(e["epoch"])) for e in epochs for key, name in names.items()]
            self.writer.submit(lambda: self.tracker.log_metrics(state.run_id, rows) if state.run_id else None)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        state = self.trials[trial.config["trial_index"]]
        report = state.last_report or {"final": None, "error": "the trial ended without reporting a result", "attempts": 1}
        # attempts: restarts after infra failures, plus the in-process retries of the last start
        attempts = state.record.attempts - 1 + int(report["attempts"])
        if report["final"] is None:
            self._finish(state, "error", report.get("error"), attempts=attempts)
            return
        final = report["final"]
        values = {k: final[k] for k in ("val_score", "test_score", "val_n", "test_n", "epochs", "best_epoch",
                                          "param_count", "memory_estimate_bytes", "train_seconds",
                                          "samples_per_second")}
        self._finish(state, final["status"], final.get("message"), attempts=attempts, **values)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """An infra failure (lost worker, out of memory): Tune re-queues the trial with the same config."""
        state = self.trials[trial.config["trial_index"]]
        state.record = replace(state.record, status="infra", message=_error_text(trial))
        self._save(state)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Tune gave up re-queueing the trial: its worker kept failing (errors of the code never get here)."""
        self._finish(self.trials[trial.config["trial_index"]], "infra", _error_text(trial))

    def cancel_unfinished(self) -> int:
        """Record every trial that did not finish (Tune was stopped) as ``cancelled``; return how many."""
        unfinished = [s for s in self.trials.values() if not s.done]
        for state in unfinished:
            self._finish(state, "cancelled", "cancelled before it finished; `searchsvc resume` runs it again")
        return len(unfinished)

    def close(self) -> None:
        """Wait for every queued write."""
        self.writer.close()

    # -- helpers
    def _finish(self, state: _TrialState, status: str, message: str | None, **values: Any) -> None:
        state.record = replace(state.record, status=status, message=message, finished_at=now(),
                               epoch_metrics=list(state.epochs), **values)
        state.done = True
        self._save(state)
        if self.tracker:
            self.writer.submit(lambda: self._end_run(state))

    def _save(self, state: _TrialState) -> None:
        record = state.record
        self.writer.submit(lambda: self.ledger.upsert_trials([replace(record, mlflow_run_id=state.run_id)]))

    def _start_run(self, state: _TrialState) -> None:
        """One MLflow run per trial, ever: a re-run (infra, resume) continues in the trial's run."""
        if state.run_id is not None:
            self.tracker.reopen(state.run_id)
            return
        r = state.record
        state.run_id = self.tracker.start_trial(self.parent_run_id, self.sweep_id, r.trial_index, r.config)
        self.ledger.upsert_trials([replace(state.record, mlflow_run_id=state.run_id)])

    def _end_run(self, state: _TrialState) -> None:
        r = state.record
        if state.run_id is None:
            return
        names = {"val_score": f"best_val_{self.metric}", "test_score": f"test_{self.metric}",
                 "train_seconds": "train_seconds", "param_count": "param_count",
                 "samples_per_second": "samples_per_second", "epochs": "epochs_run"}
        finals = [(name, getattr(r, k), 0) for k, name in names.items() if getattr(r, k) is not None]
        tags = {"searchsvc.status": r.status, "searchsvc.attempts": str(r.attempts),
                **({"searchsvc.message": r.message[-4000:]} if r.message else {})}
        self.tracker.finish(state.run_id, r.status, tags, finals)


def _error_text(trial: Any) -> str:
    path = trial.error_file
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")[-20000:]
    return "the trial failed without an error file"
