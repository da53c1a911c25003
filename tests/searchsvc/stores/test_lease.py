"""A lease's length and its setting (the ledger's side of the lease: test_ledger; the holder's heartbeat:
tests/searchsvc/run/test_heartbeat.py)."""

from __future__ import annotations

import pytest

from searchsvc.errors import UsageError
from searchsvc.stores.lease import Lease, lease_seconds


def test_the_lease_lasts_45_seconds_unless_set_and_a_bad_setting_names_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("SEARCHSVC_LEASE_S", raising=False)
    assert lease_seconds() == 45 and Lease("s").renew_every == 5
    monkeypatch.setenv("SEARCHSVC_LEASE_S", "6")
    assert Lease("s").seconds == 6
    for bad in ("soon", "1", "nan"):
        monkeypatch.setenv("SEARCHSVC_LEASE_S", bad)
        with pytest.raises(UsageError, match=r"^\$SEARCHSVC_LEASE_S"):
            lease_seconds()
