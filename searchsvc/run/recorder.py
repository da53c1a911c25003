"""Records trials into the ledger and MLflow as Ray Tune reports them, off the training path.

The Tune callback only updates in-memory state and queues writes; writer threads perform them
(:mod:`searchsvc.run.writers`): one the ledger's rows, and MLflow's runs ``TRACKING_LANES`` at once to a
tracking server (one to a local store). So the controller loop never waits on
a database, and the system of record never waits on the dashboard. Every ledger write carries the
driver's lease, and an MLflow write is made only while the lease surely holds: a driver that lost its
sweep to another writes nothing more (:mod:`searchsvc.stores.lease`).

A trial's row is made when it first starts, with the config recorded for it if it ran before, else the
spec's config of its index (nothing is built for the trials that have not started).

A trial's MLflow run is created at its first report (its epochs so far, or its result), with the
trial's real start time: a short trial's whole run is written at once (one transaction where the store
allows, see :meth:`searchsvc.stores.tracking.Tracker.record_trial`), and a long one shows up in the dashboard
within ``report_every_s``. A trial whose run MLflow missed (the server was down) is written whole from
its record once MLflow answers again; the ones still missing at the end are in :class:`Recording`. A
trial's writes that wait together (MLflow is behind) go as one: its whole run at once, where it ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from ray.tune import Callback, Stopper

from experiments.results import EpochMetrics
from searchsvc.run.protocol import Bundle, EpochReport, FinalReport, from_tune
from searchsvc.run.stopping import LiveStopping
from searchsvc.run.writers import LedgerWriter, TrackingWriter
from searchsvc.status import TrialStatus
from searchsvc.stores.lease import Lease, LeaseLost
from searchsvc.stores.ledger import Ledger
from searchsvc.stores.records import TrialRecord, now
from searchsvc.stores.tracking import Tracker
from searchsvc.sweep.spec import SweepSpec


#: MLflow writer threads for a tracking server: requests in flight at once (its default workers are 4)
TRACKING_LANES = 4


@dataclass
class _TrialState:
    record: TrialRecord
    run_id: str | None = None  # set by the MLflow writer
    run_open: bool = False  # the MLflow run is RUNNING (created or reopened in this run of the sweep)
    done: bool = False  # a final status was recorded in this run of the sweep
    epochs: list[EpochMetrics] = field(default_factory=list)  # of its current start (its last attempt's)
    logged: int = 0  # the last epoch written into its MLflow run (re-runs train the same epochs again)
    given_up: bool = False  # the scheduler stopped re-queueing it

    def row(self) -> TrialRecord:
        return replace(self.record, mlflow_run_id=self.run_id)


class _RunWrite(NamedTuple):
    """A part of a trial's MLflow run: its epochs not logged yet and, when ``final``, its end as ``record``."""

    record: TrialRecord
    epochs: tuple[EpochMetrics, ...]
    final: bool


