"""Who owns a sweep: a lease in the ledger, one holder at a time, judged by the database's clock only.

A driver owns the sweep it runs by a lease in the sweep's row: a token of its own and an expiry. It takes
the lease by compare-and-set (the sweep is free, or its lease has expired), renews it every
``seconds / 9`` from its heartbeat thread (:mod:`searchsvc.run.heartbeat`), and ends it with the sweep's status. Each of its ledger writes
renews the lease in the same transaction and fails unless the lease is still its own, so a driver that
lost its lease cannot overwrite its successor's rows (fencing); it learns at its next write or renewal
(:class:`LeaseLost`), stops its trials and exits 1. Before an MLflow write it makes sure its lease was
confirmed within the last third of its length (:meth:`Lease.fresh`), renewing it first if not, so a
driver woken after a long stop writes nothing there either.

Expiry is judged in SQL, on the database's clock, never on a host name, a pid or a local clock: a sweep
whose lease has expired is ``interrupted`` on every machine alike, and ``resume`` takes it over. This is
Optuna's heartbeat (a timestamp of the database, compared in SQL) rather than a Kubernetes ``Lease``,
whose candidates time an unchanged record on their own clocks: with the database's clock any command
answers at once whether a sweep runs, where a Kubernetes-style candidate must watch it for a whole lease.

``cancel`` is a request in the sweep's row addressed to the lease's holder; the holder reads it within a
second and stops, and a request that comes while its records close still ends the sweep
``cancelled``. A later owner never sees a request that was addressed to another.

The lease lasts ``$SEARCHSVC_LEASE_S`` seconds (default 45).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from typing import TYPE_CHECKING

from searchsvc.errors import SearchSvcError, UsageError

if TYPE_CHECKING:
    from searchsvc.stores.records import SweepRecord

#: the lease's length unless $SEARCHSVC_LEASE_S says otherwise
DEFAULT_LEASE_S = 45.0


def lease_seconds() -> float:
    raw = os.environ.get("SEARCHSVC_LEASE_S")
    if raw is None:
        return DEFAULT_LEASE_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 3 <= seconds <= 86400:
        raise UsageError(f"$SEARCHSVC_LEASE_S: expected seconds from 3 to 86400, got {raw!r}; unset it for "
                         f"{DEFAULT_LEASE_S:g}")
    return seconds


class Lease:
    """This driver's lease on one sweep: its token, who it is for people (host:pid), and its length."""

    def __init__(self, sweep_id: str, seconds: float | None = None) -> None:
        self.sweep_id = sweep_id
        self.token = secrets.token_hex(8)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.seconds = seconds if seconds is not None else lease_seconds()
        self._confirmed = time.monotonic()

    def __repr__(self) -> str:
        return f"Lease({self.sweep_id!r}, holder={self.holder!r})"

    @property
    def renew_every(self) -> float:
        return self.seconds / 9

    def renewed(self) -> None:
        """The ledger confirmed the lease (called by the ledger inside each renewal)."""
        self._confirmed = time.monotonic()

    def fresh(self) -> bool:
        """Confirmed within the last third of its length, by this process's monotonic clock: it surely holds
        for a while yet (used only to decide whether to renew before acting, never to judge another)."""
        return time.monotonic() - self._confirmed < self.seconds / 3


def _ends(sweep: SweepRecord) -> str:
    left = sweep.lease_left_s
    return "" if left is None else f", whose lease ends in {max(left, 0):.0f} s unless it renews it"


class Owned(UsageError):
    """The sweep's lease is live: another driver runs it (exit 2)."""

    def __init__(self, sweep: SweepRecord) -> None:
        self.sweep = sweep
        super().__init__(f"sweep {sweep.sweep_id} is running: its driver {sweep.driver} owns it{_ends(sweep)}; "
                         f"wait for it (`searchsvc status {sweep.sweep_id} --watch`) or stop it "
                         f"(`searchsvc cancel {sweep.sweep_id}`), then resume")


class LeaseLost(SearchSvcError):
    """This driver's lease was taken over (it stopped renewing it for longer than the lease lasts)."""

    def __init__(self, sweep: SweepRecord) -> None:
        self.sweep = sweep
        now = f"driver {sweep.driver} owns it now" if sweep.leased else f"it is {sweep.status} now"
        super().__init__(f"sweep {sweep.sweep_id}: this driver lost its lease (it did not renew it in time) and {now}; "
                         "it stopped its trials and recorded nothing more")
