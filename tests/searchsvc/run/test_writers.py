"""MLflow's writer with fake writes: its lanes keep each trial's order and write every part once, a trial's
waiting parts go as one, what a failure skipped is backfilled once by the trial's own lane, and closing
is bounded when a write never returns."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

from searchsvc.run.writers import TrackingWriter
from tests.searchsvc.processes import wait_for


class FakeStore:
    """Writes, backfills and pings of a store that is down while ``down`` is set; each call recorded with its
    thread. ``gate``, while cleared, holds every write of the trials in ``held``."""

    def __init__(self) -> None:
        self.down = False
        self.writes: dict[int, list[list[object]]] = defaultdict(list)
        self.backfills: list[tuple[int, str]] = []
        self.gate, self.held = threading.Event(), set()
        self.gate.set()
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def write(self, key: int, parts: list[object]) -> None:
        if key in self.held:
            self.gate.wait()
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(random.uniform(0, 0.003))  # a request's round trip
        with self._lock:
            self.in_flight -= 1
            self._fail()
            self.writes[key].append(parts)

    def backfill(self, key: int) -> None:
        with self._lock:
            self._fail()
            self.backfills.append((key, threading.current_thread().name))

    def ping(self) -> None:
        self._fail()

    def _fail(self) -> None:
        if self.down:
            raise ConnectionError("the tracking server does not answer")

    def writer(self, lanes: int = 4, batch: bool = True) -> TrackingWriter:
        return TrackingWriter(self.ping, self.write, self.backfill, lambda: True, lanes, batch)


def test_lanes_write_each_trials_parts_once_and_in_order_with_requests_in_flight_at_once() -> None:
    store = FakeStore()
    writer = store.writer(lanes=4)
    for step in range(5):
        for k in range(40):
            writer.submit(k, (k, step), final=step == 4)
    writer.close()
    assert {k: [part for parts in calls for part in parts] for k, calls in store.writes.items()} == \
        {k: [(k, step) for step in range(5)] for k in range(40)}
    assert store.most_in_flight > 1 and writer.missing == set() and writer.pending == 0


def test_a_trials_parts_that_wait_together_go_as_one_write_unless_each_alone() -> None:
    for batch, expected in [(True, [["start", "epochs", "end"]]), (False, [["start"], ["epochs"], ["end"]])]:
        store = FakeStore()
        store.held = {0}
        store.gate.clear()
        writer = store.writer(lanes=2, batch=batch)
        writer.submit(0, "first")  # its write holds lane 0
        for part in ("start", "epochs", "end"):
            writer.submit(2, part, final=part == "end")  # trial 2's parts wait behind it, on lane 0
        store.gate.set()
        writer.close()
        assert store.writes[2] == expected, batch


def test_what_mlflow_missed_while_down_is_backfilled_once_by_each_trials_own_lane(monkeypatch) -> None:
    monkeypatch.setattr("searchsvc.run.writers.PROBE_S", 0.0)
    store = FakeStore()
    writer = store.writer(lanes=4)
    for k in range(8):
        writer.submit(k, "start")
    wait_for(lambda: writer.idle, 10, "the runs to start")
    store.down = True  # the server dies: every trial's end fails or is skipped
    for k in range(8):
        writer.submit(k, "end", final=True)
    wait_for(lambda: writer.idle, 10, "the ends to be tried")
    assert writer.down and writer.missing == set(range(8))
    store.down = False  # back: the next trials' writes probe it, and each lane backfills its own trials
    for k in range(8, 12):
        writer.submit(k, "whole", final=True)
    writer.close()
    assert sorted(store.backfills) == [(k, f"searchsvc-mlflow-{k % 4}") for k in range(8)]  # once each, in its lane
    assert all(store.writes[k] == [["start"]] for k in range(8)) and writer.missing == set()
    assert all(store.writes[k] == [["whole"]] for k in range(8, 12))


def test_closing_is_bounded_when_a_write_never_returns_and_nothing_is_written_after() -> None:
    store = FakeStore()
    store.held = {0}  # trial 0's request never returns (a stalled server)
    store.gate.clear()
    writer = store.writer(lanes=2)
    for k in range(4):
        writer.submit(k, "whole", final=True)
    wait_for(lambda: 1 in store.writes and 3 in store.writes, 5, "lane 1's trials")
    writer.submit(2, "whole", final=True)  # behind trial 0, on lane 0
    started = time.monotonic()
    writer.close(timeout_s=0.5)
    assert time.monotonic() - started < 2
    assert writer.missing == {0, 2}  # what MLflow did not take: for `searchsvc resume` to write
    store.gate.set()  # the stalled request returns after all: the writer wrote nothing more
    time.sleep(0.1)
    assert sorted(store.writes) == [0, 1, 3]
