"""A short trial's run written in one transaction (searchsvc.stores.mlflow_sql) reads back through MLflow's
client exactly as the client's own three calls write it, in real SQLite and PostgreSQL stores."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import pytest

from experiments.results import EpochMetrics, TrialResult
from searchsvc.stores.records import TrialRecord
from searchsvc.stores.records import Node
from searchsvc.stores.tracking import get_tracker

EPOCHS = (EpochMetrics(1, float("nan"), 0.5, 0.5, 0.1), EpochMetrics(2, float("inf"), 0.25, 0.6, 0.1),
          EpochMetrics(3, 0.2, 0.25, 0.75, 0.1))
PARAMS = {"units": 64, "lr": 0.003, "momentum": None, "optimizer": "adam"}  # momentum: inactive, left out
RESULT = TrialResult(status="diverged", val_score=None, test_score=None, val_n=10, test_n=10, epochs=3, best_epoch=0,
                     param_count=1234, memory_estimate_bytes=1, train_seconds=1.5, cpu_seconds=1.4,
                     samples_per_second=10.0, device="cpu", message="loss is nan")
TRIAL = TrialRecord("s", 0, PARAMS, "diverged", attempts=1, result=RESULT, epoch_metrics=EPOCHS, message="loss is nan",
                    node=Node("node-1", "host-1"), started_at=dt.datetime.fromtimestamp(1, dt.timezone.utc))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request, tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)  # MLflow keeps a database store's artifacts in ./mlruns
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlflow.db'}"
    return request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://")


def _as_read(tracker, run_id: str) -> dict:
    """What the client reads of a run, without what differs between two runs (ids, end time, index)."""
    run = tracker.client.get_run(run_id)
    info = run.info
    history = {key: [(m.step, _number(m.value)) for m in tracker.client.get_metric_history(run_id, key)]
               for key in run.data.metrics}
    return {"info": (info.status, info.start_time, info.lifecycle_stage, info.user_id, info.experiment_id,
                     info.artifact_uri.replace(run_id, "ID"), info.run_name.rsplit("/", 1)[0]),
            "params": run.data.params, "latest": {k: _number(v) for k, v in run.data.metrics.items()},
            "history": history, "tags": {k: v for k, v in run.data.tags.items()
                                         if k not in ("searchsvc.trial_index", "mlflow.runName")}}


def _stored(store_uri: str, run_id: str) -> dict:
    """The run's rows in MLflow's tables, every column (also those the client does not show), without what
    differs between two runs: ids, names, times."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

    differ = {"run_uuid", "name", "end_time", "timestamp"}
    engine = sa.create_engine(store_uri)
    with engine.connect() as db:
        stored = {}
        for model in (SqlRun, SqlTag, SqlParam, SqlMetric, SqlLatestMetric):
            table = model.__table__
            rows = db.execute(sa.select(table).where(table.c.run_uuid == run_id)).mappings()
            stored[table.name] = sorted(
                sorted((k, str(v).replace(run_id, "ID")) for k, v in row.items() if k not in differ)
                for row in rows if row.get("key") not in ("searchsvc.trial_index", "mlflow.runName"))
    engine.dispose()
    return stored


def _number(value: float) -> float | str:
    return "nan" if math.isnan(value) else value


def test_a_short_trials_run_in_one_transaction_reads_back_as_the_clients_three_calls_write_it(store_uri) -> None:
    tracker = get_tracker(store_uri)
    assert tracker._sql_store is not None  # MLflow's SQL store in this process: one transaction
    parent = tracker.start_sweep("exp", "s", {}, {})
    at_once = tracker.record_trial(parent, TRIAL, "accuracy", EPOCHS)

    through_client = get_tracker(store_uri)
    through_client._sql_store = None
    three_calls = through_client.record_trial(parent, replace(TRIAL, trial_index=1), "accuracy", EPOCHS)

    assert _as_read(tracker, at_once) == _as_read(tracker, three_calls)
    assert _stored(store_uri, at_once) == _stored(store_uri, three_calls)
    assert _as_read(tracker, at_once)["latest"]["val_loss"] == 0.25 and _as_read(tracker, at_once)["info"][0] == "FINISHED"
    assert tracker.trial_run_ids(parent) == {0: at_once, 1: three_calls}
    found = tracker.client.search_runs([tracker._experiment(parent)[0]], "metrics.param_count > 1000 and "
                                       "params.units = '64' and tags.`searchsvc.status` = 'diverged'")
    assert {r.info.run_id for r in found} == {at_once, three_calls}


def test_when_the_one_transaction_fails_the_client_writes_the_run(tmp_path, monkeypatch) -> None:
    tracker = get_tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracker.start_sweep("exp", "s", {}, {})

    def broken(*args, **kwargs):
        raise RuntimeError("a column MLflow added")

    monkeypatch.setattr("searchsvc.stores.mlflow_sql.insert_finished_run", broken)
    run_id = tracker.record_trial(parent, TRIAL, "accuracy", EPOCHS)
    assert tracker._sql_store is None  # and so for the rest of the sweep
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["units"] == "64" and run.data.metrics["val_loss"] == 0.25
    assert run.data.tags["searchsvc.node_id"] == "node-1" and run.data.tags["searchsvc.host"] == "host-1"


def test_a_tracking_server_is_written_through_the_client() -> None:
    from mlflow.tracking import MlflowClient

    from searchsvc.stores.mlflow_sql import sql_store

    assert sql_store(MlflowClient("http://127.0.0.1:9")) is None
