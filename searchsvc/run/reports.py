"""What a trial reports across Ray, from the worker that trains it to the driver that records it.

Both sides import this module: the worker (:mod:`searchsvc.run.worker`) makes the reports, the driver's
scheduler, recorder and progress line read them. A report stays typed from the worker to the writes
of the ledger and MLflow; Tune only carries it, as the one value of its result dict (:func:`to_tune`,
:func:`from_tune`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from experiments.results import EpochMetrics, TrialResult

_KEY = "searchsvc_report"


@dataclass(frozen=True)
class Node:
    """Where a trial ran: the Ray node's id and the host's name."""

    node_id: str | None
    host: str


@dataclass(frozen=True)
class EpochReport:
    """Epochs of a running trial, sent at most every ``report_every_s`` so the dashboard shows them on the way."""

    trial_index: int
    epochs: tuple[EpochMetrics, ...]


@dataclass(frozen=True)
class FinalReport:
    """A trial's end: its result, or the traceback of its last attempt; the epochs not yet reported; and the
    next trial of its bundle, which starts right after it (``None`` at the bundle's end)."""

    trial_index: int
    attempts: int  # in-process attempts of this start (retries of code errors included)
    epochs: tuple[EpochMetrics, ...]
    result: TrialResult | None  # None: every attempt raised
    error: str | None  # the last attempt's traceback when ``result`` is None
    node: Node
    next_index: int | None = None


Report = EpochReport | FinalReport


def to_tune(report: Report) -> dict[str, Any]:
    return {_KEY: report}


def from_tune(result: dict[str, Any]) -> Report:
    return result[_KEY]


def is_final(result: dict[str, Any]) -> bool:
    """Whether a Tune result carries a trial's final report."""
    return isinstance(result.get(_KEY), FinalReport)
