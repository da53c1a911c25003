"""The ledger: the system of record for sweeps and trials (SQLAlchemy Core; SQLite or PostgreSQL).

MLflow is the dashboard; the ledger is what resume, status and the analysis read. Trial writes are
upserts on ``(sweep_id, trial_index)``, so writing the same trial twice never makes two rows.

``get_ledger(None | URL | Ledger)`` is the one factory: ``None`` → the SQLite file under the
searchsvc home, a URL → that database (``sqlite:///…``, ``postgresql://…``), a ``Ledger`` → itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import typing
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from experiments.results import EpochMetrics, TrialResult
from searchsvc.errors import NotFoundError, SearchSvcError, UsageError
from searchsvc.run.reports import Node
from searchsvc.status import SweepStatus, TrialStatus

def _result_types(names: tuple[str, ...]) -> dict[str, type]:
    """The Python type of each named TrialResult field (``X | None`` → ``X``)."""
    hints = typing.get_type_hints(TrialResult)
    out = {}
    for name in names:
        kinds = [k for k in typing.get_args(hints[name]) or (hints[name],) if k is not type(None)]
        out[name] = kinds[0]
    return out


def _column_type(kind: type) -> sa.types.TypeEngine:
    return {bool: sa.Boolean(), int: sa.BigInteger(), float: sa.Float(), str: sa.Text()}[kind]


log = logging.getLogger(__name__)
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
    sa.Column("driver", sa.String(300)),  # "host:pid" of the process running it
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("tracking_uri", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),  # the driver's last sign of life (searchsvc.stores.lease)
    sa.Column("cancel_requested_at", sa.DateTime(timezone=True)),  # `searchsvc cancel` asked the driver to stop
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


@dataclass(frozen=True)
class SweepRecord:
    sweep_id: str
    name: str
    spec: dict[str, Any]
    trials: int
    metric: str
    mode: str
    status: SweepStatus
    created_at: dt.datetime
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    finished_at: dt.datetime | None = None
    driver: str | None = None
    heartbeat_at: dt.datetime | None = None
    cancel_requested_at: dt.datetime | None = None
    job_id: str | None = None
    cluster: str | None = None


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the ledger holds it. ``result`` is what training returned (ok and diverged trials)."""

    sweep_id: str
    trial_index: int
    config: dict[str, Any]
    status: TrialStatus
    attempts: int = 0
    result: TrialResult | None = None
    epoch_metrics: tuple[EpochMetrics, ...] = ()
    message: str | None = None  # why it diverged, the traceback of an error, why it was re-queued
    node: Node | None = None
    mlflow_run_id: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    @property
    def val_score(self) -> float | None:
        return self.result.val_score if self.result else None

    @property
    def test_score(self) -> float | None:
        return self.result.test_score if self.result else None


def best_trial(trials: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The ok trial with the best validation score (``mode`` max or min); the lowest index among ties."""
    scored = [t for t in trials if TrialStatus(t.status).scored and t.val_score is not None]
    sign = 1 if mode == "max" else -1
    return max(scored, key=lambda t: (sign * t.val_score, -t.trial_index)) if scored else None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ledger:
    """Sweeps and trials in one SQL database. Safe to call from several threads.

    A write or read that loses its connection (a database restart or failover, an idle connection cut)
    is retried on a new one for up to ``RECONNECT_SECONDS``; trial writes are upserts, so a retried
    write never makes a second row. Any other database error (a refused write, say) is raised at once.
    """

    def __init__(self, url: str) -> None:
        self.url = _with_driver(url)
        self._engine = _engine(self.url)
        try:
            _meta.create_all(self._engine)
            _add_missing_columns(self._engine)
        except sa.exc.OperationalError as e:
            raise SearchSvcError(f"ledger: cannot open {self!r}: {str(e.orig).strip()}; check that the database "
                                 "server runs and that the URL's host, port, user and database are right "
                                 "(--ledger or $SEARCHSVC_LEDGER)") from e

    def __repr__(self) -> str:
        return f"Ledger({self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The URL with its password hidden, to print."""
        return self._engine.url.render_as_string(hide_password=True)

    # -- sweeps
    def create_sweep(self, sweep: SweepRecord) -> None:
        self._write(sweeps_table.insert().values(**dataclasses.asdict(sweep)))

    def update_sweep(self, sweep_id: str, **values: Any) -> None:
        self._write(sweeps_table.update().where(sweeps_table.c.sweep_id == sweep_id).values(**values))

    def sweeps(self) -> list[SweepRecord]:
        rows = self._read(sweeps_table.select().order_by(sweeps_table.c.created_at))
        return [_sweep_record(row) for row in rows]

    def sweep(self, sweep_id: str) -> SweepRecord:
        """The sweep with this id, or the only one whose id starts with it."""
        c = sweeps_table.c
        rows = self._read(sweeps_table.select().where(c.sweep_id == sweep_id))
        if not rows:
            like = sweep_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._read(sweeps_table.select().where(c.sweep_id.like(like, escape="\\")))
        if len(rows) != 1:
            why = "matches several sweeps" if rows else "is not in the ledger"
            raise NotFoundError(f"sweep {sweep_id!r} {why} ({self}); `searchsvc list` shows the sweeps")
        return _sweep_record(rows[0])

    # -- trials
    def upsert_trials(self, trials: list[TrialRecord]) -> None:
        """Insert or replace trials by (sweep_id, trial_index), in one transaction."""
        if not trials:
            return
        insert = _dialect_insert(self._engine)(trials_table)
        keys = ("sweep_id", "trial_index")
        statement = insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: insert.excluded[c.name] for c in trials_table.columns if c.name not in keys},
        )
        self._write(statement, [_trial_row(t) for t in trials])

    def trials(self, sweep_id: str) -> list[TrialRecord]:
        query = trials_table.select().where(trials_table.c.sweep_id == sweep_id)
        return [_trial_record(row) for row in self._read(query.order_by(trials_table.c.trial_index))]

    def status_counts(self, sweep_id: str) -> Counter[str]:
        c = trials_table.c
        rows = self._read(sa.select(c.status, sa.func.count()).where(c.sweep_id == sweep_id).group_by(c.status),
                          mappings=False)
        return Counter({status: n for status, n in rows})

    def close(self) -> None:
        self._engine.dispose()

    # -- one place that talks to the database, retrying on a lost connection
    def _write(self, statement: Any, rows: list[dict[str, Any]] | None = None) -> None:
        def run() -> None:
            with self._engine.begin() as db:
                db.execute(statement, rows) if rows is not None else db.execute(statement)

        _reconnecting(run, self)

    def _read(self, query: Any, mappings: bool = True) -> list[Any]:
        def run() -> list[Any]:
            with self._engine.connect() as db:
                result = db.execute(query)
                return list(result.mappings() if mappings else result)

        return _reconnecting(run, self)


