"""A finished run written into MLflow's SQL store in one transaction: what a short trial's run costs.

Through the client, a trial that ends before its first report costs three calls (create the run with
its tags, one batch of params and metrics, end it): twelve database sessions of MLflow's ORM. The same
rows, inserted with MLflow's own table definitions (``mlflow.store.tracking.dbmodels``) in one session
of the client's own store, cost several times less CPU (``bench/recording.py`` measures both).

Those are MLflow's internals, not its public API, so :class:`searchsvc.stores.tracking.Tracker` uses this only
where the client's store is MLflow's SQL store in this process (SQLite, PostgreSQL: not a tracking
server), and sends the run through the client if it fails. The rows are those the client writes:
``tests/searchsvc/test_tracking.py`` compares both through the client, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from typing import Any


def sql_store(client: Any) -> Any | None:
    """The client's store when it is MLflow's SQL store in this process, else None. A client of that store
    has imported its module; one of a tracking server has not, and is spared its import (~0.8 s)."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    return store if module is not None and isinstance(store, module.SqlAlchemyStore) else None


def insert_finished_run(store: Any, *, experiment_id: str, artifact_location: str, run_name: str, status: str,
                        start_time_ms: int, end_time_ms: int, params: Mapping[str, str],
                        metrics: list[tuple[str, float, int, int]], tags: Mapping[str, str]) -> str:
    """Insert an ended run with its tags, params and ``(key, value, timestamp, step)`` metrics; return its id.
    The columns are set as ``SqlAlchemyStore.create_run``, ``log_batch`` and ``update_run_info`` set them."""
    import sqlalchemy as sa
    from mlflow.entities import LifecycleStage, SourceType
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path

    run_id = uuid.uuid4().hex
    run = {"run_uuid": run_id, "name": run_name, "source_type": SourceType.to_string(SourceType.UNKNOWN),
           "source_name": "", "entry_point_name": "", "user_id": tags.get(MLFLOW_USER, "unknown"), "status": status,
           "start_time": start_time_ms, "end_time": end_time_ms, "deleted_time": None, "source_version": "",
           "lifecycle_stage": LifecycleStage.ACTIVE, "experiment_id": int(experiment_id),
           "artifact_uri": append_to_uri_path(artifact_location, run_id, "artifacts")}
    metric_rows, latest = [], {}
    for key, raw, timestamp, step in metrics:
        is_nan, value = store.sanitize_metric_value(raw)  # NaN and ±inf as MLflow stores them
        row = {"run_uuid": run_id, "key": key, "value": value, "timestamp": timestamp, "step": step, "is_nan": is_nan}
        metric_rows.append(row)
        best = latest.get(key)  # the latest value: by step, then timestamp, then value, as MLflow picks it
        if best is None or (step, timestamp, value) > (best["step"], best["timestamp"], best["value"]):
            latest[key] = row
    tables = [
        (SqlRun, [run]),
        (SqlTag, [{"run_uuid": run_id, "key": k, "value": v} for k, v in {MLFLOW_RUN_NAME: run_name, **tags}.items()]),
        (SqlParam, [{"run_uuid": run_id, "key": k, "value": v} for k, v in params.items()]),
        (SqlMetric, metric_rows),
        (SqlLatestMetric, list(latest.values())),
    ]
    with store.ManagedSessionMaker() as session:  # one transaction: the whole run, or nothing
        for model, rows in tables:
            if rows:
                session.execute(sa.insert(model.__table__), rows)
    return run_id
