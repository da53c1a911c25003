"""Whether a sweep's driver is alive, and how to ask it to stop, from any machine that reaches the ledger.

A driver records itself as ``host:pid`` and proves it is alive by a heartbeat in the ledger, every
``HEARTBEAT_S`` (as Optuna's RDB storage does for trials); it is taken for dead once its heartbeat is
``STALE_S`` old. On the driver's own host the process table answers at once (a dead pid, or a zombie).
So a driver that died anywhere (``kill -9``, a lost container) is noticed, and its sweep reconciled
(:mod:`searchsvc.stores.reconcile`) and resumed from any machine.

``cancel`` writes a request into the ledger, which the driver's heartbeat thread reads every second;
the driver then stops as on Ctrl-C: unfinished trials ``cancelled``, runs KILLED, the sweep resumable.
A sweep submitted through the Jobs API is also stopped there (SIGTERM, handled the same way).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

from searchsvc.stores.ledger import Ledger, SweepRecord, now
from searchsvc.status import SweepStatus

#: seconds between a driver's heartbeats, and the age at which a heartbeat means a dead driver
HEARTBEAT_S = 5.0
STALE_S = 45.0
#: seconds between a driver's looks for a cancel request
CANCEL_POLL_S = 1.0


def this_driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def driver_alive(sweep: SweepRecord) -> bool:
    """Whether the sweep's driver still runs: its process, on this host; its heartbeat, from anywhere."""
    if sweep.status != SweepStatus.RUNNING or not sweep.driver:
        return False
    host, _, pid = sweep.driver.rpartition(":")
    if host == socket.gethostname():
        return _process_runs(int(pid))
    if sweep.heartbeat_at is None:
        return False
    return (now() - sweep.heartbeat_at).total_seconds() < STALE_S


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Heartbeat:
    """The driver's heartbeat thread: beats every HEARTBEAT_S and calls ``on_cancel`` once a cancel request
    is in the ledger. A failed beat is tried again at the next one (the ledger reconnects on its own)."""

    def __init__(self, ledger: Ledger, sweep_id: str, on_cancel: Callable[[], None]) -> None:
        self._ledger, self._sweep_id, self._on_cancel = ledger, sweep_id, on_cancel
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="searchsvc-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._ledger.update_sweep(self._sweep_id, heartbeat_at=now(), cancel_requested_at=None)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(CANCEL_POLL_S):
            try:
                if self._ledger.sweep(self._sweep_id).cancel_requested_at is not None:
                    self._on_cancel()
                if time.monotonic() - last_beat >= HEARTBEAT_S:
                    self._ledger.update_sweep(self._sweep_id, heartbeat_at=now())
                    last_beat = time.monotonic()
            except Exception:  # noqa: BLE001 - a missed beat; the next one tries again
                continue


def request_cancel(ledger: Ledger, sweep: SweepRecord) -> None:
    """Ask the sweep's driver to stop (it reads the request within CANCEL_POLL_S)."""
    ledger.update_sweep(sweep.sweep_id, cancel_requested_at=now())
