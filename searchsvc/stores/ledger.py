"""The ledger: the system of record for sweeps and trials (SQLAlchemy Core; SQLite or PostgreSQL).

MLflow is the dashboard; the ledger is what resume, status and the analysis read. Rows come back as typed
records (:class:`SweepRecord` with its :class:`~searchsvc.sweep.spec.SweepSpec`, :class:`TrialRecord` with
its status and result). A trial's row is written when it first starts: the configs of trials not yet
started are a pure function of the spec, and count as pending.

Who owns a sweep is a lease in its row (:mod:`searchsvc.stores.lease`): an owner's token and an expiry,
taken by compare-and-set, renewed by the heartbeat and judged by the database's clock only. Every write of
a driver carries its :class:`~searchsvc.stores.lease.Lease`, in the same transaction as a renewal that
fails unless the lease is still that driver's: a driver that lost its lease writes nothing
(:class:`~searchsvc.stores.lease.LeaseLost`). The database's clock is PostgreSQL's ``now()``; a SQLite
file has no server, so its clock is the time the kernel stamps on a write to a file beside it
(:class:`FileClock`), which every process that uses the database reads alike.

``get_ledger(None | URL | Ledger)`` is the one factory: ``None`` → the SQLite file under the searchsvc
home, a URL → that database (``sqlite:///…``, ``postgresql://…``), a ``Ledger`` → itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from searchsvc.errors import NotFoundError, SearchSvcError
from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.stores.lease import Lease, LeaseLost, Owned
from searchsvc.stores.records import SweepRecord, TrialRecord, now
from searchsvc.stores.locations import LedgerLocation
from searchsvc.stores.schema import (aware, create_schema, dialect_insert, make_engine, sweeps_table, trial_record,
                                     trial_row, trials_table)

if TYPE_CHECKING:
    from searchsvc.sweep.spec import SweepSpec

log = logging.getLogger(__name__)


class Ledger:
    """Sweeps and trials in one SQL database. Safe to call from several threads.

    A write or read that loses its connection (a database restart or failover, an idle connection cut)
    is retried on a new one for up to ``RECONNECT_SECONDS``; trial writes are upserts, and lease writes
    compare-and-set on the holder's token, so a retried write never makes a second row. Any other
    database error (a refused write, say) is raised at once.

    ``create=False`` (the read commands): a ledger that does not exist yet is not created; it reads as empty.
    """

    def __init__(self, url: str | LedgerLocation, create: bool = True) -> None:
        self.location = url if isinstance(url, LedgerLocation) else LedgerLocation.parse(url)
        self.url = self.location.url
        self.exists = create or self.location.present()
        self._engine = make_engine(self.location, create)
        if not self.exists:
            return
        try:
            create_schema(self._engine, create)
        except sa.exc.OperationalError as e:
            raise SearchSvcError(f"ledger: cannot open {self!r}: {str(e.orig).strip()}; check that the database "
                                 "server runs and that the URL's host, port, user and database are right "
                                 "(--ledger or $SEARCHSVC_LEDGER)") from e
        self.exists = sa.inspect(self._engine).has_table("sweeps")

    def __repr__(self) -> str:
        return f"Ledger({self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The URL with its password hidden, to print."""
        return self.location.display

    # -- a sweep's life: created with its lease, taken over, renewed, released, expired, cancelled
    def create_sweep(self, sweep_id: str, spec: SweepSpec, lease: Lease, *, mlflow_run_id: str | None = None,
                     tracking_uri: str | None = None, job_id: str | None = None, cluster: str | None = None) -> None:
        """A new sweep's row, owned by ``lease`` (its trials' rows come as they start)."""
        clock = self._clock()
        self._write(lambda db: db.execute(sweeps_table.insert().values(
            sweep_id=sweep_id, name=spec.name, spec=spec.model_dump(mode="json"), trials=spec.trials,
            metric=spec.metric, mode=spec.mode, status=SweepStatus.RUNNING, driver=lease.holder, owner=lease.token,
            lease_until=clock + lease.seconds, heartbeat_at=self._clock_time(), mlflow_run_id=mlflow_run_id,
            tracking_uri=tracking_uri, created_at=now(), job_id=job_id, cluster=cluster)))

    def take(self, sweep_id: str, lease: Lease, *, job_id: str | None = None, cluster: str | None = None) -> SweepRecord:
        """Own the sweep, if its lease is free or expired (compare-and-set): it is running again, and what its
        last driver left running goes back to pending. Else raise :class:`Owned` (exit 2) naming the holder."""
        c, clock = sweeps_table.c, self._clock()

        def run(db: sa.Connection) -> bool:
            taken = db.execute(sweeps_table.update().where(
                c.sweep_id == sweep_id, sa.or_(self._free(), c.owner == lease.token)).values(
                owner=lease.token, driver=lease.holder, lease_until=clock + lease.seconds, cancel_for=None,
                heartbeat_at=self._clock_time(), status=SweepStatus.RUNNING, finished_at=None,
                **({"job_id": job_id, "cluster": cluster} if job_id else {}))).rowcount == 1
            if taken:
                _requeue_running(db, sweep_id)
            return taken

        if not self._write(run):
            raise Owned(self.sweep(sweep_id))
        return self.sweep(sweep_id)

    def renew(self, lease: Lease) -> bool:
        """Extend the lease by its length; whether a cancel request waits for it. Raises LeaseLost."""
        return self._write(lambda db: self._renew(db, lease))

    def release(self, lease: Lease, status: SweepStatus) -> SweepStatus:
        """End the lease with the sweep's status: ``cancelled`` instead of ``completed`` if a cancel request came
        meanwhile (a cancel that was accepted always stops the sweep). Returns the status recorded."""
        c = sweeps_table.c
        ended = (sa.case((c.cancel_for == lease.token, SweepStatus.CANCELLED.value), else_=status.value)
                 if status == SweepStatus.COMPLETED else status.value)

        def run(db: sa.Connection) -> str | None:
            released = db.execute(sweeps_table.update().where(c.sweep_id == lease.sweep_id, c.owner == lease.token)
                                  .values(status=ended, owner=None, lease_until=None, cancel_for=None,
                                          finished_at=now())).rowcount == 1
            return db.execute(sa.select(c.status).where(c.sweep_id == lease.sweep_id)).scalar() if released else None

        recorded = self._write(run)
        if recorded is None:
            raise LeaseLost(self.sweep(lease.sweep_id))
        return SweepStatus(recorded)

    def expire(self, sweep_id: str) -> SweepRecord:
        """The sweep as it stands; a ``running`` sweep whose lease has expired (its driver stopped renewing it,
        wherever it ran) is first made ``interrupted``, its running trials pending: the one write a read
        command makes."""
        sweep = self.sweep(sweep_id)
        if sweep.status != SweepStatus.RUNNING or sweep.leased:
            return sweep
        c = sweeps_table.c

        def run(db: sa.Connection) -> None:
            if db.execute(sweeps_table.update().where(c.sweep_id == sweep.sweep_id, c.status == SweepStatus.RUNNING,
                                                      self._free())
                          .values(status=SweepStatus.INTERRUPTED, owner=None, lease_until=None,
                                  cancel_for=None)).rowcount:
                _requeue_running(db, sweep.sweep_id)

        self._write(run)
        return self.sweep(sweep.sweep_id)

    def request_cancel(self, sweep_id: str) -> bool:
        """Ask the holder of the sweep's live lease to stop; whether there was one to ask."""
        c = sweeps_table.c
        return self._write(lambda db: db.execute(sweeps_table.update().where(
            c.sweep_id == sweep_id, c.status == SweepStatus.RUNNING, c.owner.is_not(None),
            c.lease_until > self._clock()).values(cancel_for=c.owner)).rowcount == 1)

    # -- a driver's writes, each fenced by its lease
    def upsert_trials(self, trials: Sequence[TrialRecord], lease: Lease) -> None:
        """Insert or replace trials by (sweep_id, trial_index), in one transaction, if ``lease`` still holds."""
        if not trials:
            return
        insert = dialect_insert(self._engine)(trials_table)
        keys = ("sweep_id", "trial_index")
        statement = insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: insert.excluded[c.name] for c in trials_table.columns if c.name not in keys},
        )
        rows = [trial_row(t) for t in trials]

        def run(db: sa.Connection) -> None:
            self._renew(db, lease)
            db.execute(statement, rows)

        self._write(run)

    def grow(self, lease: Lease, spec: SweepSpec) -> None:
        """The sweep now has ``spec.trials`` trials (extend)."""
        self._update_sweep(lease, spec=spec.model_dump(mode="json"), trials=spec.trials)

    # -- reads
    def sweeps(self) -> list[SweepRecord]:
        if not self.exists:
            return []
        return [self._sweep_record(row) for row in self._read(self._sweep_select().order_by(
            sweeps_table.c.created_at))]

    def sweep(self, sweep_id: str) -> SweepRecord:
        """The sweep with this id, or the only one whose id starts with it."""
        c = sweeps_table.c
        rows = self._read(self._sweep_select().where(c.sweep_id == sweep_id)) if self.exists else []
        if not rows and self.exists:
            like = sweep_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._read(self._sweep_select().where(c.sweep_id.like(like, escape="\\")))
        if len(rows) != 1:
            why = "matches several sweeps" if rows else "is not in the ledger"
            raise NotFoundError(f"sweep {sweep_id!r} {why} ({self}); `searchsvc list` shows the sweeps")
        return self._sweep_record(rows[0])

    def trials(self, sweep_id: str, unfinished: bool = False, epochs: bool = True) -> list[TrialRecord]:
        """The recorded trials of a sweep (those that started), by index; only those without a final result if
        ``unfinished`` (the rows of the trials a resume runs); without their ``epoch_metrics`` unless ``epochs``."""
        c = trials_table.c
        query = sa.select(*(col for col in trials_table.columns if epochs or col.name != "epoch_metrics")).where(
            c.sweep_id == sweep_id)
        if unfinished:
            query = query.where(c.status.not_in([s.value for s in TrialStatus if s.final]))
        return [trial_record(row) for row in self._read(query.order_by(trials_table.c.trial_index))]

    def unfinished(self, sweep: SweepRecord) -> list[int]:
        """The indices a resume runs: every trial without a final result (pending, running, infra, cancelled,
        and those that never started), in order."""
        c = trials_table.c
        final = [s.value for s in TrialStatus if s.final]
        done = {k for (k,) in self._read(sa.select(c.trial_index).where(c.sweep_id == sweep.sweep_id,
                                                                      c.status.in_(final)), mappings=False)}
        return [k for k in range(sweep.trials) if k not in done]

    def best(self, sweep: SweepRecord) -> TrialRecord | None:
        """The scored trial with the best validation score (by the sweep's mode), the lowest index among ties:
        :func:`~searchsvc.stores.records.best_trial` of the sweep's rows, found by the database."""
        c = trials_table.c
        order = c.val_score.desc() if sweep.mode == "max" else c.val_score.asc()
        rows = self._read(trials_table.select().where(
            c.sweep_id == sweep.sweep_id, c.status.in_([s.value for s in TrialStatus if s.scored]),
            c.val_score.is_not(None)).order_by(order, c.trial_index).limit(1))
        return trial_record(rows[0]) if rows else None

    def status_counts(self, sweep: SweepRecord) -> Counter[str]:
        """Trials by status; trials that never started count as pending."""
        c = trials_table.c
        rows = self._read(sa.select(c.status, sa.func.count()).where(c.sweep_id == sweep.sweep_id)
                          .group_by(c.status), mappings=False)
        counts = Counter({TrialStatus(status): n for status, n in rows})
        if (unstarted := sweep.trials - sum(counts.values())) > 0:
            counts[TrialStatus.PENDING] += unstarted
        return counts

    def close(self) -> None:
        self._engine.dispose()

    # -- the lease in SQL
    def _clock(self) -> Any:
        """Now, in seconds, on the database's clock, as SQL."""
        if self._engine.dialect.name == "postgresql":
            return sa.cast(sa.func.extract("epoch", sa.func.now()), sa.Float)
        return sa.func.searchsvc_clock()

    def _clock_time(self) -> Any:
        """Now, as a timestamp of the database's clock, as SQL."""
        return sa.func.now() if self._engine.dialect.name == "postgresql" else sa.func.searchsvc_now()

    def _free(self) -> Any:
        c = sweeps_table.c
        return sa.or_(c.owner.is_(None), c.lease_until.is_(None), c.lease_until <= self._clock())

    def _renew(self, db: sa.Connection, lease: Lease) -> bool:
        c = sweeps_table.c
        renewed = db.execute(sweeps_table.update().where(c.sweep_id == lease.sweep_id, c.owner == lease.token)
                             .values(lease_until=self._clock() + lease.seconds, heartbeat_at=self._clock_time()))
        if renewed.rowcount != 1:
            raise LeaseLost(self.sweep(lease.sweep_id))
        lease.renewed()
        return db.execute(sa.select(c.cancel_for).where(c.sweep_id == lease.sweep_id)).scalar() == lease.token

    def _update_sweep(self, lease: Lease, **values: Any) -> None:
        def run(db: sa.Connection) -> None:
            self._renew(db, lease)
            db.execute(sweeps_table.update().where(sweeps_table.c.sweep_id == lease.sweep_id).values(**values))

        self._write(run)

    def _sweep_select(self) -> Any:
        c = sweeps_table.c
        return sa.select(*(col for col in sweeps_table.columns if col.name not in ("owner", "lease_until", "cancel_for")),
                         (c.lease_until - self._clock()).label("lease_left_s"),
                         (c.cancel_for.is_not(None) & (c.cancel_for == c.owner)).label("cancel_requested"))

    def _sweep_record(self, row: Any) -> SweepRecord:
        values = aware(row)
        return SweepRecord(
            sweep_id=values["sweep_id"], document=values["spec"], metric=values["metric"], mode=values["mode"],
            status=values["status"], created_at=values["created_at"], mlflow_run_id=values["mlflow_run_id"],
            tracking_uri=values["tracking_uri"], finished_at=values["finished_at"], driver=values["driver"],
            heartbeat_at=values["heartbeat_at"], lease_left_s=values["lease_left_s"],
            cancel_requested=bool(values["cancel_requested"]), job_id=values["job_id"], cluster=values["cluster"])

    # -- one place that talks to the database, retrying on a lost connection
    def _write(self, work: Callable[[sa.Connection], Any]) -> Any:
        def run() -> Any:
            with self._engine.begin() as db:
                return work(db)

        return _reconnecting(run, self)

    def _read(self, query: Any, mappings: bool = True) -> list[Any]:
        def run() -> list[Any]:
            with self._engine.connect() as db:
                result = db.execute(query)
                return list(result.mappings() if mappings else result)

        return _reconnecting(run, self)


def _requeue_running(db: sa.Connection, sweep_id: str) -> None:
    """The trials a driver left running go back to pending (their rows keep their config and MLflow run)."""
    c = trials_table.c
    db.execute(trials_table.update().where(c.sweep_id == sweep_id, c.status == TrialStatus.RUNNING).values(
        status=TrialStatus.PENDING, message="interrupted: the driver stopped while it ran"))


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


def get_ledger(ledger: None | str | Ledger = None, create: bool = True) -> Ledger:
    if isinstance(ledger, Ledger):
        return ledger
    from searchsvc.home import default_ledger_url

    return Ledger(ledger or default_ledger_url(), create=create)


