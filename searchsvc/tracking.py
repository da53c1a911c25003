"""MLflow as the dashboard: one experiment per sweep name, a parent run per sweep, a child run per trial.

Everything goes through ``MlflowClient`` with explicit run ids (no fluent global state), so the
driver can write many runs from one thread; the one exception is a short trial's whole run, written in
one transaction where the store allows (:meth:`Tracker.record_trial`, :mod:`searchsvc.mlflow_sql`).
``get_tracker(None | URI | Tracker)`` is the factory:
``None`` → ``$MLFLOW_TRACKING_URI`` or the SQLite store under the searchsvc home.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from searchsvc.errors import UsageError
from searchsvc import mlflow_sql

#: MLflow run status for each final trial status
RUN_STATUS = {"ok": "FINISHED", "diverged": "FINISHED", "error": "FAILED", "infra": "FAILED", "cancelled": "KILLED"}


class Tracker:
    """Writes sweeps and trials to one MLflow tracking store."""

    def __init__(self, tracking_uri: str) -> None:
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # stdout carries our data only
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # after import: no "creating tables" chatter

        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        self._experiment_of_run: dict[str, tuple[str, str]] = {}  # parent run id → experiment id, artifact location
        self._sql_store = mlflow_sql.sql_store(self.client)

    def __repr__(self) -> str:
        return f"Tracker({self.tracking_uri!r})"

    def experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(name, artifact_location=_artifact_location(self.tracking_uri, name))

    def start_sweep(self, experiment: str, sweep_id: str, params: Mapping[str, object], spec: dict[str, Any]) -> str:
        run = self.client.create_run(
            self.experiment_id(experiment), run_name=sweep_id, tags={"searchsvc.sweep_id": sweep_id, "searchsvc.kind": "sweep"}
        )
        self.log(run.info.run_id, params=params)
        self.client.log_dict(run.info.run_id, spec, "spec.json")
        return run.info.run_id

    def start_trial(self, parent_run_id: str, sweep_id: str, trial_index: int, start_time_ms: int | None = None,
                    tags: Mapping[str, str] | None = None) -> str:
        run = self.client.create_run(self._experiment(parent_run_id)[0], start_time=start_time_ms,
                                     run_name=_trial_run_name(sweep_id, trial_index),
                                     tags=_trial_tags(parent_run_id, sweep_id, trial_index, tags))
        return run.info.run_id

    def record_trial(self, parent_run_id: str, sweep_id: str, trial_index: int, start_time_ms: int, status: str, *,
                     params: Mapping[str, object], rows: Iterable[tuple[str, float, int]],
                     tags: Mapping[str, str]) -> str:
        """A trial that ended before its first report: its whole run, created ended. In MLflow's SQL store
        in this process that is one transaction (:mod:`searchsvc.mlflow_sql`), else, or if that fails, the
        client's three calls. Returns the run id."""
        if self._sql_store is not None:
            experiment_id, artifact_location = self._experiment(parent_run_id)
            stamp = int(time.time() * 1000)
            try:
                return mlflow_sql.insert_finished_run(
                    self._sql_store, experiment_id=experiment_id, artifact_location=artifact_location,
                    run_name=_trial_run_name(sweep_id, trial_index), status=RUN_STATUS.get(status, status),
                    start_time_ms=start_time_ms, end_time_ms=stamp, params=_params(params),
                    metrics=[(key, float(value), stamp, step) for key, value, step in rows],
                    tags=_trial_tags(parent_run_id, sweep_id, trial_index, tags))
            except Exception as e:  # noqa: BLE001 - the client writes it instead, from now on
                logging.getLogger(__name__).warning("MLflow: writing a run in one transaction failed, so runs go "
                                                    "through the client from now on: %s", e)
                self._sql_store = None
        run_id = self.start_trial(parent_run_id, sweep_id, trial_index, start_time_ms, tags)
        self.log(run_id, params=params, rows=rows)
        self.end(run_id, status)
        return run_id

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

    def end(self, run_id: str, status: str) -> None:
        """The run's end status, from a trial status (ok, error, …) or an MLflow one (FINISHED, …)."""
        self.client.set_terminated(run_id, RUN_STATUS.get(status, status))

    def reopen(self, run_id: str) -> None:
        """A resumed trial or sweep continues in its existing run (one run per trial, ever)."""
        self.client.update_run(run_id, status="RUNNING")

    def runs_of_sweep(self, parent_run_id: str) -> list:
        """The sweep's parent run and all its trial runs."""
        parent = self.client.get_run(parent_run_id)
        sweep_id = parent.data.tags["searchsvc.sweep_id"]
        return self.client.search_runs([parent.info.experiment_id],
                                       filter_string=f"tags.`searchsvc.sweep_id` = '{sweep_id}'", max_results=50000)

    def trial_run_ids(self, parent_run_id: str) -> dict[int, str]:
        """The sweep's trial runs by trial index."""
        return {int(r.data.tags["searchsvc.trial_index"]): r.info.run_id for r in self.runs_of_sweep(parent_run_id)
                if r.data.tags.get("searchsvc.kind") == "trial"}

    def kill_running_runs(self, parent_run_id: str) -> int:
        """Close the sweep's runs left RUNNING by a dead driver as KILLED; return how many."""
        running = [r for r in self.runs_of_sweep(parent_run_id) if r.info.status == "RUNNING"]
        for run in running:
            self.client.set_terminated(run.info.run_id, "KILLED")
        return len(running)

    def log_artifacts(self, run_id: str, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)


def _trial_run_name(sweep_id: str, trial_index: int) -> str:
    return f"{sweep_id}/{trial_index:05d}"


def _trial_tags(parent_run_id: str, sweep_id: str, trial_index: int, tags: Mapping[str, str] | None) -> dict[str, str]:
    return {"mlflow.parentRunId": parent_run_id, "searchsvc.sweep_id": sweep_id,
            "searchsvc.trial_index": str(trial_index), "searchsvc.kind": "trial", **(tags or {})}


def _params(params: Mapping[str, object]) -> dict[str, str]:
    """Run params as MLflow keeps them; inactive (conditional) parameters, ``None``, are left out."""
    return {k: str(v)[:6000] for k, v in params.items() if v is not None}


def get_tracker(tracker: None | str | Tracker = None) -> Tracker:
    if isinstance(tracker, Tracker):
        return tracker
    from searchsvc.home import default_tracking_uri

    uri = tracker or default_tracking_uri()
    if "://" not in uri and not uri.startswith(("databricks", "file:")):
        raise UsageError(f"--tracking-uri: expected a URI like http://host:5000 or sqlite:///PATH, got {uri!r}")
    if uri.startswith("sqlite:///"):
        _write_ahead_log(Path(uri.removeprefix("sqlite:///")).expanduser())
    return Tracker(uri)


def _write_ahead_log(path: Path) -> None:
    """Put a local MLflow SQLite store in WAL mode (a property of the file, kept by every later connection):
    cheaper commits for the sweep's many small writes, and readers (``searchsvc ui``) never block them."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")


def _artifact_location(tracking_uri: str, experiment: str) -> str | None:
    """Local stores keep artifacts beside the database; a server decides for itself (None)."""
    if tracking_uri.startswith("sqlite:///"):
        root = Path(tracking_uri.removeprefix("sqlite:///")).expanduser().resolve().parent / "mlartifacts"
        return (root / experiment).as_uri()
    return None