#: how long a ledger call keeps retrying after it lost its connection
RECONNECT_SECONDS = 60.0


def _reconnecting(call: Any, ledger: Ledger) -> Any:
    """``call()``, again on a new connection while the database is unreachable, for up to RECONNECT_SECONDS."""
    delay, deadline = 0.2, time.monotonic() + RECONNECT_SECONDS
    while True:
        try:
            return call()
        except sa.exc.DBAPIError as e:
            transient = e.connection_invalidated or isinstance(e, sa.exc.OperationalError)
            if not transient or time.monotonic() + delay > deadline:
                raise SearchSvcError(f"ledger {ledger}: {str(e.orig).strip().splitlines()[0]}") from e
            log.warning("ledger: %s lost its connection (%s); retrying", ledger, str(e.orig).strip().splitlines()[0])
            time.sleep(delay)
            delay = min(2 * delay, 5.0)


def _trial_row(t: TrialRecord) -> dict[str, Any]:
    result = dataclasses.asdict(t.result) if t.result else {}
    return {"sweep_id": t.sweep_id, "trial_index": t.trial_index, "config": t.config, "status": str(t.status),
            "attempts": t.attempts, **{name: result.get(name) for name in RESULT_FIELDS},
            "epoch_metrics": [dataclasses.asdict(e) for e in t.epoch_metrics], "message": t.message,
            "node_id": t.node.node_id if t.node else None, "host": t.node.host if t.node else None,
            "mlflow_run_id": t.mlflow_run_id, "started_at": t.started_at, "finished_at": t.finished_at}


def _trial_record(row: Any) -> TrialRecord:
    row = _aware(row)
    status = TrialStatus(row["status"])
    result = None
    if status in (TrialStatus.OK, TrialStatus.DIVERGED) and row["epochs"] is not None:
        result = TrialResult(status=status.value, message=row["message"], **{n: row[n] for n in RESULT_FIELDS})
    return TrialRecord(row["sweep_id"], row["trial_index"], row["config"], status, row["attempts"], result,
                       tuple(EpochMetrics(**e) for e in row["epoch_metrics"] or ()), row["message"],
                       Node(row["node_id"], row["host"]) if row["host"] else None, row["mlflow_run_id"],
                       row["started_at"], row["finished_at"])


def _sweep_record(row: Any) -> SweepRecord:
    values = _aware(row)
    return SweepRecord(**{**values, "status": SweepStatus(values["status"])})


def check_database(url: str) -> None:
    """Raise a SearchSvcError naming the server unless the database at ``url`` answers (a file always does);
    reads and writes nothing."""
    if url.startswith("sqlite"):
        return
    engine = _engine(_with_driver(url))
    try:
        with engine.connect() as db:
            db.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as e:
        where = engine.url.render_as_string(hide_password=True)
        raise SearchSvcError(f"ledger: the database at {where} does not answer ({str(e.orig).strip().splitlines()[0]}); "
                             "check that its server runs, that this machine reaches it, and the URL's user and "
                             "database (--ledger or $SEARCHSVC_LEDGER)") from e
    finally:
        engine.dispose()


def get_ledger(ledger: None | str | Ledger = None) -> Ledger:
    if isinstance(ledger, Ledger):
        return ledger
    from searchsvc.home import default_ledger_url

    return Ledger(ledger or default_ledger_url())


def _add_missing_columns(engine: sa.Engine) -> None:
    """Upgrade a ledger written by an older searchsvc: new columns are nullable, so adding them is enough."""
    inspector = sa.inspect(engine)
    with engine.begin() as db:
        for table in (sweeps_table, trials_table):
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=engine.dialect)
                    db.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


#: seconds to wait for a database server's connection
CONNECT_TIMEOUT_S = 5


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver we install), not SQLAlchemy's psycopg2 default."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _engine(url: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise UsageError(f"ledger: {url!r} is not a database URL; use sqlite:///PATH or postgresql://HOST/DB") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"ledger: {parsed.get_backend_name()} is not supported; use sqlite:///PATH or postgresql://…")
    if parsed.get_backend_name() != "sqlite":  # an unreachable server fails within seconds, not minutes
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    if parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers (status, analyze) never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _dialect_insert(engine: sa.Engine) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _aware(row: Any) -> dict[str, Any]:
    """SQLite returns naive datetimes; every timestamp here is UTC."""
    return {
        k: v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) and v.tzinfo is None else v
        for k, v in dict(row).items()
    }
