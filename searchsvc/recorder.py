"""Records trials into the ledger and MLflow as Ray Tune reports them, off the training path.

The Tune callback only updates in-memory state and queues writes; one background thread performs
them. So the controller loop never waits on a database, and SQLite sees a single writer. The writer
takes everything queued at once: MLflow writes in order, then the latest ledger row of each trial
that changed, in one transaction.

A trial's MLflow run is created at its first report (its epochs so far, or its result), with the
trial's real start time: a short trial's whole run is written at once (one transaction where the store
allows, see :meth:`searchsvc.tracking.Tracker.record_trial`), and a long one shows up in the dashboard
within ``report_every_s``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ray.tune import Callback

from searchsvc.ledger import Ledger, TrialRecord, now
from searchsvc.tracking import Tracker
from searchsvc.worker import is_final_report

log = logging.getLogger(__name__)


class BackgroundWriter:
    """Runs queued MLflow writes in order, then saves the trials marked changed (also by those writes),
    on one thread. A failing write is logged, not fatal: the ledger row stays the record."""

    def __init__(self, save: Callable[[list[_TrialState]], None]) -> None:
        self._save = save
        self._queue: queue.Queue[Callable[[], None] | _TrialState | None] = queue.Queue()
        self._round: dict[int, _TrialState] | None = None  # the trials to save after this round's writes
        self._thread = threading.Thread(target=self._run, name="searchsvc-writer", daemon=True)
        self._thread.start()
        self.failures = 0
        self.cpu_seconds = 0.0  # the writer thread's CPU time: what recording costs the machine

    def submit(self, write: Callable[[], None]) -> None:
        self._queue.put(write)

    def changed(self, state: _TrialState) -> None:
        """Save the trial's ledger row: with the round being written when a write of it asks, else next round."""
        if self._round is not None and threading.current_thread() is self._thread:
            self._round[state.record.trial_index] = state
        else:
            self._queue.put(state)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        closing = False
        while not (closing and self._queue.empty()):
            items = [] if closing else [self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            closing = closing or None in items
            self._round = {i.record.trial_index: i for i in items if isinstance(i, _TrialState)}
            started = time.thread_time()
            for write in [i for i in items if callable(i)]:
                self._attempt(write)
            changed, self._round = list(self._round.values()), None
            if changed:
                self._attempt(lambda: self._save(changed))
            self.cpu_seconds += time.thread_time() - started

    def _attempt(self, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as e:  # noqa: BLE001 - keep the sweep going
            self.failures += 1
            if self.failures == 1:
                log.warning("a ledger/MLflow write failed (further failures are counted): %s", e)


@dataclass
class _TrialState:
    record: TrialRecord
    run_id: str | None = None  # set by the writer thread
    run_open: bool = False  # the MLflow run is RUNNING (created or reopened in this run of the sweep)
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
    """Tune callback: the trials of each bundle starting, reporting and ending → ledger rows and MLflow runs."""

    def __init__(self, ledger: Ledger, tracker: Tracker | None, sweep_id: str, parent_run_id: str | None,
                 records: dict[int, TrialRecord], metric: str, gave_up: Callable[[int], bool]) -> None:
        """``records``: the ledger rows of the trials to run (their attempts and MLflow runs carry over);
        ``gave_up(k)``: whether the scheduler stopped re-queueing trial k after infra failures."""
        self.ledger, self.tracker, self.sweep_id, self.parent_run_id = ledger, tracker, sweep_id, parent_run_id
        self.metric, self.gave_up = metric, gave_up
        self.writer = BackgroundWriter(self._save_rows)
        self.trials = {k: _TrialState(r, run_id=r.mlflow_run_id) for k, r in records.items()}
        self.running: dict[str, int] = {}  # Tune trial id → the index of the bundle's trial that runs now

    # -- Tune hooks (controller thread: update state, queue writes, return)
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._begin(trial.trial_id, int(trial.config["trial_indices"][0]))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        state = self.trials[int(result["trial_index"])]
        epochs = list(result.get("epochs") or [])
        state.epochs.extend(epochs)
        if not is_final_report(result):  # epochs on the way
            if self.tracker:
                self.writer.submit(lambda: self._log_run(state, epochs))
            return
        self.running.pop(trial.trial_id, None)
        # attempts: restarts after infra failures, plus the in-process retries of the last start
        attempts = state.record.attempts - 1 + int(result["attempts"])
        final = result["final"]
        if final is None:
            self._finish(state, "error", result.get("error"), epochs, attempts=attempts)
        else:
            values = {k: final[k] for k in ("val_score", "test_score", "val_n", "test_n", "epochs", "best_epoch",
                                              "param_count", "memory_estimate_bytes", "train_seconds",
                                              "samples_per_second", "cpu_seconds", "device")}
            self._finish(state, final["status"], final.get("message"), epochs, attempts=attempts, **values)
        if result.get("next_index") is not None:
            self._begin(trial.trial_id, int(result["next_index"]))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        k = self.running.pop(trial.trial_id, None)
        if k is not None:  # the bundle ended without this trial's result
            self._finish(self.trials[k], "error", "the trial ended without reporting a result", [])

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """An infra failure (lost worker, out of memory) ended the bundle: the scheduler re-queued its
        running trial with the same config, or gave up on it after too many restarts."""
        k = self.running.pop(trial.trial_id, None)
        if k is None:
            return
        state = self.trials[k]
        if self.gave_up(k):
            self._finish(state, "infra", _error_text(trial), [])
        else:
            state.record = replace(state.record, status="infra", message=_error_text(trial))
            self.writer.changed(state)

    def cancel_unfinished(self) -> int:
        """Record every trial that did not finish (Tune was stopped) as ``cancelled``; return how many."""
        unfinished = [s for s in self.trials.values() if not s.done]
        for state in unfinished:
            self._finish(state, "cancelled", "cancelled before it finished; `searchsvc resume` runs it again", [])
        return len(unfinished)

    def close(self) -> None:
        """Wait for every queued write."""
        self.writer.close()

    # -- helpers (controller thread)
    def _begin(self, tune_trial_id: str, k: int) -> None:
        self.running[tune_trial_id] = k
        state = self.trials[k]
        state.record = replace(state.record, status="running", attempts=state.record.attempts + 1, started_at=now(),
                               finished_at=None)
        state.epochs = []
        self.writer.changed(state)

    def _finish(self, state: _TrialState, status: str, message: str | None, unlogged: list[dict[str, float]],
                **values: Any) -> None:
        """``unlogged``: the epochs that came with the final report, logged to MLflow with the results."""
        began = state.record.status in ("running", "infra")  # in this run of the sweep
        state.record = replace(state.record, status=status, message=message, finished_at=now(),
                               epoch_metrics=list(state.epochs), **values)
        state.done = True
        if self.tracker and began:
            record = state.record
            self.writer.submit(lambda: self._log_run(state, unlogged, record))
        self.writer.changed(state)

    # -- helpers (writer thread)
    def _save_rows(self, states: list[_TrialState]) -> None:
        self.ledger.upsert_trials([replace(s.record, mlflow_run_id=s.run_id) for s in states])

    def _log_run(self, state: _TrialState, epochs: list[dict[str, float]], final: TrialRecord | None = None) -> None:
        """Epoch metrics (and, with ``final``, the results, tags and end status) into the trial's run,
        which is created at its first report: one MLflow run per trial, ever (a re-run continues in it)."""
        # the learning curves; each epoch's seconds stay in the ledger (a row costs MLflow ~0.2 ms of CPU)
        names = {"train_loss": "train_loss", "val_loss": "val_loss", "val_score": f"val_{self.metric}"}
        rows = [(name, e[key], int(e["epoch"])) for e in epochs for key, name in names.items()]
        tags = None
        if final is not None:
            names = {"val_score": f"best_val_{self.metric}", "test_score": f"test_{self.metric}",
                     "train_seconds": "train_seconds", "cpu_seconds": "cpu_seconds", "param_count": "param_count",
                     "samples_per_second": "samples_per_second", "epochs": "epochs_run"}
            rows += [(name, getattr(final, k), 0) for k, name in names.items() if getattr(final, k) is not None]
            tags = {"searchsvc.status": final.status, "searchsvc.attempts": str(final.attempts),
                    **({"searchsvc.device": final.device} if final.device else {}),
                    **({"searchsvc.message": final.message[-4000:]} if final.message else {})}
        if state.run_id is None:
            started = int((state.record.started_at or now()).timestamp() * 1000)
            k = state.record.trial_index
            if final is not None:  # the first report is the last: the whole run at once
                state.run_id = self.tracker.record_trial(self.parent_run_id, self.sweep_id, k, started, final.status,
                                                         params=state.record.config, rows=rows, tags=tags)
            else:
                state.run_id = self.tracker.start_trial(self.parent_run_id, self.sweep_id, k, started)
                state.run_open = True
                self.tracker.log(state.run_id, params=state.record.config, rows=rows)
            self.writer.changed(state)  # the ledger learns the run id in this round of writes
            return
        if not state.run_open:
            self.tracker.reopen(state.run_id)
            state.run_open = True
        self.tracker.log(state.run_id, rows=rows, tags=tags)
        if final is not None:
            self.tracker.end(state.run_id, final.status)
            state.run_open = False


def _error_text(trial: Any) -> str:
    path = trial.error_file
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")[-20000:]
    return "the trial failed without an error file"
