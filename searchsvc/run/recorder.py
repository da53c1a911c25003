"""Records trials into the ledger and MLflow as Ray Tune reports them, off the training path.

The Tune callback only updates in-memory state and queues writes; two threads perform them
(:mod:`searchsvc.run.writers`): the ledger's rows, and MLflow's runs. So the controller loop never waits on
a database, SQLite sees a single writer, and the system of record never waits on the dashboard.

A trial's MLflow run is created at its first report (its epochs so far, or its result), with the
trial's real start time: a short trial's whole run is written at once (one transaction where the store
allows, see :meth:`searchsvc.stores.tracking.Tracker.record_trial`), and a long one shows up in the dashboard
within ``report_every_s``. A trial whose run MLflow missed (the server was down) is written whole from
its record once MLflow answers again; the ones still missing at the end are in :class:`Recording`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ray.tune import Callback, Stopper

from experiments.results import EpochMetrics
from searchsvc.stores.ledger import Ledger, TrialRecord, now
from searchsvc.run.reports import EpochReport, FinalReport, from_tune
from searchsvc.status import TrialStatus
from searchsvc.stores.tracking import Tracker
from searchsvc.run.writers import DashboardWriter, LedgerWriter


@dataclass
class _TrialState:
    record: TrialRecord
    run_id: str | None = None  # set by the MLflow writer
    run_open: bool = False  # the MLflow run is RUNNING (created or reopened in this run of the sweep)
    done: bool = False  # a final status was recorded in this run of the sweep
    epochs: list[EpochMetrics] = field(default_factory=list)
    given_up: bool = False  # the scheduler stopped re-queueing it

    def row(self) -> TrialRecord:
        return replace(self.record, mlflow_run_id=self.run_id)


@dataclass(frozen=True)
class Recording:
    """How the recording of a sweep's run went."""

    ledger_lost: tuple[int, ...]  # trials whose latest row could not be written to the ledger
    ledger_error: str | None
    mlflow_missing: tuple[int, ...]  # trials whose MLflow run lacks writes (backfilled by `searchsvc resume`)
    mlflow_error: str | None
    mlflow_down: bool  # MLflow did not answer at the end
    cpu_seconds: float  # the writer threads' CPU time


class DriverCallback(Callback):
    """A Tune callback that lives in the driver only. Tune pickles its callbacks for its own experiment
    restore, which searchsvc does not use (``resume`` reads the ledger), so nothing of it is pickled."""

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass


