"""What runs inside a Ray worker: one trial, from its index to a reported result.

The job (data set, settings, every trial's params) reaches the worker once through Ray's object
store; the trainable itself only reads ``config["trial_index"]``. Per-epoch metrics are reported to
the driver at most every ``report_every_s`` seconds (each report is a round trip), and always at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from experiments.results import EpochMetrics
from experiments.settings import TrainingSettings


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs besides the trial index, shared by all trials of a sweep."""

    sweep_seed: int
    params: tuple[dict[str, object], ...]  # indexed by trial index − first_index
    first_index: int
    training: TrainingSettings
    metric: str
    threads: int
    device: str
    report_every_s: float = 2.0


def run_trial(config: dict[str, Any], *, data: Any, job: TrialJob) -> None:
    from ray import tune

    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.sampling import trial_seed

    k = int(config["trial_index"])
    pending: list[dict[str, float]] = []
    last_report = time.monotonic()

    def on_epoch(metrics: EpochMetrics) -> None:
        nonlocal last_report
        pending.append(metrics.as_dict())
        if time.monotonic() - last_report >= job.report_every_s:
            tune.report({"epochs": pending.copy(), "final": None})
            pending.clear()
            last_report = time.monotonic()

    result = train_trial(
        LSTMConfig.from_params(job.params[k - job.first_index]),
        data,
        job.training,
        job.metric,
        trial_seed(job.sweep_seed, k),
        threads=job.threads,
        device=job.device,
        on_epoch=on_epoch,
    )
    tune.report({"epochs": pending, "final": result.as_dict()})
