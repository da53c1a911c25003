"""A driver's liveness from any machine: its process on its own host, its heartbeat from anywhere; and a
cancel request that reaches it through the ledger."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading

from searchsvc.stores import lease as liveness
from searchsvc.stores.ledger import SweepRecord, get_ledger, now
from searchsvc.stores.lease import Heartbeat, driver_alive, request_cancel


def sweep(driver: str, heartbeat_age_s: float | None, status: str = "running") -> SweepRecord:
    beat = None if heartbeat_age_s is None else now() - dt.timedelta(seconds=heartbeat_age_s)
    return SweepRecord("s", "s", {}, 1, "accuracy", "max", status, now(), driver=driver, heartbeat_at=beat)


def test_a_driver_on_another_host_is_alive_while_its_heartbeat_is_fresh() -> None:
    elsewhere = "another-host:123"
    assert driver_alive(sweep(elsewhere, 1.0))
    assert not driver_alive(sweep(elsewhere, liveness.STALE_S + 1))  # died there: noticed here
    assert not driver_alive(sweep(elsewhere, None))
    assert not driver_alive(sweep(elsewhere, 1.0, status="completed"))


def test_on_its_own_host_the_process_table_answers_at_once() -> None:
    here = socket.gethostname()
    assert driver_alive(sweep(f"{here}:{os.getpid()}", liveness.STALE_S + 100))
    assert not driver_alive(sweep(f"{here}:999999999", 0.0))


def test_the_heartbeat_beats_and_passes_on_a_cancel_request(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(liveness, "CANCEL_POLL_S", 0.05)
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.create_sweep(sweep("another-host:1", None))
    cancelled = threading.Event()
    with Heartbeat(ledger, "s", on_cancel=cancelled.set):
        first = ledger.sweep("s").heartbeat_at
        assert first is not None and not cancelled.wait(0.5)
        assert ledger.sweep("s").heartbeat_at > first
        request_cancel(ledger, ledger.sweep("s"))
        assert cancelled.wait(5)