class CancelStopper(Stopper):
    """Stops the whole Tune run once ``cancel`` is set (a cancel request, SIGTERM). Not pickled, as above."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.cancel.is_set()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.cancel = threading.Event()


class TrialRecorder(DriverCallback):
    """Tune callback: the trials of each bundle starting, reporting and ending → ledger rows and MLflow runs.

    Trials the scheduler gives up on after repeated infra failures reach it through :meth:`give_up`, which
    the scheduler calls (:class:`searchsvc.run.bundles.BundleScheduler`'s ``on_give_up``); Tune tells the
    scheduler and the callbacks of a failed bundle in an order it does not promise, so either may come first.
    """

    def __init__(self, ledger: Ledger, tracker: Tracker | None, parent_run_id: str | None,
                 records: dict[int, TrialRecord], metric: str) -> None:
        """``records``: the ledger rows of the trials to run (their attempts and MLflow runs carry over)."""
        self.tracker, self.parent_run_id, self.metric = tracker, parent_run_id, metric
        self.trials = {k: _TrialState(r, run_id=r.mlflow_run_id) for k, r in records.items()}
        self.running: dict[str, int] = {}  # Tune trial id → the index of the bundle's trial that runs now
        self.ledger = LedgerWriter(ledger.upsert_trials)
        self.mlflow = DashboardWriter(tracker.ping, self._backfill) if tracker and parent_run_id else None

    # -- Tune hooks (controller thread: update state, queue writes, return)
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._begin(trial.trial_id, int(trial.config["trial_indices"][0]))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        report = from_tune(result)
        state = self.trials[report.trial_index]
        state.epochs.extend(report.epochs)
        if isinstance(report, EpochReport):  # epochs on the way
            self._log_run(state, report.epochs)
            return
        self.running.pop(trial.trial_id, None)
        self._end(state, report)
        if report.next_index is not None:
            self._begin(trial.trial_id, report.next_index)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        k = self.running.pop(trial.trial_id, None)
        if k is not None:  # the bundle ended without this trial's result
            self._finish(self.trials[k], TrialStatus.ERROR, "the trial ended without reporting a result", ())

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """An infra failure (lost worker, out of memory) ended the bundle: the scheduler re-queues its
        running trial with the same config, or gives up on it after too many restarts."""
        k = self.running.pop(trial.trial_id, None)
        if k is None:
            return
        state = self.trials[k]
        if state.given_up:
            self._finish(state, TrialStatus.INFRA, _error_text(trial), ())
        else:
            state.record = replace(state.record, status=TrialStatus.INFRA, message=_error_text(trial))
            self._save(state)

    def give_up(self, k: int) -> None:
        """The scheduler will not re-queue trial ``k``: it ends ``infra`` (now, if its failure was seen)."""
        state = self.trials[k]
        state.given_up = True
        if state.record.status == TrialStatus.INFRA and not state.done:
            self._finish(state, TrialStatus.INFRA, state.record.message, ())

    def cancel_unfinished(self) -> int:
        """Record every trial that did not finish (Tune was stopped) as ``cancelled``; return how many."""
        unfinished = [s for s in self.trials.values() if not s.done]
        for state in unfinished:
            self._finish(state, TrialStatus.CANCELLED, "cancelled before it finished; `searchsvc resume` runs it "
                         "again", ())
        return len(unfinished)

    def close(self) -> Recording:
        """Wait for every queued write; say what could not be written."""
        if self.mlflow:
            self.mlflow.close()
        self.ledger.close()
        mlflow = self.mlflow
        return Recording(tuple(self.ledger.lost), self.ledger.error,
                         tuple(sorted(mlflow.missing)) if mlflow else (), mlflow.error if mlflow else None,
                         bool(mlflow and mlflow.down), self.ledger.cpu_seconds + (mlflow.cpu_seconds if mlflow else 0.0))

    # -- helpers (controller thread)
    def _begin(self, tune_trial_id: str, k: int) -> None:
        self.running[tune_trial_id] = k
        state = self.trials[k]
        state.record = replace(state.record, status=TrialStatus.RUNNING, attempts=state.record.attempts + 1,
                               started_at=now(), finished_at=None)
        state.epochs = []
        self._save(state)

    def _end(self, state: _TrialState, report: FinalReport) -> None:
        # attempts: restarts after infra failures, plus the in-process retries of the last start
        attempts = state.record.attempts - 1 + report.attempts
        state.record = replace(state.record, attempts=attempts, node=report.node)
        if report.result is None:
            self._finish(state, TrialStatus.ERROR, report.error, report.epochs)
        else:
            self._finish(state, TrialStatus(report.result.status), report.result.message, report.epochs,
                         result=report.result)

    def _finish(self, state: _TrialState, status: TrialStatus, message: str | None,
                unlogged: Sequence[EpochMetrics], result: Any = None) -> None:
        """``unlogged``: the epochs that came with the final report, logged to MLflow with the results."""
        began = state.record.status in (TrialStatus.RUNNING, TrialStatus.INFRA)  # in this run of the sweep
        state.record = replace(state.record, status=status, message=message, finished_at=now(),
                               result=result, epoch_metrics=tuple(state.epochs))
        state.done = True
        if began:
            self._log_run(state, unlogged, final=True)
        self._save(state)

    def _save(self, state: _TrialState) -> None:
        self.ledger.changed(state.record.trial_index, state.row)

    def _log_run(self, state: _TrialState, epochs: Sequence[EpochMetrics], final: bool = False) -> None:
        if self.mlflow is None:
            return
        record = state.record
        self.mlflow.submit(record.trial_index, lambda: self._write_run(state, record, tuple(epochs), final), final)

    # -- helpers (MLflow writer thread)
    def _write_run(self, state: _TrialState, record: TrialRecord, epochs: tuple[EpochMetrics, ...],
                   final: bool) -> None:
        """Epochs (and, when ``final``, the results, tags and end status) into the trial's run, which is
        created at its first report: one MLflow run per trial, ever (a re-run continues in it)."""
        tracker = self.tracker
        if state.run_id is None:
            if final:  # the first report is the last: the whole run at once
                state.run_id = tracker.record_trial(self.parent_run_id, record, self.metric, epochs)
            else:
                state.run_id = tracker.start_trial(self.parent_run_id, record, self.metric, epochs)
                state.run_open = True
            self._save(state)  # the ledger learns the run id
            return
        if not state.run_open:
            tracker.reopen(state.run_id)
            state.run_open = True
        if final:
            tracker.finish_trial(state.run_id, record, self.metric, epochs)
            state.run_open = False
        else:
            tracker.log_epochs(state.run_id, epochs, self.metric)

    def _backfill(self, k: int) -> None:
        """Trial ``k``'s run as its record says, after MLflow missed some of its writes."""
        state = self.trials[k]
        if state.run_id is None:
            state.run_id = self.tracker.trial_run_ids(self.parent_run_id).get(k)
        state.run_id = self.tracker.backfill_trial(self.parent_run_id, state.record, self.metric, state.run_id)
        state.run_open = False
        self._save(state)


def _error_text(trial: Any) -> str:
    path = trial.error_file
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")[-20000:]
    return "the trial failed without an error file"
