"""The one engine of early termination: a board of rung results that decides as one worker would.

The reference run is the sweep with one worker in trial-index order: trial k starts after trials
0…k−1 have ended or been stopped, and at each rung it reaches the rule (:mod:`analysis.stopping`)
judges it against what those trials left there. :class:`RungBoard` gives the same decisions however
the results arrive: the live driver feeds it epochs as bundles report them, in any order and from
any number of workers; the what-if (:mod:`analysis.replay`) feeds it recorded curves one trial after
another; a resumed driver feeds it the curves of the trials already finished.

Trial k's decision at a rung is taken once every earlier trial is *resolved* there: it trained to
the rung (its value there is known and so is each of its own earlier decisions), or it will never
train to it (it ended before the rung, or was stopped at an earlier one). Until then the decision
is ``WAIT``; the trial may train on meanwhile, and what it recorded after the rung is ignored if it
is stopped there. Trial 0 never waits, and a trial waits only on earlier ones, so as long as waiting
trials train on (or earlier trials are run first) no sweep deadlocks.

A decision to stop at the epoch where a trial ends by itself (``patience``: no better validation
score for ``patience`` epochs, the trainable's rule) is void: nothing would be saved, and the trial
keeps its own result and status. Every other trial sees the same thing either way.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from analysis.errors import UsageError
from analysis.stopping import Decision, Rule, parse_rule

#: how a trial ended: by itself (max_epochs or patience), by a NaN/inf loss, by an error, or stopped
#: at a rung (a fact from the ledger, for a resumed driver)
Outcome = Literal["ok", "diverged", "error", "stopped"]
OUTCOMES = ("ok", "diverged", "error", "stopped")
_UNKNOWN = object()


@dataclass(frozen=True)
class Verdict:
    """A trial's fate as far as it is known.

    ``CONTINUE``: no rung it reached stops it (for a trial that ended: its own result stands).
    ``WAIT``: its decision at ``rung`` waits for earlier trials (an ended trial's result is held).
    ``STOP``: it is stopped at ``rung``; it records ``value``, its best validation score up to the
    rung (the metric's own scale), reached first at ``best_epoch``.
    """

    decision: Decision
    rung: int | None = None
    value: float | None = None
    best_epoch: int | None = None


@dataclass
class _Trial:
    raw: list[float] = field(default_factory=list)  # the recorded validation scores, epoch 1…
    best: list[float] = field(default_factory=list)  # oriented best score up to each epoch
    best_epoch: list[int] = field(default_factory=list)  # the first epoch reaching it
    keeps: list[bool] = field(default_factory=list)  # the rule's decisions at rungs 0, 1, … so far
    first_stop: int | None = None  # the index of the first rung whose decision is "stop"
    end: int | None = None  # the last epoch it trained, once it ended
    outcome: Outcome | None = None


class RungBoard:
    """Rung results of a sweep under ``rule`` (module docstring), for ``max_epochs`` and ``mode``.

    ``patience`` is the trainable's (``training.patience``; ``None`` for none): with it the board
    knows, from a trial's curve, the epoch where the trial ends by itself, and voids a stop there
    before the trial's end is reported.
    """

    def __init__(self, rule: Rule, *, max_epochs: int, mode: str, patience: int | None = None) -> None:
        if mode not in ("max", "min"):
            raise UsageError(f"mode must be 'max' or 'min' (the direction of the score), got {mode!r}.")
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
            raise UsageError(f"patience must be None or an integer ≥ 1 (the trainable's), got {patience!r}.")
        self.rule = parse_rule(rule, max_epochs=max_epochs)
        self.max_epochs, self.mode, self.patience = max_epochs, mode, patience
        self.rungs = self.rule.rungs(max_epochs)
        self._index = {r: i for i, r in enumerate(self.rungs)}
        self._sign = 1.0 if mode == "max" else -1.0
        self._trials: dict[int, _Trial] = {}
        self._frontier = [0] * len(self.rungs)  # per rung: the first trial not yet resolved there
        self._population: list[list[float]] = [[] for _ in self.rungs]  # sorted values of the trials before it

    # --- what the driver reports ----------------------------------------------------------------

    def record(self, k: int, epoch: int, value: float) -> bool:
        """Trial ``k`` finished ``epoch`` (1-based, in order) with validation score ``value``.

        An epoch recorded again (a retried or resumed trial) keeps the first value, on which decisions
        may rest already; returns False when the new value differs from it, True otherwise. Epochs
        reported after a trial's stop are ignored. Raises ``UsageError`` for a gap in the epochs, an
        epoch beyond ``max_epochs``, a non-finite value, or an epoch after a trial's reported end.
        """
        new, same = self._append(k, epoch, value)
        if new:
            self._advance()
        return same

    def _append(self, k: int, epoch: int, value: float) -> tuple[bool, bool]:
        """Record without deciding: (whether the epoch is new, whether it agrees with one recorded before)."""
        _check_index(k)
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.max_epochs:
            raise UsageError(f"record(): epoch must be an integer in 1..{self.max_epochs} (max_epochs); got {epoch!r}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"record(): trial {k} epoch {epoch}: the validation score must be a finite number; got "
                             f"{value!r}. A diverged epoch is not recorded: report the trial's end as 'diverged'.")
        t = self._trials.setdefault(k, _Trial())
        if epoch <= len(t.raw):
            return False, t.raw[epoch - 1] == value
        if t.outcome == "stopped":
            return False, True
        if t.end is not None:
            raise UsageError(f"record(): trial {k} ended after epoch {t.end} ({t.outcome}); it cannot record epoch {epoch}.")
        if epoch != len(t.raw) + 1:
            raise UsageError(f"record(): trial {k} recorded epochs 1..{len(t.raw)}; epoch {epoch} leaves a gap. "
                             "Record each epoch in order.")
        oriented = self._sign * float(value)
        improved = not t.best or oriented > t.best[-1]
        t.raw.append(float(value))
        t.best.append(oriented if improved else t.best[-1])
        t.best_epoch.append(epoch if improved else t.best_epoch[-1])
        return True, True

    def ended(self, k: int, last_epoch: int, outcome: Outcome = "ok") -> None:
        """Trial ``k`` ended after ``last_epoch`` epochs (its recorded epochs; 0 when none finished).

        ``outcome``: ``ok`` (max_epochs or patience), ``diverged``, ``error`` (retries spent), or
        ``stopped`` (the ledger's record of a stop at the rung ``last_epoch``, for a resumed driver;
        the epochs up to it must be recorded). Reporting the same end again is harmless; a different
        one raises ``UsageError``.
        """
        _check_index(k)
        if outcome not in OUTCOMES:
            raise UsageError(f"ended(): outcome must be one of {', '.join(OUTCOMES)}; got {outcome!r}.")
        t = self._trials.setdefault(k, _Trial())
        if t.end is not None:
            if (t.end, t.outcome) != (last_epoch, outcome):
                raise UsageError(f"ended(): trial {k} already ended after epoch {t.end} ({t.outcome}); "
                                 f"got epoch {last_epoch} ({outcome}).")
            return
        if outcome == "stopped":
            if last_epoch not in self._index or last_epoch > len(t.raw):
                raise UsageError(f"ended(): a stopped trial stops at a rung ({', '.join(map(str, self.rungs))}) whose "
                                 f"epochs are recorded; trial {k} has {len(t.raw)} epochs, got {last_epoch}.")
        elif last_epoch != len(t.raw) or (outcome == "ok" and last_epoch == 0):
            raise UsageError(f"ended(): trial {k} recorded {len(t.raw)} epochs; its end must be after the last of them "
                             f"(and an 'ok' trial needs one), got {last_epoch} ({outcome}).")
        t.end, t.outcome = last_epoch, outcome
        self._advance()

    def record_curve(self, k: int, values: Iterable[float], *, outcome: Outcome | None = None) -> None:
        """Record trial ``k``'s epochs 1, 2, … at once, then its end when ``outcome`` is given
        (``stopped``: at its last epoch, which must be a rung)."""
        for epoch, value in enumerate(values, start=1):
            self._append(k, epoch, float(value))  # decided once, below: the same decisions, fewer passes
        if outcome is not None:
            self.ended(k, len(self._trials.setdefault(k, _Trial()).raw), outcome)
        else:
            self._advance()

    # --- what the driver asks -------------------------------------------------------------------

    def verdict(self, k: int) -> Verdict:
        """Trial ``k``'s fate from what it recorded so far (see :class:`Verdict`)."""
        t = self._trials.get(k)
        if t is None:
            return Verdict(Decision.CONTINUE)
        if t.outcome == "stopped":
            return self._stop(t, t.end)  # type: ignore[arg-type]
        reach = len(t.raw) if t.end is None else t.end
        for i, rung in enumerate(self.rungs):
            if rung > reach:
                break
            if i >= len(t.keeps):
                return Verdict(Decision.WAIT, rung)
            if not t.keeps[i]:
                return Verdict(Decision.CONTINUE) if self._ends_at(t, rung) else self._stop(t, rung)
        return Verdict(Decision.CONTINUE)

    def decision(self, k: int, rung: int) -> Decision:
        """The rule's decision for trial ``k`` at ``rung``; ``WAIT`` until it can be taken.

        Raises ``UsageError`` when ``rung`` is not a rung of the rule, or trial ``k`` never trains to
        it (it ended before it, or stopped at an earlier rung).
        """
        if rung not in self._index:
            raise UsageError(f"decision(): {rung} is not a rung of {self.rule}; its rungs: {', '.join(map(str, self.rungs))}.")
        i, t = self._index[rung], self._trials.get(k, _Trial())
        if i < len(t.keeps):
            return Decision.CONTINUE if t.keeps[i] or self._ends_at(t, rung) else Decision.STOP
        if t.first_stop is not None or (t.end is not None and t.end < rung):
            raise UsageError(f"decision(): trial {k} never trains to rung {rung}: {self.verdict(k)}.")
        return Decision.WAIT

    # --- the engine -----------------------------------------------------------------------------

    def _stop(self, t: _Trial, rung: int) -> Verdict:
        return Verdict(Decision.STOP, rung, self._sign * t.best[rung - 1], t.best_epoch[rung - 1])

    def _ends_at(self, t: _Trial, epoch: int) -> bool:
        """Whether the trial ends by itself at ``epoch``: reported so, or foreseen by ``patience``."""
        if t.end is not None:
            return t.outcome == "ok" and t.end == epoch
        if self.patience is None or len(t.raw) != epoch:
            return False
        since = epoch - t.best_epoch[epoch - 1]
        return since > 0 and since >= self.patience

    def _advance(self) -> None:
        """Move each rung's frontier past every trial resolved there, deciding trials as it passes them."""
        for i in range(len(self.rungs)):
            k, population = self._frontier[i], self._population[i]
            while (standing := self._standing(k, i)) is not _UNKNOWN:
                if standing is not None:
                    insort(population, standing)  # type: ignore[arg-type]
                k += 1
            self._frontier[i] = k

    def _standing(self, k: int, i: int) -> float | None | object:
        """Trial k's value in rung i's population (None: it has none), deciding k there if it trained
        to the rung; ``_UNKNOWN`` while that cannot be told yet."""
        t = self._trials.get(k)
        if t is None:
            return _UNKNOWN
        carry, rung = self.rule.carry_forward, self.rungs[i]
        if t.first_stop is not None and t.first_stop < i:  # stopped (or ended by itself) at an earlier rung
            return t.best[self.rungs[t.first_stop] - 1] if carry else None
        reach = len(t.raw) if t.end is None else t.end
        if reach >= rung:
            if len(t.keeps) < i:
                return _UNKNOWN  # its own decision at an earlier rung waits
            value = t.best[rung - 1]
            t.keeps.append(self.rule.keeps(value, self._population[i]))
            if not t.keeps[-1]:
                t.first_stop = i
            return value
        if t.end is None:
            return _UNKNOWN  # still training towards the rung
        if not carry:
            return None
        if len(t.keeps) < bisect_right(self.rungs, t.end):
            return _UNKNOWN  # whether it was stopped before its end is not known yet
        if t.outcome == "diverged":
            return -math.inf
        return None if t.outcome == "error" or t.end == 0 else t.best[t.end - 1]


def _check_index(k: object) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise UsageError(f"trial index must be an integer ≥ 0, got {k!r}.")
