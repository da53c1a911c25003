"""What waiting costs: a live sweep with early termination simulated on recorded curves.

Like Syne Tune's simulated backend, the trials' recorded epochs are laid on a simulated clock: each
epoch takes its recorded ``seconds``, ``workers`` trials train at a time, taken in trial-index
order as workers free up, and every finished epoch goes to a :class:`~analysis.rung_board.RungBoard`
at its simulated time, in that order. A trial whose decision at a rung waits for earlier trials
either trains on (``policy="speculate"``: the epochs after a rung where it is then stopped are
wasted) or pauses, holding its worker idle until the decision comes (``policy="pause"``). A stopped
trial frees its worker at once (its epoch in flight counts as wasted); a trial that ends by itself
frees its worker even while its result waits.

The decisions are the board's, so they equal the one-worker run in trial-index order whatever the
number of workers or the policy (:func:`~analysis.replay.replay_rule`); what changes is the compute.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.curves import Curve
from analysis.errors import UsageError
from analysis.rung_board import RungBoard
from analysis.stopping import Decision, Rule

POLICIES = ("speculate", "pause")


@dataclass(frozen=True)
class Simulation:
    """A simulated live sweep: each trial's stop rung (None: not stopped), and where the worker time went."""

    workers: int
    policy: str
    stops: tuple[int | None, ...]  # per trial, in trial-index order
    wall_seconds: float  # from the first start to the last trial's end
    trained_seconds: float  # worker time spent training (speculative epochs included)
    wasted_seconds: float  # training after a rung where the trial was then stopped
    idle_seconds: float  # worker time spent paused, waiting for a decision
    full_seconds: float  # every trial to its own end: the sweep without the rule

    @property
    def saved_seconds(self) -> float:
        return self.full_seconds - self.trained_seconds


def simulate_sweep(curves: Sequence[Curve], rule: Rule, *, workers: int, max_epochs: int, mode: str,
             patience: int | None = None, policy: str = "speculate") -> Simulation:
    """Simulate the sweep of ``curves`` (with per-epoch seconds) under ``rule`` on ``workers`` workers."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be an integer ≥ 1, got {workers!r}.")
    if policy not in POLICIES:
        raise UsageError(f"policy must be one of {', '.join(POLICIES)}; got {policy!r}.")
    ordered = sorted(curves, key=lambda c: c.trial_index)
    if any(c.seconds is None for c in ordered):
        raise UsageError("simulate_sweep() needs each epoch's seconds; these curves have none.")
    return _Run(ordered, RungBoard(rule, max_epochs=max_epochs, mode=mode, patience=patience), workers, policy).result()


class _Run:
    """The event loop: ``events`` holds (time, trial position) for each epoch in flight."""

    def __init__(self, curves: list[Curve], board: RungBoard, workers: int, policy: str) -> None:
        self.curves, self.board, self.workers, self.policy = curves, board, workers, policy
        self.events: list[tuple[float, int]] = []
        self.done = [0] * len(curves)  # epochs finished per trial
        self.began: dict[int, float] = {}  # trials training: when their epoch in flight began
        self.paused: dict[int, float] = {}  # trials paused: since when
        self.held: set[int] = set()  # trials that ended while a decision of theirs waits (no worker)
        self.next, self.now = 0, 0.0
        self.trained = self.wasted = self.idle = 0.0

    def result(self) -> Simulation:
        self._fill()
        while self.events:
            time, p = heapq.heappop(self.events)
            if p not in self.began:
                continue  # stopped while this epoch was in flight
            self.now, curve, epoch = time, self.curves[p], self.done[p] + 1
            self.trained += self.now - self.began.pop(p)
            self.done[p] = epoch
            self.board.record(p, epoch, float(curve.val[epoch - 1]))
            if epoch == curve.epochs:
                self.board.ended(p, epoch, curve.outcome)  # type: ignore[arg-type]
                self.held.add(p)
            else:
                self.paused[p] = self.now
            self._settle()
            self._fill()
        stops = []
        for p, curve in enumerate(self.curves):
            verdict = self.board.verdict(p)
            assert verdict.decision != Decision.WAIT, (p, verdict)  # every trial ended: nothing waits at the end
            stops.append(verdict.rung if verdict.decision == Decision.STOP else None)
        full = sum(float(c.seconds.sum()) for c in self.curves)  # type: ignore[union-attr]
        return Simulation(self.workers, self.policy, tuple(stops), self.now, self.trained, self.wasted, self.idle, full)

    def _settle(self) -> None:
        """Stop the trials now stopped, and let paused trials whose decision came (or need not wait) go on."""
        for p in list(self.began) + list(self.paused) + list(self.held):
            verdict = self.board.verdict(p)
            if p in self.held and verdict.decision != Decision.WAIT:
                self.held.discard(p)
            if verdict.decision == Decision.STOP:
                seconds = self.curves[p].seconds
                self.wasted += float(seconds[verdict.rung:self.done[p]].sum())  # type: ignore[index]
                if p in self.began:  # its epoch in flight is cut short
                    partial = self.now - self.began.pop(p)
                    self.wasted += partial
                    self.trained += partial
                if p in self.paused:
                    self._unpause(p)
            elif p in self.paused and (self.policy == "speculate" or verdict.decision == Decision.CONTINUE):
                self._unpause(p)
                self._start_epoch(p)

    def _unpause(self, p: int) -> None:
        self.idle += self.now - self.paused.pop(p)

    def _fill(self) -> None:
        while len(self.began) + len(self.paused) < self.workers and self.next < len(self.curves):
            p, self.next = self.next, self.next + 1
            if self.curves[p].epochs == 0:
                self.board.ended(p, 0, self.curves[p].outcome)  # type: ignore[arg-type]
                self._settle()
            else:
                self._start_epoch(p)

    def _start_epoch(self, p: int) -> None:
        self.began[p] = self.now
        seconds = self.curves[p].seconds
        heapq.heappush(self.events, (self.now + float(seconds[self.done[p]]), p))  # type: ignore[index]
