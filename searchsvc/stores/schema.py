"""The ledger's tables and its database: the schema (created once under concurrent first use, and brought up
to date for a ledger an older searchsvc wrote), the engine of a SQLite file or a PostgreSQL server, the
SQLite file's clock, and a trial's row as the tables hold it. :mod:`searchsvc.stores.ledger` is the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
import typing
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from experiments.results import EpochMetrics, TrialResult
from searchsvc.errors import SearchSvcError
from searchsvc.status import TrialStatus
from searchsvc.stores.locations import CONNECT_TIMEOUT_S, LedgerLocation
from searchsvc.stores.records import Node, TrialRecord


def _result_types(names: tuple[str, ...]) -> dict[str, type]:
    """The Python type of each named TrialResult field (``X | None`` → ``X``)."""
    hints = typing.get_type_hints(TrialResult)
    return {name: [k for k in typing.get_args(hints[name]) or (hints[name],) if k is not type(None)][0]
            for name in names}


def _column_type(kind: type) -> sa.types.TypeEngine:
    return {bool: sa.Boolean(), int: sa.BigInteger(), float: sa.Float(), str: sa.Text()}[kind]


_meta = sa.MetaData()

sweeps_table = sa.Table(
    "sweeps",
    _meta,
    sa.Column("sweep_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),  # the normalized spec, as validated
    sa.Column("trials", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # a SweepStatus
    sa.Column("driver", sa.String(300)),  # who holds (or last held) the lease, for people: "host:pid"
    sa.Column("owner", sa.String(64)),  # the lease holder's token (searchsvc.stores.lease); NULL: free
    sa.Column("lease_until", sa.Float),  # the lease's expiry, in seconds on the database's clock
    sa.Column("cancel_for", sa.String(64)),  # `searchsvc cancel` asked the holder of this token to stop
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("tracking_uri", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),  # the lease's last renewal, on the database's clock
    sa.Column("job_id", sa.String(128)),  # the Ray job that runs the driver, when submitted with --cluster
    sa.Column("cluster", sa.Text),  # the Ray Jobs API address it was submitted to
)

#: the result columns of a trial: the fields of TrialResult, but its status and message (the trial's own)
RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(TrialResult) if f.name not in ("status", "message"))

trials_table = sa.Table(
    "trials",
    _meta,
    sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), primary_key=True),
    sa.Column("trial_index", sa.Integer, primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # a TrialStatus
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    *(sa.Column(name, _column_type(kind)) for name, kind in _result_types(RESULT_FIELDS).items()),
    sa.Column("epoch_metrics", sa.JSON),  # [{epoch, train_loss, val_loss, val_score, seconds}, …]
    sa.Column("message", sa.Text),  # why it diverged, or the traceback of an error
    sa.Column("node_id", sa.String(64)),  # the Ray node it ran on
    sa.Column("host", sa.String(255)),  # and that node's host name
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)


def trial_row(t: TrialRecord) -> dict[str, Any]:
    result = dataclasses.asdict(t.result) if t.result else {}
    return {"sweep_id": t.sweep_id, "trial_index": t.trial_index, "config": t.config, "status": t.status.value,
            "attempts": t.attempts, **{name: result.get(name) for name in RESULT_FIELDS},
            "epoch_metrics": [dataclasses.asdict(e) for e in t.epoch_metrics], "message": t.message,
            "node_id": t.node.node_id if t.node else None, "host": t.node.host if t.node else None,
            "mlflow_run_id": t.mlflow_run_id, "started_at": t.started_at, "finished_at": t.finished_at}


def trial_record(row: Any) -> TrialRecord:
    """A trial's row as a record (a row read without its ``epoch_metrics`` has none)."""
    row = aware(row)
    status = TrialStatus(row["status"])
    result = None
    if status.usable and row["epochs"] is not None:
        result = TrialResult(status=status.value, message=row["message"], **{n: row[n] for n in RESULT_FIELDS})
    return TrialRecord(
        sweep_id=row["sweep_id"], trial_index=row["trial_index"], config=row["config"], status=status,
        attempts=row["attempts"], result=result, epoch_metrics=tuple(EpochMetrics(**e) for e in row.get("epoch_metrics") or ()),
        message=row["message"], node=Node(row["node_id"], row["host"]) if row["host"] else None,
        mlflow_run_id=row["mlflow_run_id"], started_at=row["started_at"], finished_at=row["finished_at"])


def check_database(location: LedgerLocation) -> None:
    """Raise a SearchSvcError naming the server unless the database answers (a file always does); reads and
    writes nothing."""
    if location.is_file:
        return
    engine = make_engine(location, create=False)
    try:
        with engine.connect() as db:
            db.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as e:
        raise SearchSvcError(f"ledger: the database at {location.display} does not answer "
                             f"({str(e.orig).strip().splitlines()[0]}); check that its server runs, that this machine "
                             "reaches it, and the URL's user and database (--ledger or $SEARCHSVC_LEDGER)") from e
    finally:
        engine.dispose()


#: the key of the PostgreSQL advisory lock that serializes creating and upgrading the schema
_SCHEMA_LOCK = 0x5EA5C5C


def create_schema(engine: sa.Engine, create: bool) -> None:
    """Create the tables (``create``) and add the columns an older searchsvc did not have, once, whoever comes
    first: under an advisory lock on PostgreSQL; on SQLite, again after another process created them."""
    for attempt in range(5):
        try:
            with engine.begin() as db:
                if engine.dialect.name == "postgresql":
                    db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
                if create:
                    _meta.create_all(db)
                _add_missing_columns(db)
            return
        except sa.exc.OperationalError as e:
            raced = "already exists" in str(e.orig) or "duplicate column" in str(e.orig)
            if not raced or attempt == 4:
                raise


def _add_missing_columns(db: sa.Connection) -> None:
    """Upgrade a ledger written by an older searchsvc: new columns are nullable, so adding them is enough."""
    inspector = sa.inspect(db)
    for table in (sweeps_table, trials_table):
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=db.dialect)
                db.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def make_engine(location: LedgerLocation, create: bool) -> sa.Engine:
    if not location.is_file:  # an unreachable server fails within seconds, not minutes
        return sa.create_engine(location.url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    if create:
        location.make_folder()
    engine = sa.create_engine(location.url, connect_args={"timeout": 30})
    clock = FileClock(Path(f"{location.path}-clock")) if location.path is not None else time.time

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.create_function("searchsvc_clock", 0, clock)
        connection.create_function("searchsvc_now", 0, lambda: _stored_time(clock()))
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers (status, analyze) never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class FileClock:
    """A SQLite database's clock: the time, in seconds, that the kernel stamps on a write to a file beside it.
    Every process that uses a WAL database runs on the host of its file, so they all read this one clock,
    whatever their own clock says (a process under faketime, say)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __call__(self) -> float:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(self._fd, b"t", 0)
        return os.fstat(self._fd).st_mtime_ns / 1e9


def _stored_time(seconds: float) -> str:
    """A timestamp as SQLAlchemy stores one in SQLite (UTC)."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def dialect_insert(engine: sa.Engine) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def aware(row: Any) -> dict[str, Any]:
    """SQLite returns naive datetimes; every timestamp here is UTC."""
    return {
        k: v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) and v.tzinfo is None else v
        for k, v in dict(row).items()
    }
