"""What runs inside a Ray worker: a bundle of trials, each from its index to a reported result.

The job (data set, settings, every trial's params) reaches the worker once through Ray's object
store; the trainable itself only reads ``config["trial_indices"]`` (see :mod:`searchsvc.bundles`).
Each report is a round trip that blocks training, so a trial reports its epochs at most every
``report_every_s`` seconds, and once at its end; that final report also names the bundle's next
trial, which starts right after it.

Failure taxonomy, worker side: an exception from the training code is retried here with the same
config and seed up to ``max_retries`` times, then reported as a result with status ``error`` and its
traceback. Only what is not the config's fault, out of memory or a dead process, ends the bundle as
a Tune failure; the scheduler re-queues its unfinished trials (``infra``).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
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
    report_every_s: float = 10.0


def run_bundle(config: dict[str, Any], *, data: Any, job: TrialJob) -> None:
    """Tune's trainable: run the bundle's trials in order; each ends with one final report."""
    from ray import tune

    indices = [int(k) for k in config["trial_indices"]]
    for position, k in enumerate(indices):
        final = run_trial(k, data, job, tune.report)
        following = indices[position + 1] if position + 1 < len(indices) else None
        tune.report({**final, "trial_index": k, "next_index": following})


def run_trial(k: int, data: Any, job: TrialJob, report: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Train trial ``k`` (retrying code errors); return its final report. Epochs go to ``report`` on the way."""
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.sampling import trial_seed

    pending: list[dict[str, float]] = []
    last_report = time.monotonic()

    def on_epoch(metrics: EpochMetrics) -> None:
        nonlocal last_report
        pending.append(metrics.as_dict())
        if time.monotonic() - last_report >= job.report_every_s:
            report({"trial_index": k, "epochs": pending.copy()})
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
                raise  # the bundle fails; the scheduler re-queues its unfinished trials
            if attempt > job.max_retries:
                return {"epochs": pending, "final": None, "error": traceback.format_exc(), "attempts": attempt}
        else:
            return {"epochs": pending, "final": result.as_dict(), "attempts": attempt}
    raise AssertionError("unreachable: the last attempt returns or raises")


def is_final_report(result: dict[str, Any]) -> bool:
    """Whether a report is a trial's final one (its result or error); epoch reports carry no ``attempts``."""
    return "attempts" in result


def is_infra_failure(error: BaseException) -> bool:
    """Out of memory (host or CUDA) is the machine's limit, not a bad config."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(error)
