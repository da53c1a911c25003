"""Early termination while a sweep runs: the decisions of a one-worker run in trial-index order, at any concurrency.

The driver holds the sweep's :class:`analysis.RungBoard` (the same engine the what-if replays) and feeds it
each trial's epochs as its bundle reports them. A trial whose decision at a rung waits on earlier trials
trains on; once the board stops it, the driver tells its worker through :class:`StopSignals` (a Ray
actor the workers ask after each epoch from the first rung on), and the trial records its scores as of
that rung (:class:`~experiments.results.RungScore`, which the worker computed there). A trial that ends
by itself while its decision still waits is held, unrecorded, until the board decides it: so what is
recorded never depends on which trial reported first. A resumed driver rebuilds the board from the
ledger's final trials; the others run again and, training being deterministic, report the same epochs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from experiments.results import EpochMetrics
from searchsvc.run.protocol import FinalReport
from searchsvc.status import TrialStatus
from searchsvc.stores.records import TrialRecord
from searchsvc.sweep.spec import SweepSpec


class LiveStopping:
    """A running sweep's rung board, the stops it has signalled, and the trials it holds."""

    def __init__(self, spec: SweepSpec, signals: Any = None) -> None:
        from analysis import RungBoard

        self.rule = spec.early_terminate
        self.board = RungBoard(self.rule, max_epochs=spec.training.max_epochs, mode=spec.mode,
                               patience=spec.training.patience)
        self.signals = signals  # a StopSignals actor (None: decisions only, as in tests)
        self.held: dict[int, FinalReport] = {}  # trials that ended while their decision waited
        self._epochs: dict[int, int] = {}  # epochs recorded per trial
        self._signalled: set[int] = set()

    @property
    def rungs(self) -> tuple[int, ...]:
        return self.board.rungs

    def restore(self, trials: Iterable[TrialRecord]) -> None:
        """The final trials of an earlier run of the sweep (a resume), from their recorded epochs."""
        for t in sorted(trials, key=lambda t: t.trial_index):
            if t.status.final:
                values = [e.val_score for e in t.epoch_metrics]
                self.board.record_curve(t.trial_index, values, outcome=_outcome(t.status))
                self._epochs[t.trial_index] = len(values)

    def epochs(self, k: int, epochs: Sequence[EpochMetrics]) -> None:
        """Trial ``k`` reported these epochs (again, after a retry or a re-queue: the board keeps the first)."""
        for e in epochs:
            if e.epoch > self._epochs.get(k, 0):
                self.board.record(k, e.epoch, e.val_score)
                self._epochs[k] = e.epoch

    def ended(self, k: int, report: FinalReport) -> None:
        """Trial ``k`` ended by itself (or, told to, at a rung): the board learns how; it is held until decided."""
        result = report.result
        if result is not None and result.status == TrialStatus.STOPPED:
            self.board.ended(k, result.stop_epoch, "stopped")
        else:
            outcome = "error" if result is None else result.status
            self.board.ended(k, self._epochs.get(k, 0), outcome)
        self.held[k] = report

    def gave_up(self, k: int) -> None:
        """Trial ``k`` will not run again (infra failures): it ended, for the trials after it."""
        self.board.ended(k, self._epochs.get(k, 0), "error")

    def signal_stops(self, running: Iterable[int]) -> None:
        """Tell the workers of running trials that the board has stopped (once each)."""
        from analysis import Decision

        for k in running:
            if k in self._signalled:
                continue
            verdict = self.board.verdict(k)
            if verdict.decision is Decision.STOP:
                self._signalled.add(k)
                if self.signals is not None:
                    self.signals.stop.remote(k, verdict.rung)

    def decided(self) -> list[tuple[int, FinalReport]]:
        """The held trials the board has decided now, each with the final report to record (taken off hold)."""
        from analysis import Decision

        out = []
        for k in sorted(self.held):
            verdict = self.board.verdict(k)
            if verdict.decision is Decision.WAIT:
                continue
            report = self.held.pop(k)
            if verdict.decision is Decision.STOP and report.result is not None \
                    and report.result.status != TrialStatus.STOPPED:
                report = _stopped(report, verdict.rung)
            out.append((k, report))
        return out

    def logged_up_to(self, k: int) -> int | None:
        """The last epoch of trial ``k`` that its recorded curve surely has (None: all): up to the rung whose
        decision waits, or where it stops."""
        from analysis import Decision

        verdict = self.board.verdict(k)
        return None if verdict.decision is Decision.CONTINUE else verdict.rung


def _stopped(report: FinalReport, rung: int) -> FinalReport:
    """A trial that trained on past ``rung`` while its decision waited, recorded as stopped there."""
    from dataclasses import replace

    score = next(r for r in report.rungs if r.epoch == rung)
    return replace(report, result=report.result.stopped_at(score))


def _outcome(status: TrialStatus) -> str:
    return {TrialStatus.OK: "ok", TrialStatus.STOPPED: "stopped", TrialStatus.DIVERGED: "diverged"}.get(status, "error")


def stop_signals() -> Any:
    """A new :class:`StopSignals` actor on the Ray this process uses."""
    import ray

    return ray.remote(num_cpus=0)(StopSignals).remote()


class StopSignals:
    """Which trials the driver has stopped, at which rung: what each worker asks after its epochs (a Ray actor)."""

    def __init__(self) -> None:
        self._stops: dict[int, int] = {}

    def stop(self, k: int, rung: int) -> None:
        self._stops[k] = rung

    def stop_of(self, k: int) -> int | None:
        return self._stops.get(k)


