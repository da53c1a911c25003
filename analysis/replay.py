"""Replay a rule on recorded curves: what a live sweep with that rule would have decided.

The trials' full curves (:mod:`analysis.curves`) are fed, one trial after another in trial-index
order, to the same :class:`~analysis.rung_board.RungBoard` a live driver uses; since the board's
decisions do not depend on the order results arrive in, they are the live sweep's (for the same
spec and seed, training being deterministic). This is what Syne Tune's simulated backend does for
its schedulers on tabulated curves, without simulated time: the rule's decisions need no clock.

Under the rule a stopped trial trains to its rung and records its best validation score up to it;
the others train as they did. Compute is the sum of the per-epoch seconds of the epochs trained
(``None`` when the curves carry no seconds). The returned best trial is the best by validation among
the ``ok`` and stopped trials: by recorded score, a stopped trial losing a tie with an ``ok`` one,
then the lowest trial index (a diverged trial is never it beside those).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.curves import Curve
from analysis.errors import DataError
from analysis.rung_board import RungBoard, Verdict
from analysis.stopping import Decision, Rule


@dataclass(frozen=True)
class ReplayedTrial:
    """One trial under the rule, beside how it ran in full."""

    trial_index: int
    status: str  # "stopped", or its own: ok / diverged / error
    stop_epoch: int | None  # the rung it stopped at
    epochs: int  # epochs trained under the rule
    full_epochs: int
    val_score: float | None  # what it records under the rule (None for diverged and error)
    best_epoch: int | None  # the epoch of that score
    seconds: float | None  # compute under the rule, and in full (None without seconds)
    full_seconds: float | None

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"


@dataclass(frozen=True, eq=False)
class Replay:
    """A rule replayed on a sweep's curves: every trial's fate, the compute, the returned best."""

    rule: Rule
    mode: str
    max_epochs: int
    trials: tuple[ReplayedTrial, ...]

    @property
    def stopped(self) -> tuple[ReplayedTrial, ...]:
        return tuple(t for t in self.trials if t.stopped)

    @property
    def epochs(self) -> int:
        return sum(t.epochs for t in self.trials)

    @property
    def full_epochs(self) -> int:
        return sum(t.full_epochs for t in self.trials)

    @property
    def seconds(self) -> float | None:
        return None if self._no_seconds else sum(t.seconds for t in self.trials)  # type: ignore[misc]

    @property
    def full_seconds(self) -> float | None:
        return None if self._no_seconds else sum(t.full_seconds for t in self.trials)  # type: ignore[misc]

    @property
    def best(self) -> ReplayedTrial | None:
        """The best-by-validation trial under the rule (module docstring); None without ok or stopped trials."""
        return best_trial(self.trials, self.mode)

    @property
    def _no_seconds(self) -> bool:
        return any(t.seconds is None for t in self.trials)


def replay_rule(curves: Sequence[Curve], rule: Rule, *, max_epochs: int, mode: str) -> Replay:
    """Feed ``curves`` in trial-index order to a :class:`RungBoard` under ``rule`` (module docstring)."""
    board = RungBoard(rule, max_epochs=max_epochs, mode=mode)
    ordered = sorted(curves, key=lambda c: c.trial_index)
    for position, curve in enumerate(ordered):  # positions: a subset of a sweep replays as its own sweep
        if curve.outcome == "stopped":
            raise DataError(f"Trial {curve.trial_index} was stopped early: its curve is cut at the stop, so a rule "
                            "cannot be replayed on it. Replay a sweep run without early termination.")
        board.record_curve(position, curve.val, outcome=curve.outcome)  # type: ignore[arg-type]
    return Replay(board.rule, mode, max_epochs, tuple(_replayed(c, board.verdict(p), mode) for p, c in enumerate(ordered)))


def best_trial(trials: Sequence[ReplayedTrial], mode: str) -> ReplayedTrial | None:
    """The best by recorded validation score among ok and stopped trials (module docstring)."""
    sign = 1.0 if mode == "max" else -1.0
    scored = [t for t in trials if t.status in ("ok", "stopped")]
    return max(scored, key=lambda t: (sign * t.val_score, t.status == "ok", -t.trial_index), default=None)  # type: ignore[operator]


def _replayed(curve: Curve, verdict: Verdict, mode: str) -> ReplayedTrial:
    seconds = curve.seconds
    full = None if seconds is None else float(seconds.sum())
    if verdict.decision == Decision.STOP:
        spent = None if seconds is None else float(seconds[: verdict.rung].sum())
        return ReplayedTrial(curve.trial_index, "stopped", verdict.rung, verdict.rung, curve.epochs,
                             verdict.value, verdict.best_epoch, spent, full)
    assert verdict.decision == Decision.CONTINUE, verdict  # every trial fed in full: nothing waits
    val = best_epoch = None
    if curve.outcome == "ok":
        best = curve.val.argmax() if mode == "max" else curve.val.argmin()  # the first epoch reaching it
        val, best_epoch = float(curve.val[best]), int(best) + 1
    return ReplayedTrial(curve.trial_index, curve.outcome, None, curve.epochs, curve.epochs, val, best_epoch, full, full)
