"""The two writers of a running sweep, each on threads of its own, so neither store waits on the other.

* :class:`LedgerWriter` saves trial rows, the system of record. A round writes the latest row of every
  trial that changed, in one transaction, ``GROUP_S`` after the first change: a short trial's end and
  its MLflow run id, and a burst of trials, cost one transaction. A row whose write failed is written
  again with the next round; what is still unwritten at the end is reported as lost. A write refused
  because the driver lost its lease ends the writer's writes for good (``lease_lost``).
* :class:`TrackingWriter` performs MLflow writes best effort, each only while ``allowed()`` (the driver
  still holds its lease), on ``lanes`` threads: trial k's on lane k mod ``lanes``, in the order they came,
  so several requests are in flight at once and each trial's stay in order. A lane that is behind writes
  each trial's queued parts as one (a trial whose start and end wait together becomes one whole run).
  When a write fails, MLflow is taken for down: the writes that follow are skipped at once (never waited
  out), their trials are noted as missing, and every ``PROBE_S`` the store is asked whether it is back;
  once it is, each lane writes each missing trial of its own that has ended whole from its record
  (``backfill``). Closing waits at most ``CLOSE_S``; what MLflow has not taken by then is missing.

Neither raises into the sweep: a failure is logged once and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from searchsvc.stores.lease import LeaseLost

log = logging.getLogger(__name__)
Item = TypeVar("Item")

#: seconds a ledger round waits for more rows once one came (a trial's run id, the next trials' ends)
GROUP_S = 0.25
#: seconds between asking a tracking store that failed whether it answers again
PROBE_S = 15.0
#: seconds closing the MLflow writer waits for the writes still queued (a stalled server answers none)
CLOSE_S = 30.0


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

    def close(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued was handled (at most ``timeout_s``); whether it was."""
        self.stop()
        return self.join(timeout_s)

    def stop(self) -> None:
        """Handle what is queued, then end."""
        self._queue.put(None)

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

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


class TrackingWriter(Generic[Item]):
    """MLflow writes of trials: ``submit(key, part, final)`` queues a part of trial ``key``'s run, and
    ``write(key, parts)`` writes a trial's parts in the order they came (one at a time unless ``batch``).
    ``backfill(key)`` writes a trial whose run MLflow missed, whole, from its record: when its final part
    comes, or once MLflow answers again."""

    def __init__(self, ping: Callable[[], None], write: Callable[[int, list[Item]], None],
                 backfill: Callable[[int], None], allowed: Callable[[], bool], lanes: int = 1,
                 batch: bool = True) -> None:
        self._ping, self._write, self._backfill, self._allowed = ping, write, backfill, allowed
        self._batch = batch
        self._lock = threading.Lock()  # the state below, shared by the lanes
        self.missing: set[int] = set()  # trials whose run MLflow does not have in full
        self._ended: set[int] = set()  # trials whose final part came
        self._queued: Counter[int] = Counter()  # parts submitted and not yet handled, by trial
        self._down_since: float | None = None
        self._last_probe = 0.0
        self._closed = False  # past the close's deadline: nothing more is written
        self.error: str | None = None  # the last failure
        self._lanes = [_Lane(self, i) for i in range(lanes)]

    def submit(self, key: int, part: Item, final: bool = False) -> None:
        with self._lock:
            self._queued[key] += 1
        self._lanes[key % len(self._lanes)].put((key, part, final))

    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def idle(self) -> bool:
        return all(lane.idle for lane in self._lanes)

    @property
    def cpu_seconds(self) -> float:
        return sum(lane.cpu_seconds for lane in self._lanes)

    @property
    def pending(self) -> int:
        """Trials with parts not handled yet."""
        return len(self._queued)

    def close(self, timeout_s: float | None = None) -> None:
        """Write what is queued, within ``timeout_s`` (``CLOSE_S``): the trials with parts MLflow has not
        taken by then are missing, and nothing more is written."""
        deadline = time.monotonic() + (CLOSE_S if timeout_s is None else timeout_s)
        if self.down:
            self._probe(force=True)
        for lane in self._lanes:
            lane.stop()
        for lane in self._lanes:
            lane.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._closed = True
            self.missing.update(key for key, n in self._queued.items() if n)

    def _handle(self, lane: int, items: list[tuple[int, Item, bool]]) -> None:
        groups: dict[int, list[tuple[Item, bool]]] = {}  # a trial's parts, in order
        for key, part, final in items:
            groups.setdefault(key, []).append((part, final))
        if not self._allowed():  # not (or no longer surely) the sweep's owner: noted, for its owner to backfill
            with self._lock:
                self.missing.update(groups)
            self._handled([key for key, _, _ in items])
            return
        if self.down:
            self._probe()
        if not self.down:  # what this lane's trials missed while MLflow was down
            with self._lock:
                missed = sorted(k for k in self.missing & self._ended if k % len(self._lanes) == lane)
            for key in missed:
                self._attempt(key, self._backfill, backfill=True)
        for key, parts in groups.items():
            for chunk in [parts] if self._batch else [[part] for part in parts]:
                self._handle_trial(key, [part for part, _ in chunk], any(final for _, final in chunk))
            self._handled([key] * len(parts))

    def _handle_trial(self, key: int, parts: list[Item], final: bool) -> None:
        with self._lock:
            if final:
                self._ended.add(key)
            missing, down = key in self.missing, self.down
            if down and not missing:
                self.missing.add(key)
        if missing:  # its earlier writes were skipped: the backfill writes all of it
            if final and not down:
                self._attempt(key, self._backfill, backfill=True)
        elif not down:
            self._attempt(key, lambda k: self._write(k, parts))

    def _handled(self, keys: list[int]) -> None:
        with self._lock:
            for key in keys:
                self._queued[key] -= 1
                if not self._queued[key]:
                    del self._queued[key]

    def _attempt(self, key: int, write: Callable[[int], None], backfill: bool = False) -> None:
        if self._closed:
            return
        try:
            write(key)
        except Exception as e:  # noqa: BLE001 - MLflow is the dashboard: the sweep goes on without it
            with self._lock:
                self.missing.add(key)
            self.error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if not self.down:
                log.warning("MLflow: a write failed, so MLflow writes are skipped until it answers again "
                            "(the ledger keeps every trial): %s", self.error)
            self._down_since = time.monotonic()
        else:
            if backfill:
                with self._lock:
                    self.missing.discard(key)

    def _probe(self, force: bool = False) -> None:
        """At most every ``PROBE_S`` while down (by one lane): whether MLflow answers again."""
        with self._lock:
            if not force and time.monotonic() - self._last_probe < PROBE_S:
                return
            self._last_probe = time.monotonic()
        try:
            self._ping()
        except Exception:  # noqa: BLE001 - still down
            return
        if self.down:
            self._down_since = None
            log.warning("MLflow: answers again; writing the trials it missed")


class _Lane(_WriterThread[tuple[int, Any, bool]]):
    """One of a :class:`TrackingWriter`'s threads."""

    def __init__(self, writer: TrackingWriter, index: int) -> None:
        self._writer, self._index = writer, index
        super().__init__(f"searchsvc-mlflow-{index}")

    def _handle(self, items: list[tuple[int, Any, bool]], closing: bool) -> None:
        self._writer._handle(self._index, items)
