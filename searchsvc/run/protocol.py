"""What crosses Ray between the driver and a worker: the bundle of trials a worker runs, and what it reports.

Both sides import this module. The driver's searcher (:mod:`searchsvc.run.bundles`) hands out a
:class:`Bundle` as a Ray Tune trial's config; the worker (:mod:`searchsvc.run.worker`) reads it and makes
the reports, which the driver's recorder and progress line read. Both stay typed end to end: Tune only
carries them, each as the one value of its dict (``Bundle.to_tune``/``from_tune``, :func:`to_tune`,
:func:`from_tune`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from experiments.results import EpochMetrics, RungScore, TrialResult

from searchsvc.stores.records import Node

_KEY = "searchsvc_report"
_BUNDLE = "searchsvc_bundle"


@dataclass(frozen=True)
class Bundle:
    """Trials that one worker runs one after the other, with the GPU share each of them gets. ``configs``: the
    recorded configs of those that ran before (a resumed sweep's); the others' are computed from the spec."""

    trial_indices: tuple[int, ...]
    gpus: float = 0.0
    configs: Mapping[int, dict[str, object]] = field(default_factory=dict)

    def to_tune(self) -> dict[str, Any]:
        return {_BUNDLE: self}

    @staticmethod
    def from_tune(config: dict[str, Any]) -> Bundle:
        return config[_BUNDLE]


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
    rungs: tuple[RungScore, ...] = ()  # under early termination: its scores as of each rung it reached


Report = EpochReport | FinalReport


def to_tune(report: Report) -> dict[str, Any]:
    return {_KEY: report}


def from_tune(result: dict[str, Any]) -> Report:
    return result[_KEY]


def is_final(result: dict[str, Any]) -> bool:
    """Whether a Tune result carries a trial's final report."""
    return isinstance(result.get(_KEY), FinalReport)
