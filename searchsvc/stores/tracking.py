"""MLflow as the dashboard: one experiment per sweep name, a parent run per sweep, a child run per trial.

Everything goes through ``MlflowClient`` with explicit run ids (no fluent global state), so the
driver can write many runs from one thread; the one exception is a short trial's whole run, written in
one transaction where the store allows (:meth:`Tracker.record_trial`, :mod:`searchsvc.stores.mlflow_sql`).
``get_tracker(None | URI | Tracker)`` is the factory:
``None`` → ``$MLFLOW_TRACKING_URI`` or the SQLite store under the searchsvc home.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.results import EpochMetrics
from searchsvc.stores import mlflow_sql
from searchsvc.errors import SearchSvcError
from searchsvc.stores.records import TrialRecord
from searchsvc.stores.locations import CONNECT_TIMEOUT_S, TRACKING_FLAG, TrackingLocation, make_folder
from searchsvc.status import SweepStatus, TrialStatus

#: the MLflow client's retries against a tracking server (MLflow's own defaults wait out minutes; a user's
#: settings of these variables win): a dead server is noticed within seconds, and its writes skipped
SERVER_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                  "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}


class Tracker:
    """Writes sweeps and trials to one MLflow tracking store."""

    def __init__(self, location: TrackingLocation) -> None:
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # stdout carries our data only
        if location.is_server:
            for name, value in SERVER_RETRIES.items():
                os.environ.setdefault(name, value)
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # after import: no "creating tables" chatter

        self.location = location
        self.tracking_uri = location.uri
        self._experiment_of_run: dict[str, tuple[str, str]] = {}  # parent run id → experiment id, artifact location
        with _store_lock(location):  # MLflow creates (migrates) a new local store as a client first opens it
            if location.path is not None:
                _write_ahead_log(location.path)
            self.client = MlflowClient(location.uri)
            self._sql_store = mlflow_sql.sql_store(self.client)

    def __repr__(self) -> str:
        return f"Tracker({self.tracking_uri!r})"

    def experiment_id(self, name: str) -> str:
        """The experiment of that name, created if new. It is marked as model training, so that MLflow's UI
        opens it on its runs (MLflow 3 opens an unmarked one on its GenAI overview)."""
        found = self.client.get_experiment_by_name(name)
        if found is None:
            root = self.location.artifact_root
            return self.client.create_experiment(name, artifact_location=(root / name).as_uri() if root else None,
                                                 tags={EXPERIMENT_KIND: MODEL_TRAINING})
        if found.tags.get(EXPERIMENT_KIND) is None:
            self.client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)
        return found.experiment_id

    def start_sweep(self, experiment: str, sweep_id: str, params: Mapping[str, object], spec: dict[str, Any]) -> str:
        run = self.client.create_run(
            self.experiment_id(experiment), run_name=sweep_id, tags={SWEEP_ID: sweep_id, KIND: "sweep"}
        )
        self.log(run.info.run_id, params=params)
        self.client.log_dict(run.info.run_id, spec, "spec.json")
        return run.info.run_id

    def finish_sweep(self, run_id: str, status: SweepStatus, counts: Mapping[str, int], best: TrialRecord | None,
                     metric: str) -> None:
        """The sweep's counts, best trial and end status on its run."""
        rows = [(f"trials_{trial_status}", n, 0) for trial_status, n in counts.items()]
        tags = {STATUS: str(status)}
        if best is not None:
            rows.append((f"best_val_{metric}", best.val_score, 0))
            if best.test_score is not None:
                rows.append((f"best_trial_test_{metric}", best.test_score, 0))
            tags["searchsvc.best_trial"] = str(best.trial_index)
        self.log(run_id, rows=rows, tags=tags)
        self.end(run_id, run_status(status))

    # -- a trial's run: created at its first report, its epochs on the way, closed with its results
    def start_trial(self, parent_run_id: str, trial: TrialRecord, metric: str,
                    epochs: Sequence[EpochMetrics] = ()) -> str:
        """Create the trial's run, RUNNING, with its params and its epochs so far; return its id."""
        return self._create_trial(parent_run_id, trial, _epoch_rows(epochs, metric))

    def _create_trial(self, parent_run_id: str, trial: TrialRecord, rows: list[tuple[str, float, int]],
                      tags: Mapping[str, str] | None = None) -> str:
        """The trial's run with its tags (and ``tags``), then its params and ``rows`` in as few batches as fit."""
        run = self.client.create_run(self._experiment(parent_run_id)[0], start_time=_millis(trial.started_at),
                                     run_name=_trial_run_name(trial),
                                     tags={**_trial_tags(parent_run_id, trial), **(tags or {})})
        self.log(run.info.run_id, params=trial.config, rows=rows)
        return run.info.run_id

    def log_epochs(self, run_id: str, epochs: Sequence[EpochMetrics], metric: str) -> None:
        self.log(run_id, rows=_epoch_rows(epochs, metric))

    def finish_trial(self, run_id: str, trial: TrialRecord, metric: str, epochs: Sequence[EpochMetrics] = ()) -> None:
        """The epochs not yet logged, the results and tags, and the end status of a trial's run."""
        self.log(run_id, rows=_epoch_rows(epochs, metric) + _result_rows(trial, metric), tags=_end_tags(trial))
        self.end(run_id, run_status(trial.status))

    def record_trial(self, parent_run_id: str, trial: TrialRecord, metric: str, epochs: Sequence[EpochMetrics]) -> str:
        """A trial that ended before its first report: its whole run, created ended. In MLflow's SQL store
        in this process that is one transaction (:mod:`searchsvc.stores.mlflow_sql`), else, or if that fails, the
        client's three calls (the run with all its tags, one batch of params and metrics, its end). Returns the
        run id."""
        rows = _epoch_rows(epochs, metric) + _result_rows(trial, metric)
        if self._sql_store is not None:
            experiment_id, artifact_location = self._experiment(parent_run_id)
            stamp = int(time.time() * 1000)
            try:
                return mlflow_sql.insert_finished_run(
                    self._sql_store, experiment_id=experiment_id, artifact_location=artifact_location,
                    run_name=_trial_run_name(trial), status=run_status(trial.status),
                    start_time_ms=_millis(trial.started_at), end_time_ms=stamp, params=_params(trial.config),
                    metrics=[(key, float(value), stamp, step) for key, value, step in rows],
                    tags={**_trial_tags(parent_run_id, trial), **_end_tags(trial)})
            except Exception as e:  # noqa: BLE001 - the client writes it instead, from now on
                logging.getLogger(__name__).warning("MLflow: writing a run in one transaction failed, so runs go "
                                                    "through the client from now on: %s", e)
                self._sql_store = None
        run_id = self._create_trial(parent_run_id, trial, rows, _end_tags(trial))
        self.end(run_id, run_status(trial.status))
        return run_id

    def backfill_trial(self, parent_run_id: str, trial: TrialRecord, metric: str, run_id: str | None) -> str:
        """Make the trial's run what the ledger says, after MLflow missed writes: create it whole, or complete
        the run it has (the params, epochs and results it lacks, its tags and end status). Returns the run id."""
        if run_id is None:
            return self.record_trial(parent_run_id, trial, metric, trial.epoch_metrics)
        run = self.client.get_run(run_id)
        logged = {m.step for m in self.client.get_metric_history(run_id, STEP_MARKER)}
        params = {k: v for k, v in trial.config.items() if k not in run.data.params}
        self.log(run_id, params=params)
        self.finish_trial(run_id, trial, metric, [e for e in trial.epoch_metrics if e.epoch not in logged])
        return run_id

    def log_summary(self, run_id: str, summary: str, expected_best: Sequence[tuple[int, float]], metric: str) -> None:
        """A sweep's analysis on its run: the summary as the run's description (its first page), and the
        expected best test score of s trials as a metric over s (its chart)."""
        note = f"searchsvc analyze (without importance), as the sweep ended:\n\n```\n{summary}\n```"
        self.log(run_id, rows=[(f"expected_best_test_{metric}", mean, n) for n, mean in expected_best],
                 tags={RUN_DESCRIPTION: note})

    def run_path(self, run_id: str) -> str:
        """A run's page in MLflow's UI, after the UI's address: MLflow 3's model-training view of it (the UI
        opens on its GenAI view otherwise), metrics and artifacts on the page."""
        return f"/#/experiments/{self._experiment(run_id)[0]}/runs/{run_id}{UI_TRAINING_VIEW}"

    def _experiment(self, parent_run_id: str) -> tuple[str, str]:
        """The id and artifact location of the parent run's experiment."""
        if parent_run_id not in self._experiment_of_run:
            experiment = self.client.get_experiment(self.client.get_run(parent_run_id).info.experiment_id)
            self._experiment_of_run[parent_run_id] = experiment.experiment_id, experiment.artifact_location
        return self._experiment_of_run[parent_run_id]

    def log(self, run_id: str, *, params: Mapping[str, object] | None = None,
            rows: Iterable[tuple[str, float, int]] = (), tags: Mapping[str, str] | None = None) -> None:
        """Params, ``(key, value, step)`` metric rows and tags in as few batches as MLflow allows
        (1000 metrics, 100 params each). Inactive (conditional) parameters are ``None``: absent from the
        run, as they were from training."""
        from mlflow.entities import Metric, Param, RunTag

        stamp = int(time.time() * 1000)
        metrics = [Metric(key, float(value), stamp, step) for key, value, step in rows]
        run_params = [Param(k, v) for k, v in _params(params or {}).items()]
        run_tags = [RunTag(k, v) for k, v in (tags or {}).items()]
        batches = max(math.ceil(len(metrics) / 1000), math.ceil(len(run_params) / 100), 1 if run_tags else 0)
        for i in range(batches):
            self.client.log_batch(run_id, metrics=metrics[i * 1000 : (i + 1) * 1000],
                                  params=run_params[i * 100 : (i + 1) * 100], tags=run_tags if i == 0 else [])

    def end(self, run_id: str, run_status: str) -> None:
        """End a run with an MLflow status (FINISHED, FAILED, KILLED)."""
        self.client.set_terminated(run_id, run_status)

    def ping(self) -> None:
        """Raise unless the tracking store answers (within seconds for a server)."""
        if self.location.is_server:
            check_server(self.location)
        else:
            self.client.search_experiments(max_results=1)

    def reopen(self, run_id: str) -> None:
        """A resumed trial or sweep continues in its existing run (one run per trial, ever)."""
        self.client.update_run(run_id, status="RUNNING")

    def runs_of_sweep(self, parent_run_id: str, tags: Mapping[str, str] | None = None) -> list:
        """The sweep's parent run and all its trial runs (those with these ``tags`` too, if given), through every
        page of MLflow's search, however many. MLflow pages by offset, so a run created meanwhile can come
        twice (never be missed): each run is kept once."""
        parent = self.client.get_run(parent_run_id)
        tags = {SWEEP_ID: parent.data.tags[SWEEP_ID], **(tags or {})}
        query = dict(experiment_ids=[parent.info.experiment_id], max_results=SEARCH_PAGE,
                     filter_string=" and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items()))
        runs, token = {}, None
        while True:
            page = self.client.search_runs(**query, page_token=token)
            runs.update((r.info.run_id, r) for r in page)
            token = page.token
            if not token:
                return list(runs.values())

    def trial_runs(self, parent_run_id: str) -> dict[int, TrialRun]:
        """The sweep's trial runs by trial index."""
        return {int(r.data.tags[TRIAL_INDEX]): TrialRun(r.info.run_id, r.info.status == "RUNNING",
                                                         r.info.status, r.data.tags.get(STATUS))
                for r in self.runs_of_sweep(parent_run_id) if r.data.tags.get(KIND) == "trial"}

    def trial_run_ids(self, parent_run_id: str) -> dict[int, str]:
        return {k: run.run_id for k, run in self.trial_runs(parent_run_id).items()}

    def trial_run_id(self, parent_run_id: str, k: int) -> str | None:
        """Trial ``k``'s run, if MLflow has one: a search of that trial's runs, not of the whole sweep's."""
        runs = self.runs_of_sweep(parent_run_id, {TRIAL_INDEX: str(k), KIND: "trial"})
        return runs[0].info.run_id if runs else None

    def kill(self, run_id: str) -> None:
        """Close a run that was left RUNNING (its trial did not finish) as KILLED."""
        self.end(run_id, RUN_STATUS[TrialStatus.CANCELLED])

    def log_artifacts(self, run_id: str, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)


#: the MLflow run status of a trial or a sweep in each of searchsvc's statuses
RUN_STATUS: dict[TrialStatus | SweepStatus, str] = {
    TrialStatus.PENDING: "SCHEDULED",
    TrialStatus.RUNNING: "RUNNING",
    TrialStatus.OK: "FINISHED",
    TrialStatus.STOPPED: "FINISHED",
    TrialStatus.DIVERGED: "FINISHED",
    TrialStatus.ERROR: "FAILED",
    TrialStatus.INFRA: "FAILED",
    TrialStatus.CANCELLED: "KILLED",
    SweepStatus.RUNNING: "RUNNING",
    SweepStatus.COMPLETED: "FINISHED",
    SweepStatus.CANCELLED: "KILLED",
    SweepStatus.FAILED: "FAILED",
    SweepStatus.INTERRUPTED: "KILLED",
}


def run_status(status: TrialStatus | SweepStatus) -> str:
    """The status of a trial's (or a sweep's parent) MLflow run."""
    return RUN_STATUS[status]


#: searchsvc's tags on its runs: which sweep, which trial, what kind of run, and the status it ended with
SWEEP_ID, TRIAL_INDEX, KIND, STATUS = "searchsvc.sweep_id", "searchsvc.trial_index", "searchsvc.kind", "searchsvc.status"
#: runs per page of MLflow's search (its largest page); a sweep's runs are read page by page, however many
SEARCH_PAGE = 50000


@dataclass(frozen=True)
class TrialRun:
    """A trial's MLflow run as MLflow holds it."""

    run_id: str
    open: bool  # RUNNING
    run_status: str  # MLflow's: RUNNING, FINISHED, FAILED, KILLED, SCHEDULED
    recorded: str | None  # the trial status it ended with (searchsvc's tag), None while it runs

    def holds(self, status: TrialStatus) -> bool:
        """Whether the run shows the trial's end as the ledger has it."""
        return self.run_status == run_status(status) and self.recorded == status


#: an experiment's kind, read by MLflow 3's UI to choose its first page: model training opens on the runs
EXPERIMENT_KIND, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
#: MLflow 3's UI shows its GenAI pages unless a link asks for model training (a choice it keeps in the browser)
UI_TRAINING_VIEW = "?workflowType=machine_learning"
#: the tag MLflow's UI shows as a run's description
RUN_DESCRIPTION = "mlflow.note.content"
#: MLflow metric names of fields not logged under their own name; ``{metric}`` is the sweep's objective
METRIC_NAMES = {"val_score": "val_{metric}"}  # per epoch
RESULT_METRIC_NAMES = {"val_score": "best_val_{metric}", "test_score": "test_{metric}", "epochs": "epochs_run"}
#: EpochMetrics fields that are no learning curve: the step itself, and each epoch's seconds (kept in the
#: ledger only: each metric row costs MLflow CPU)
NOT_CURVES = ("epoch", "seconds")
#: the curve whose logged steps tell which epochs a run already has
STEP_MARKER = "train_loss"


def _epoch_rows(epochs: Sequence[EpochMetrics], metric: str) -> list[tuple[str, float, int]]:
    """Every learning curve of the epochs: each number of EpochMetrics, at the epoch's step."""
    return [(METRIC_NAMES.get(name, name).format(metric=metric), value, e.epoch) for e in epochs
            for name, value in dataclasses.asdict(e).items() if name not in NOT_CURVES and _number(value)]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _result_rows(trial: TrialRecord, metric: str) -> list[tuple[str, float, int]]:
    """Every number of the trial's result, at step 0."""
    if trial.result is None:
        return []
    values = dataclasses.asdict(trial.result)
    return [(RESULT_METRIC_NAMES.get(name, name).format(metric=metric), value, 0) for name, value in values.items()
            if _number(value)]


def _trial_run_name(trial: TrialRecord) -> str:
    return f"{trial.sweep_id}/{trial.trial_index:05d}"


def _trial_tags(parent_run_id: str, trial: TrialRecord) -> dict[str, str]:
    return {"mlflow.parentRunId": parent_run_id, SWEEP_ID: trial.sweep_id, TRIAL_INDEX: str(trial.trial_index),
            KIND: "trial"}


def _end_tags(trial: TrialRecord) -> dict[str, str]:
    tags = {STATUS: str(trial.status), "searchsvc.attempts": str(trial.attempts)}
    if trial.result is not None:
        tags["searchsvc.device"] = trial.result.device
    if trial.node is not None:
        tags["searchsvc.host"] = trial.node.host
        if trial.node.node_id:
            tags["searchsvc.node_id"] = trial.node.node_id
    if trial.message:
        tags["searchsvc.message"] = trial.message[-4000:]
    return tags


def _millis(stamp: dt.datetime | None) -> int:
    return int((stamp or dt.datetime.now(dt.timezone.utc)).timestamp() * 1000)


def _params(params: Mapping[str, object]) -> dict[str, str]:
    """Run params as MLflow keeps them; inactive (conditional) parameters, ``None``, are left out."""
    return {k: str(v)[:6000] for k, v in params.items() if v is not None}


def check_server(location: TrackingLocation) -> None:
    """Raise a SearchSvcError naming the server unless the MLflow server there answers its health check."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{location.uri.rstrip('/')}/health", timeout=CONNECT_TIMEOUT_S):
            return
    except (OSError, urllib.error.URLError) as e:
        reason = getattr(e, "reason", None) or e
        raise SearchSvcError(f"MLflow: the tracking server at {location.uri} does not answer ({reason}); check that "
                             "it runs and that this machine reaches it (--tracking-uri or $MLFLOW_TRACKING_URI)") from e


def get_tracker(tracker: None | str | TrackingLocation | Tracker = None) -> Tracker:
    if isinstance(tracker, Tracker):
        return tracker
    if not isinstance(tracker, TrackingLocation):
        from searchsvc.home import default_tracking_uri

        tracker = TrackingLocation.parse(tracker or default_tracking_uri())
    return Tracker(tracker)


@contextlib.contextmanager
def _store_lock(location: TrackingLocation) -> Iterator[None]:
    """Around the first opening of a local SQLite store: one process at a time creates or migrates it."""
    if location.path is None:
        yield
        return
    import fcntl

    make_folder(location.path, TRACKING_FLAG)
    with open(f"{location.path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_ahead_log(path: Path) -> None:
    """Put a local MLflow SQLite store in WAL mode (a property of the file, kept by every later connection):
    cheaper commits for the sweep's many small writes, and readers (``searchsvc ui``) never block them."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")

