"""Trial bundles: several trials per Ray Tune trial, so that short trials do not pay Tune's per-trial cost.

Tune schedules *bundles*, lists of trial indices. A worker runs its bundle's trials one after the
other in the same process and reports each trial's result on its own, so every trial keeps its ledger
row and its MLflow run. With ``bundle: auto`` the sizes follow *factoring* (Hummel, Schonberg & Flynn,
CACM 1992), a loop-scheduling rule for iterations of unequal length, recomputed at every bundle: each
bundle takes ⌈R / 2P⌉ of the R trials left, P being the trials run at a time. Bundles are large while much is left and single
trials at the end, so no worker idles long while another finishes a big bundle.

A bundle whose worker died or ran out of memory ends in error (Tune restarts nothing itself). Its
trials that had not reported a result go back to the front of the queue, and the one that was running
counts a restart; after ``max_restarts`` restarts that trial is given up on: ``on_give_up(k)`` is called
(the recorder records it ``infra``).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ray.tune.search import Searcher

from searchsvc.run.cluster import Capacity
from searchsvc.run.protocol import Bundle, from_tune, is_final


class TrialQueue:
    """The trial indices still to hand out, in order: trials given back to the front, then the rest of an iterable
    of indices, read as far as handed out (a sweep of 10^5 trials holds no list of them)."""

    def __init__(self, indices: Iterable[int], count: int) -> None:
        self._front: deque[int] = deque()
        self._rest = iter(indices)
        self._left = count  # how many of ``indices`` are not yet handed out

    def __len__(self) -> int:
        return len(self._front) + self._left

    def take(self, n: int) -> list[int]:
        taken = [self._front.popleft() for _ in range(min(n, len(self._front)))]
        while len(taken) < n and self._left:
            taken.append(next(self._rest))
            self._left -= 1
        return taken

    def give_back(self, indices: list[int]) -> None:
        """Put ``indices`` back at the front, in this order."""
        self._front.extendleft(reversed(indices))

    def peek(self) -> int:
        """The next index to hand out (the queue must not be empty)."""
        (k,) = self.take(1)
        self.give_back([k])
        return k


class BundleSearcher(Searcher):
    """A Tune searcher that hands out bundles of the sweep's pending trial indices, in index order, as many
    at once as ``capacity()`` says fit now (with the GPU share each of their trials gets)."""

    def __init__(self, queue: TrialQueue, capacity: Callable[..., Capacity], size: int | None, max_restarts: int,
                 recorded: Mapping[int, dict[str, object]] | None = None,
                 on_give_up: Callable[[int], None] = lambda k: None,
                 gpu_need: Callable[[int], int] | None = None,
                 on_drained: Callable[[], None] = lambda: None) -> None:
        """``size``: trials per bundle, or ``None`` for factoring; ``recorded``: configs of trials that ran before;
        ``gpu_need``: a trial's estimated GPU memory in bytes, with which ``capacity(need, grown)`` sizes its GPU
        share (the bundle's: that of its largest trial); asked only where trials take a GPU share;
        ``on_drained``: called once, as the last trial is handed out (the sweep's last trials run)."""
        super().__init__()
        self.gpu_need = gpu_need
        self.grown: Counter[int] = Counter()  # trials that ran out of GPU memory: doublings of their share
        self.capacity, self.on_give_up, self.on_drained = capacity, on_give_up, on_drained
        self.pending = queue
        self.size, self.max_restarts = size, max_restarts
        self.recorded = recorded or {}
        self.bundles: dict[str, list[int]] = {}  # Tune trial id → its bundle, while it runs
        self.finished: set[int] = set()  # trials of running bundles that reported a final result
        self.restarts: Counter[int] = Counter()
        self.given_up: set[int] = set()
        self.handed_out = 0  # bundles so far

    def next_size(self, concurrency: int) -> int:
        return self.size or math.ceil(len(self.pending) / (2 * concurrency))

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if not len(self.pending):
            return None if self.bundles else Searcher.FINISHED  # None: a running bundle may still give trials back
        capacity = self._capacity(self.pending.peek())
        if len(self.bundles) >= capacity.slots:
            return None  # asked again at Tune's next step
        bundle = self.pending.take(self.next_size(capacity.slots))
        self.bundles[trial_id] = bundle
        self.handed_out += 1
        if not len(self.pending):
            self.on_drained()
            self.on_drained = lambda: None
        configs = {k: self.recorded[k] for k in bundle if k in self.recorded}
        share = capacity.gpu_share
        if self.gpu_need and share:  # the bundle runs its trials in one worker: the share of its largest
            share = max(self._capacity(k).gpu_share for k in bundle)
        return Bundle(tuple(bundle), share, configs).to_tune()

    def grow(self, k: int) -> None:
        """Trial ``k`` ran out of GPU memory: it asks for twice the share when it runs again (up to a GPU)."""
        self.grown[k] += 1

    def _capacity(self, k: int) -> Capacity:
        need = self.gpu_need
        return self.capacity(lambda: need(k), self.grown[k]) if need else self.capacity()

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if is_final(result):
            self.finished.add(from_tune(result).trial_index)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        bundle = self.bundles.pop(trial_id, [])
        left = [k for k in bundle if k not in self.finished]
        self.finished.difference_update(bundle)
        if not left:
            return
        failed = left[0]  # bundles run in order: the first unfinished trial is the one that was running
        self.restarts[failed] += 1
        if self.restarts[failed] > self.max_restarts:
            self.given_up.add(failed)
            self.on_give_up(failed)
            left = left[1:]
        self.pending.give_back(left)
