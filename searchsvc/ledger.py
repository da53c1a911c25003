"""The ledger: the system of record for sweeps and trials (SQLAlchemy Core; SQLite or PostgreSQL).

MLflow is the dashboard; the ledger is what resume, status and the analysis read. Trial writes are
upserts on ``(sweep_id, trial_index)``, so writing the same trial twice never makes two rows.

``get_ledger(None | URL | Ledger)`` is the one factory: ``None`` → the SQLite file under the
searchsvc home, a URL → that database (``sqlite:///…``, ``postgresql://…``), a ``Ledger`` → itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from searchsvc.errors import NotFoundError, SearchSvcError, UsageError

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
    sa.Column("status", sa.String(16), nullable=False),  # running / completed / cancelled / failed / interrupted
    sa.Column("driver", sa.String(300)),  # "host:pid" of the process running it
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("tracking_uri", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

trials_table = sa.Table(
    "trials",
    _meta,
    sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), primary_key=True),
    sa.Column("trial_index", sa.Integer, primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending / running / ok / diverged / error / infra
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("val_score", sa.Float),
    sa.Column("test_score", sa.Float),
    sa.Column("val_n", sa.Integer),
    sa.Column("test_n", sa.Integer),
    sa.Column("epochs", sa.Integer),
    sa.Column("best_epoch", sa.Integer),
    sa.Column("param_count", sa.BigInteger),
    sa.Column("memory_estimate_bytes", sa.BigInteger),
    sa.Column("train_seconds", sa.Float),
    sa.Column("samples_per_second", sa.Float),
    sa.Column("cpu_seconds", sa.Float),
    sa.Column("device", sa.String(128)),  # cpu, or cuda and the GPU's name
    sa.Column("epoch_metrics", sa.JSON),  # [{epoch, train_loss, val_loss, val_score, seconds}, …]
    sa.Column("message", sa.Text),  # why it diverged, or the traceback of an error
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

#: a trial in one of these is done; any other (pending, running, cancelled, or infra while re-queued) runs again
FINAL_STATUSES = ("ok", "diverged", "error")


@dataclass(frozen=True)
class SweepRecord:
    sweep_id: str
    name: str
    spec: dict[str, Any]
    trials: int
    metric: str
    mode: str
    status: str
    created_at: dt.datetime
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    finished_at: dt.datetime | None = None
    driver: str | None = None


@dataclass(frozen=True)
class TrialRecord:
    sweep_id: str
    trial_index: int
    config: dict[str, Any]
    status: str
    attempts: int = 0
    val_score: float | None = None
    test_score: float | None = None
    val_n: int | None = None
    test_n: int | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    param_count: int | None = None
    memory_estimate_bytes: int | None = None
    train_seconds: float | None = None
    samples_per_second: float | None = None
    cpu_seconds: float | None = None
    device: str | None = None
    epoch_metrics: list[dict[str, float]] = field(default_factory=list)
    message: str | None = None
    mlflow_run_id: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


def best_trial(trials: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The ok trial with the best validation score (``mode`` max or min); the lowest index among ties."""
    scored = [t for t in trials if t.status == "ok" and t.val_score is not None]
    sign = 1 if mode == "max" else -1
    return max(scored, key=lambda t: (sign * t.val_score, -t.trial_index)) if scored else None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ledger:
    """Sweeps and trials in one SQL database. Safe to call from one writer thread and many readers."""

    def __init__(self, url: str) -> None:
        self.url = _with_driver(url)
        self._engine = _engine(self.url)
        try:
            _meta.create_all(self._engine)
            _add_missing_columns(self._engine)
        except sa.exc.OperationalError as e:
            raise SearchSvcError(f"ledger: cannot open {self!r}: {e.orig}") from e

    def __repr__(self) -> str:
        return f"Ledger({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- sweeps
    def create_sweep(self, sweep: SweepRecord) -> None:
        with self._engine.begin() as db:
            db.execute(sweeps_table.insert().values(**dataclasses.asdict(sweep)))

    def update_sweep(self, sweep_id: str, **values: Any) -> None:
        with self._engine.begin() as db:
            db.execute(sweeps_table.update().where(sweeps_table.c.sweep_id == sweep_id).values(**values))

    def sweeps(self) -> list[SweepRecord]:
        with self._engine.connect() as db:
            rows = db.execute(sweeps_table.select().order_by(sweeps_table.c.created_at)).mappings()
            return [SweepRecord(**_aware(row)) for row in rows]

    def sweep(self, sweep_id: str) -> SweepRecord:
        """The sweep with this id, or the only one whose id starts with it."""
        with self._engine.connect() as db:
            c = sweeps_table.c
            rows = list(db.execute(sweeps_table.select().where(c.sweep_id == sweep_id)).mappings())
            if not rows:
                like = sweep_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = list(db.execute(sweeps_table.select().where(c.sweep_id.like(like, escape="\\"))).mappings())
        if len(rows) != 1:
            why = "matches several sweeps" if rows else "is not in the ledger"
            raise NotFoundError(f"sweep {sweep_id!r} {why} ({self}); `searchsvc list` shows the sweeps")
        return SweepRecord(**_aware(rows[0]))

    # -- trials
    def upsert_trials(self, trials: list[TrialRecord]) -> None:
        """Insert or replace trials by (sweep_id, trial_index), in one transaction."""
        if not trials:
            return
        rows = [dataclasses.asdict(t) for t in trials]
        insert = _dialect_insert(self._engine)(trials_table)
        keys = ("sweep_id", "trial_index")
        statement = insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: insert.excluded[c.name] for c in trials_table.columns if c.name not in keys},
        )
        with self._engine.begin() as db:
            db.execute(statement, rows)

    def trials(self, sweep_id: str) -> list[TrialRecord]:
        with self._engine.connect() as db:
            query = trials_table.select().where(trials_table.c.sweep_id == sweep_id)
            rows = db.execute(query.order_by(trials_table.c.trial_index)).mappings()
            return [TrialRecord(**_aware(row)) for row in rows]

    def status_counts(self, sweep_id: str) -> Counter[str]:
        with self._engine.connect() as db:
            c = trials_table.c
            query = sa.select(c.status, sa.func.count()).where(c.sweep_id == sweep_id).group_by(c.status)
            return Counter({status: n for status, n in db.execute(query)})

    def close(self) -> None:
        self._engine.dispose()


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
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
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
