"""The ledger's records: a sweep, a trial and the node it ran on, as typed values (no SQL here).

What :class:`~searchsvc.stores.ledger.Ledger` returns and takes; the Ray worker builds :class:`Node` too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from experiments.results import EpochMetrics, TrialResult
from searchsvc.status import SweepStatus, TrialStatus

if TYPE_CHECKING:
    from searchsvc.sweep.spec import SweepSpec


@dataclass(frozen=True)
class Node:
    """Where a trial ran: the Ray node's id and the host's name."""

    node_id: str | None
    host: str


@dataclass(frozen=True)
class SweepRecord:
    """A sweep as the ledger holds it, read at one moment of the database's clock. Its spec is validated when
    first asked for: a command that shows counts and scores needs none."""

    sweep_id: str
    document: dict[str, Any]  # the normalized spec as stored: ``SweepSpec.model_dump(mode="json")``
    metric: str
    mode: str
    status: SweepStatus
    created_at: dt.datetime
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    finished_at: dt.datetime | None = None
    driver: str | None = None  # who holds (or last held) its lease
    heartbeat_at: dt.datetime | None = None
    lease_left_s: float | None = None  # seconds its lease had left when read (<= 0: expired); None: no lease
    cancel_requested: bool = False  # a cancel request waits for the lease's holder
    job_id: str | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SweepStatus(self.status))

    @cached_property
    def spec(self) -> SweepSpec:
        from searchsvc.sweep.spec import SweepSpec

        return SweepSpec.model_validate(self.document)

    @property
    def name(self) -> str:
        return self.document["name"]

    @property
    def trials(self) -> int:
        return self.document["trials"]

    @property
    def leased(self) -> bool:
        """Someone holds its lease right now: a driver runs it."""
        return self.lease_left_s is not None and self.lease_left_s > 0


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the ledger holds it. ``result`` is what training returned (ok and diverged trials)."""

    sweep_id: str
    trial_index: int
    config: dict[str, Any]
    status: TrialStatus
    attempts: int = 0
    result: TrialResult | None = None
    epoch_metrics: tuple[EpochMetrics, ...] = ()
    message: str | None = None  # why it diverged, the traceback of an error, why it was re-queued
    node: Node | None = None
    mlflow_run_id: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", TrialStatus(self.status))

    @property
    def val_score(self) -> float | None:
        return self.result.val_score if self.result else None

    @property
    def test_score(self) -> float | None:
        return self.result.test_score if self.result else None


def best_trial(trials: Sequence[TrialRecord], mode: str) -> TrialRecord | None:
    """The ok trial with the best validation score (``mode`` max or min); the lowest index among ties."""
    scored = [t for t in trials if t.status.scored and t.val_score is not None]
    sign = 1 if mode == "max" else -1
    return max(scored, key=lambda t: (sign * t.val_score, -t.trial_index)) if scored else None


def now() -> dt.datetime:
    """This machine's time, for the times a record shows (a trial's start and end); never for a lease."""
    return dt.datetime.now(dt.timezone.utc)
