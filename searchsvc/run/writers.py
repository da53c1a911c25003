"""The two writers of a running sweep, each on a thread of its own, so neither store waits on the other.

* :class:`LedgerWriter` saves trial rows, the system of record. A round writes the latest row of every
  trial that changed, in one transaction, ``GROUP_S`` after the first change: a short trial's end and
  its MLflow run id, and a burst of trials, cost one transaction. A row whose write failed is written
  again with the next round; what is still unwritten at the end is reported as lost. A write refused
  because the driver lost its lease ends the writer's writes for good (``lease_lost``).
* :class:`TrackingWriter` performs MLflow writes in order, best effort, each only while ``allowed()``
  (the driver still holds its lease). When one fails, MLflow is taken for down: the writes that follow
  are skipped at once (never waited out), their trials are noted as missing, and every ``PROBE_S`` the
  store is asked whether it is back; once it is, each missing trial that has ended is written whole
  from its record (``backfill``).

Neither raises into the sweep: a failure is logged once and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from searchsvc.stores.lease import LeaseLost

log = logging.getLogger(__name__)
Item = TypeVar("Item")

#: seconds a ledger round waits for more rows once one came (a trial's run id, the next trials' ends)
GROUP_S = 0.25
#: seconds between asking a tracking store that failed whether it answers again
PROBE_S = 15.0


class _WriterThread(Generic[Item]):
    """A daemon thread that takes what is queued, all of it at once, until closed."""

    def __init__(self, name: str) -> None:
        self._queue: queue.Queue[Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.cpu_seconds = 0.0  # the thread's CPU time: what recording costs the machine
        self._busy = False
        self._thread.start()

    def put(self, item: Item) -> None:
        self._busy = True
        self._queue.put(item)

    @property
    def idle(self) -> bool:
        """Everything queued so far is handled."""
        return not self._busy

    def close(self) -> None:
        """Wait until everything queued was handled."""
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        closing = False
        while not closing:
            items = [self._queue.get()]
            if items[0] is not None:
                self._gather()
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            closing = None in items
            started = time.thread_time()
            self._handle([i for i in items if i is not None], closing)
            self.cpu_seconds += time.thread_time() - started
            self._busy = not self._queue.empty()

    def _gather(self) -> None:
        """Wait, if it pays, for more to be queued before a round."""

    def _handle(self, items: list[Item], closing: bool) -> None:
        raise NotImplementedError


class LedgerWriter(_WriterThread[tuple[int, Callable[[], object]]]):
    """Saves rows through ``save(rows)``; ``changed(key, row)`` queues a row, ``row()`` read at write time."""

    def __init__(self, save: Callable[[list[object]], None], on_lease_lost: Callable[[LeaseLost], None]) -> None:
        self._save, self._on_lease_lost = save, on_lease_lost
        self._unsaved: dict[int, Callable[[], object]] = {}
        self.failures = 0
        self.error: str | None = None  # the first failure
        self.lease_lost: LeaseLost | None = None
        super().__init__("searchsvc-ledger")

    def changed(self, key: int, row: Callable[[], object]) -> None:
        self.put((key, row))

    @property
    def lost(self) -> list[int]:
        """The keys whose latest row is not in the ledger (after ``close``: for good)."""
        return sorted(self._unsaved)

    def _gather(self) -> None:
        time.sleep(GROUP_S)  # rows that change meanwhile (a run id, the next trial) join this round

    def _handle(self, items: list[tuple[int, Callable[[], object]]], closing: bool) -> None:
        self._unsaved.update(items)
        if not self._unsaved or self.lease_lost:
            return
        try:
            self._save([row() for row in self._unsaved.values()])
        except LeaseLost as e:  # another driver owns the sweep: nothing of this one's is written any more
            self.lease_lost = e
            self._on_lease_lost(e)
        except Exception as e:  # noqa: BLE001 - the rows are tried again with the next round
            self.failures += 1
            if self.error is None:
                self.error = str(e).strip().splitlines()[0]
                log.warning("ledger: a write failed; its rows are tried again with the next one: %s", self.error)
        else:
            self._unsaved.clear()


class TrackingWriter(_WriterThread[tuple[int, Callable[[], None], bool]]):
    """MLflow writes of trials in order: ``submit(key, write, final)``. ``backfill(key)`` writes a trial whose
    run MLflow missed, whole, from its record: when its final write comes, or once MLflow answers again."""

    def __init__(self, ping: Callable[[], None], backfill: Callable[[int], None], allowed: Callable[[], bool]) -> None:
        self._ping, self._backfill, self._allowed = ping, backfill, allowed
        self.missing: set[int] = set()  # trials whose run MLflow does not have in full
        self._ended: set[int] = set()  # trials whose final write came
        self._down_since: float | None = None
        self._last_probe = 0.0
        self.error: str | None = None  # the last failure
        super().__init__("searchsvc-mlflow")

    def submit(self, key: int, write: Callable[[], None], final: bool = False) -> None:
        self.put((key, write, final))

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def _handle(self, items: list[tuple[int, Callable[[], None], bool]], closing: bool) -> None:
        if not self._allowed():  # not (or no longer surely) the sweep's owner: noted, for its owner to backfill
            self.missing.update(key for key, _, _ in items)
            return
        if self.down:
            self._probe(force=closing)
        for key, write, final in items:
            if final:
                self._ended.add(key)
            if key in self.missing:  # its earlier writes were skipped: the backfill writes all of it
                if final and not self.down:
                    self._attempt(key, self._backfill, backfill=True)
            elif self.down:
                self.missing.add(key)
            else:
                self._attempt(key, lambda _: write())

    def _attempt(self, key: int, write: Callable[[int], None], backfill: bool = False) -> None:
        try:
            write(key)
        except Exception as e:  # noqa: BLE001 - MLflow is the dashboard: the sweep goes on without it
            self.missing.add(key)
            self.error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if not self.down:
                log.warning("MLflow: a write failed, so MLflow writes are skipped until it answers again "
                            "(the ledger keeps every trial): %s", self.error)
            self._down_since = time.monotonic()
        else:
            if backfill:
                self.missing.discard(key)

    def _probe(self, force: bool) -> None:
        """At most every ``PROBE_S`` while down: if MLflow answers, backfill the missing trials that ended."""
        if not force and time.monotonic() - self._last_probe < PROBE_S:
            return
        self._last_probe = time.monotonic()
        try:
            self._ping()
        except Exception:  # noqa: BLE001 - still down
            return
        self._down_since = None
        log.warning("MLflow: answers again; writing the trials it missed")
        for key in sorted(self.missing & self._ended):
            if not self.down:
                self._attempt(key, self._backfill, backfill=True)
