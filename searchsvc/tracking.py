"""MLflow as the dashboard: one experiment per sweep name, a parent run per sweep, a child run per trial.

Everything goes through ``MlflowClient`` with explicit run ids (no fluent global state), so the
driver can write many runs from one thread. ``get_tracker(None | URI | Tracker)`` is the factory:
``None`` → ``$MLFLOW_TRACKING_URI`` or the SQLite store under the searchsvc home.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from searchsvc.errors import UsageError

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
        self._experiment_of_run: dict[str, str] = {}  # parent run id → experiment id

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
        self.log_params(run.info.run_id, params)
        self.client.log_dict(run.info.run_id, spec, "spec.json")
        return run.info.run_id

    def start_trial(self, parent_run_id: str, sweep_id: str, trial_index: int, params: Mapping[str, object]) -> str:
        if parent_run_id not in self._experiment_of_run:
            self._experiment_of_run[parent_run_id] = self.client.get_run(parent_run_id).info.experiment_id
        run = self.client.create_run(
            self._experiment_of_run[parent_run_id],
            run_name=f"{sweep_id}/{trial_index:05d}",
            tags={
                "mlflow.parentRunId": parent_run_id,
                "searchsvc.sweep_id": sweep_id,
                "searchsvc.trial_index": str(trial_index),
                "searchsvc.kind": "trial",
            },
        )
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        from mlflow.entities import Param

        # inactive (conditional) parameters are None: absent from the run, as they were from training
        self.client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items() if v is not None])

    def log_metrics(self, run_id: str, rows: Iterable[tuple[str, float, int]],
                    tags: Mapping[str, str] | None = None) -> None:
        """``(key, value, step)`` rows (and tags) in as few batches as MLflow allows (1000 metrics each)."""
        from mlflow.entities import Metric, RunTag

        stamp = int(time.time() * 1000)
        metrics = [Metric(key, float(value), stamp, step) for key, value, step in rows]
        run_tags = [RunTag(k, v) for k, v in (tags or {}).items()]
        if not metrics and not run_tags:
            return
        for start in range(0, max(len(metrics), 1), 1000):
            self.client.log_batch(run_id, metrics=metrics[start : start + 1000], tags=run_tags if start == 0 else [])

    def finish(self, run_id: str, status: str, tags: Mapping[str, str] | None = None,
               metrics: Iterable[tuple[str, float, int]] = ()) -> None:
        """Final metrics and tags in one batch, then the run's end status."""
        self.log_metrics(run_id, metrics, tags)
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

    def kill_running_runs(self, parent_run_id: str) -> int:
        """Close the sweep's runs left RUNNING by a dead driver as KILLED; return how many."""
        running = [r for r in self.runs_of_sweep(parent_run_id) if r.info.status == "RUNNING"]
        for run in running:
            self.client.set_terminated(run.info.run_id, "KILLED")
        return len(running)

    def log_artifacts(self, run_id: str, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)


def get_tracker(tracker: None | str | Tracker = None) -> Tracker:
    if isinstance(tracker, Tracker):
        return tracker
    from searchsvc.home import default_tracking_uri

    uri = tracker or default_tracking_uri()
    if "://" not in uri and not uri.startswith(("databricks", "file:")):
        raise UsageError(f"--tracking-uri: expected a URI like http://host:5000 or sqlite:///PATH, got {uri!r}")
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return Tracker(uri)


def _artifact_location(tracking_uri: str, experiment: str) -> str | None:
    """Local stores keep artifacts beside the database; a server decides for itself (None)."""
    if tracking_uri.startswith("sqlite:///"):
        root = Path(tracking_uri.removeprefix("sqlite:///")).expanduser().resolve().parent / "mlartifacts"
        return (root / experiment).as_uri()
    return None