@dataclass(frozen=True)
class Recording:
    """How the recording of a sweep's run went."""

    lease_lost: LeaseLost | None  # another driver took the sweep: nothing more of this one's was written
    ledger_lost: tuple[int, ...]  # trials whose latest row could not be written to the ledger
    ledger_error: str | None
    mlflow_missing: tuple[int, ...]  # trials whose MLflow run lacks writes (backfilled by `searchsvc resume`)
    mlflow_error: str | None
    mlflow_down: bool  # MLflow did not answer at the end
    cpu_seconds: float  # the writer threads' CPU time
    speculative_seconds: float = 0.0  # early termination: epochs trained past a stop while its decision waited
    out_of_memory: int = 0  # re-queues after the GPU's memory ran out


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

    Trials the searcher gives up on after repeated infra failures reach it through :meth:`give_up`, which
    the searcher calls (:class:`searchsvc.run.bundles.BundleSearcher`'s ``on_give_up``); Tune tells the
    searcher and the callbacks of a failed bundle in an order it does not promise, so either may come first.
    """

    def __init__(self, ledger: Ledger, tracker: Tracker | None, parent_run_id: str | None, lease: Lease,
                 spec: SweepSpec, recorded: Mapping[int, TrialRecord], on_lease_lost: Callable[[LeaseLost], None],
                 stopping: LiveStopping | None = None, on_out_of_memory: Callable[[int], None] = lambda k: None,
                 mlflow_lanes: int | None = None, mlflow_batch: bool = True) -> None:
        """``recorded``: the ledger rows of the trials to run that ran before (their config, attempts and MLflow
        runs carry over); ``on_lease_lost``: called once, from a writer's thread, when the lease is lost;
        ``stopping``: the sweep's early termination (:mod:`searchsvc.run.stopping`), which decides when a
        trial's end is recorded, and how; ``mlflow_lanes``, ``mlflow_batch``: the MLflow writer's threads
        (by default as the store suits) and whether a trial's waiting writes go as one."""
        self.stopping = stopping
        self.on_out_of_memory = on_out_of_memory
        self.out_of_memory = 0  # infra failures that were the GPU's memory running out
        self.tracker, self.parent_run_id, self.metric = tracker, parent_run_id, spec.metric
        self.spec, self.lease, self._ledger = spec, lease, ledger
        self._recorded = recorded
        self._on_lease_lost = on_lease_lost
        self.lease_lost: LeaseLost | None = None
        self.speculative_seconds = 0.0
        self.trials: dict[int, _TrialState] = {}  # the trials started in this run of the sweep
        self.running: dict[str, int] = {}  # Tune trial id → the index of the bundle's trial that runs now
        self.ledger = LedgerWriter(lambda rows: ledger.upsert_trials(rows, lease), self._lost)
        self.mlflow: TrackingWriter[_RunWrite] | None = None
        if tracker and parent_run_id:
            lanes = mlflow_lanes or (TRACKING_LANES if tracker.location.is_server else 1)
            self.mlflow = TrackingWriter(tracker.ping, self._write_run, self._backfill, self._holds_lease, lanes,
                                         mlflow_batch)

    def state(self, k: int) -> _TrialState:
        """Trial ``k``'s state, made at its first start: from its recorded row, or new with the spec's config."""
        if k not in self.trials:
            row = self._recorded.get(k) or TrialRecord(self.lease.sweep_id, k, self.spec.config(k), TrialStatus.PENDING)
            # a trial that ran before continues in its MLflow run, which has the epochs it recorded: a re-run
            # trains the same epochs again (same config, same seed) and logs only those after them
            logged = len(row.epoch_metrics) if row.mlflow_run_id else 0
            self.trials[k] = _TrialState(row, run_id=row.mlflow_run_id, logged=logged)
        return self.trials[k]

    # -- Tune hooks (controller thread: update state, queue writes, return)
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._begin(trial.trial_id, Bundle.from_tune(trial.config).trial_indices[0])

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        report = from_tune(result)
        k = report.trial_index
        state = self.state(k)
        _add_epochs(state.epochs, report.epochs)
        if self.stopping is not None:
            self.stopping.epochs(k, report.epochs)
        if isinstance(report, EpochReport):  # epochs on the way
            self._log_run(state)
        else:
            self.running.pop(trial.trial_id, None)
            if self.stopping is None:
                self._end(state, report)
            else:
                self.stopping.ended(k, report)  # recorded once the board has decided it
            if report.next_index is not None:
                self._begin(trial.trial_id, report.next_index)
        if self.stopping is not None:
            self._decide()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        k = self.running.pop(trial.trial_id, None)
        if k is not None:  # the bundle ended without this trial's result
            self._finish(self.state(k), TrialStatus.ERROR, "the trial ended without reporting a result")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """An infra failure (lost worker, out of memory) ended the bundle: the scheduler re-queues its
        running trial with the same config, or gives up on it after too many restarts."""
        k = self.running.pop(trial.trial_id, None)
        if k is None:
            return
        state = self.state(k)
        text = _error_text(trial)
        if is_gpu_out_of_memory(text):  # re-run with a larger GPU share (searchsvc.run.packing)
            self.out_of_memory += 1
            self.on_out_of_memory(k)
        if state.given_up:
            self._finish(state, TrialStatus.INFRA, text)
        else:
            state.record = replace(state.record, status=TrialStatus.INFRA, message=text)
            self._save(state)

    def give_up(self, k: int) -> None:
        """The searcher will not re-queue trial ``k``: it ends ``infra`` (now, if its failure was seen)."""
        state = self.state(k)
        state.given_up = True
        if self.stopping is not None:
            self.stopping.gave_up(k)
            self._decide()
        if state.record.status == TrialStatus.INFRA and not state.done:
            self._finish(state, TrialStatus.INFRA, state.record.message)

    def cancel_unfinished(self) -> int:
        """Record every trial that started and did not finish (Tune was stopped) as ``cancelled``; return how
        many (the trials that never started stay pending, without a row)."""
        unfinished = [s for s in self.trials.values() if not s.done]
        for state in unfinished:
            self._finish(state, TrialStatus.CANCELLED, "cancelled before it finished; `searchsvc resume` runs it "
                         "again")
        return len(unfinished)

    def close(self, mlflow_timeout_s: float | None = None) -> Recording:
        """Wait for every queued write (MLflow's at most ``mlflow_timeout_s``, by default ``CLOSE_S``); say what
        could not be written."""
        if self.mlflow:
            self.mlflow.close(mlflow_timeout_s)
        self.ledger.close()
        mlflow = self.mlflow
        return Recording(self.lease_lost, tuple(self.ledger.lost), self.ledger.error,
                         tuple(sorted(mlflow.missing)) if mlflow else (), mlflow.error if mlflow else None,
                         bool(mlflow and mlflow.down), self.ledger.cpu_seconds + (mlflow.cpu_seconds if mlflow else 0.0),
                         self.speculative_seconds, self.out_of_memory)

    # -- helpers (controller thread)
    def _begin(self, tune_trial_id: str, k: int) -> None:
        self.running[tune_trial_id] = k
        state = self.state(k)
        state.record = replace(state.record, status=TrialStatus.RUNNING, attempts=state.record.attempts + 1,
                               started_at=now(), finished_at=None)
        state.epochs = []
        self._save(state)

    def _decide(self) -> None:
        """Early termination: stop the running trials the board stopped, and record the held ones it decided."""
        self.stopping.signal_stops(self.running.values())
        for k, report in self.stopping.decided():
            self._end(self.state(k), report)
        for k in self.running.values():
            self._log_run(self.state(k))

    def _end(self, state: _TrialState, report: FinalReport) -> None:
        # attempts: restarts after infra failures, plus the in-process retries of the last start
        attempts = state.record.attempts - 1 + report.attempts
        state.record = replace(state.record, attempts=attempts, node=report.node)
        if report.result is None:
            self._finish(state, TrialStatus.ERROR, report.error)
        else:
            if report.result.stop_epoch is not None:  # its curve ends at its stop
                self.speculative_seconds += sum(e.seconds for e in state.epochs[report.result.stop_epoch:])
                del state.epochs[report.result.stop_epoch:]
            self._finish(state, TrialStatus(report.result.status), report.result.message, result=report.result)

    def _finish(self, state: _TrialState, status: TrialStatus, message: str | None, result: Any = None) -> None:
        """The trial's end: its row, and its MLflow run's remaining epochs with the results."""
        began = state.record.status in (TrialStatus.RUNNING, TrialStatus.INFRA)  # in this run of the sweep
        state.record = replace(state.record, status=status, message=message, finished_at=now(),
                               result=result, epoch_metrics=tuple(state.epochs))
        state.done = True
        if began:
            self._log_run(state, final=True)
        self._save(state)

    def _save(self, state: _TrialState) -> None:
        self.ledger.changed(state.record.trial_index, state.row)

    def _log_run(self, state: _TrialState, final: bool = False) -> None:
        """Queue the MLflow write of the trial's epochs not logged yet (while it runs under early termination, only
        those its recorded curve surely keeps), and at its end its results."""
        if self.mlflow is None:
            return
        horizon = None if final or self.stopping is None else \
            self.stopping.logged_up_to(state.record.trial_index)
        epochs = tuple(e for e in state.epochs if e.epoch > state.logged and (horizon is None or e.epoch <= horizon))
        if not epochs and not final:
            return
        state.logged = max([state.logged, *(e.epoch for e in epochs)])
        self.mlflow.submit(state.record.trial_index, _RunWrite(state.record, epochs, final), final)

    # -- the lease (writer threads)
    def _lost(self, lost: LeaseLost) -> None:
        if self.lease_lost is None:
            self.lease_lost = lost
            self._on_lease_lost(lost)

    def _holds_lease(self) -> bool:
        """Before an MLflow write: the lease surely holds (renewed now if its last confirmation is old)."""
        if self.lease_lost is not None:
            return False
        if self.lease.fresh():
            return True
        try:
            self._ledger.renew(self.lease)
        except LeaseLost as lost:
            self._lost(lost)
            return False
        except Exception:  # noqa: BLE001 - the ledger does not answer: not surely the owner, so no write
            return False
        return True

    # -- helpers (MLflow writer thread)
    def _write_run(self, k: int, parts: list[_RunWrite]) -> None:
        """Trial ``k``'s parts, in order, as one: epochs (and, when the last is ``final``, the results, tags and
        end status) into the trial's run, which is created at its first write: one MLflow run per trial, ever
        (a re-run continues in it)."""
        state, tracker = self.trials[k], self.tracker
        record, final = parts[-1].record, parts[-1].final
        epochs = tuple(e for part in parts for e in part.epochs)
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
        state = self.state(k)
        if state.run_id is None:
            state.run_id = self.tracker.trial_run_id(self.parent_run_id, k)
        state.run_id = self.tracker.backfill_trial(self.parent_run_id, state.record, self.metric, state.run_id)
        state.run_open = False
        self._save(state)


def _add_epochs(curve: list[EpochMetrics], epochs: Sequence[EpochMetrics]) -> None:
    """Append reported epochs; an epoch reported again (a retry that starts over) replaces the curve from it on."""
    for e in epochs:
        del curve[e.epoch - 1:]
        curve.append(e)


def is_gpu_out_of_memory(text: str) -> bool:
    """Whether a failure's text says the GPU's memory ran out (torch's OutOfMemoryError)."""
    return "CUDA out of memory" in text or "OutOfMemoryError" in text


def _error_text(trial: Any) -> str:
    path = trial.error_file
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")[-20000:]
    return "the trial failed without an error file"
