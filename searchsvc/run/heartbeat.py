"""The lease holder's heartbeat: the thread of a running driver that renews its lease on the sweep and
passes on a cancel request addressed to it (:mod:`searchsvc.stores.lease`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from searchsvc.stores.lease import Lease, LeaseLost
from searchsvc.stores.ledger import Ledger

#: seconds between the holder's looks for a cancel request
CANCEL_POLL_S = 1.0


class Heartbeat:
    """The holder's heartbeat thread: renews the lease every ``lease.renew_every`` seconds and looks for a cancel
    request every CANCEL_POLL_S; calls ``on_cancel`` once one is there, and ``on_lost`` once the lease is lost.
    A renewal that fails for another reason is tried again at the next beat (the ledger reconnects itself)."""

    def __init__(self, ledger: Ledger, lease: Lease, on_cancel: Callable[[], None],
                 on_lost: Callable[[LeaseLost], None]) -> None:
        self._ledger, self._lease = ledger, lease
        self._on_cancel, self._on_lost = on_cancel, on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="searchsvc-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last_renewal = time.monotonic()
        while not self._stop.wait(min(CANCEL_POLL_S, self._lease.renew_every)):
            try:
                if time.monotonic() - last_renewal >= self._lease.renew_every:
                    cancel = self._ledger.renew(self._lease)
                    last_renewal = time.monotonic()
                else:
                    cancel = self._ledger.sweep(self._lease.sweep_id).cancel_requested
                if cancel:
                    self._on_cancel()
            except LeaseLost as lost:
                self._on_lost(lost)
                return
            except Exception:  # noqa: BLE001 - a missed beat; the next one tries again
                continue
