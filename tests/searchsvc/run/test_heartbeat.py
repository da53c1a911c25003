"""The holder's heartbeat: it renews the lease, passes on a cancel request, and says once that another driver
took the sweep (real SQLite ledger)."""

from __future__ import annotations

import threading

from searchsvc.run import heartbeat
from searchsvc.run.heartbeat import Heartbeat
from searchsvc.stores.lease import LeaseLost
from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.schema import sweeps_table
from tests.builders import owned_sweep


def test_the_heartbeat_renews_the_lease_and_passes_on_a_cancel_request(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(heartbeat, "CANCEL_POLL_S", 0.05)
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    lease = owned_sweep(ledger, "s")
    lease.seconds = 0.9  # renewed every 0.1 s
    cancelled, lost = threading.Event(), []
    with Heartbeat(ledger, lease, on_cancel=cancelled.set, on_lost=lost.append):
        first = ledger.sweep("s").heartbeat_at
        assert not cancelled.wait(0.5)
        assert ledger.sweep("s").heartbeat_at > first and ledger.sweep("s").leased
        assert ledger.request_cancel("s")
        assert cancelled.wait(5)
    assert not lost


def test_the_heartbeat_of_a_driver_whose_sweep_was_taken_says_so_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(heartbeat, "CANCEL_POLL_S", 0.05)
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    lease = owned_sweep(ledger, "s")
    lease.seconds = 0.9
    with ledger._engine.begin() as db:  # another driver took it
        db.execute(sweeps_table.update().values(owner="another", driver="elsewhere:7"))
    lost = []
    done = threading.Event()
    with Heartbeat(ledger, lease, on_cancel=lambda: None, on_lost=lambda e: (lost.append(e), done.set())):
        assert done.wait(5)
    assert len(lost) == 1 and isinstance(lost[0], LeaseLost) and "elsewhere:7" in str(lost[0])
