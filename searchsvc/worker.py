"""What runs inside a Ray worker: one trial, from its index to a reported result.

The job (data set, settings, every trial's params) reaches the worker once through Ray's object
store; the trainable itself only reads ``config["trial_index"]``. Per-epoch metrics are reported to
the driver at most every ``report_every_s`` seconds (each report is a round trip), and always at the end.

Failure taxonomy, worker side: an exception from the training code is retried here with the same
config and seed up to ``max_retries`` times, then reported as a result with status ``error`` and its
traceback. Only what is not the config's fault — out of memory, a dead process — reaches Ray Tune as
a failure, which re-queues the trial (``infra``).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

from experiments.results import EpochMetrics
from experiments.settings import TrainingSettings


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs besides the trial index, shared by all trials of a sweep."""

    sweep_seed: int
    params: dict[int, dict[str, object]]  # by trial index
    training: TrainingSettings
    metric: str
    threads: int
    device: str
    max_retries: int = 2
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

    for attempt in range(1, job.max_retries + 2):
        pending.clear()
        try:
            result = train_trial(
                LSTMConfig.from_params(job.params[k]),
                data,
                job.training,
                job.metric,
                trial_seed(job.sweep_seed, k),
                threads=job.threads,
                device=job.device,
                on_epoch=on_epoch,
            )
        except Exception as e:
            if is_infra_failure(e):
                raise  # Tune re-queues the trial
            if attempt > job.max_retries:
                tune.report({"epochs": pending, "final": None, "error": traceback.format_exc(), "attempts": attempt})
                return
        else:
            tune.report({"epochs": pending, "final": result.as_dict(), "attempts": attempt})
            return


def is_infra_failure(error: BaseException) -> bool:
    """Out of memory (host or CUDA) is the machine's limit, not a bad config."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(error)
