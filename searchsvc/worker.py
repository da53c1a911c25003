"""What runs inside a Ray worker: a bundle of trials, each from its index to a reported result.

The job (data set, settings, every trial's params) reaches the worker once through Ray's object
store; the trainable itself only reads ``config["trial_indices"]`` (see :mod:`searchsvc.bundles`).
A trial reports its epochs at most every ``report_every_s`` seconds, and once at its end; that final
report also names the bundle's next trial, which starts right after it. Tune's ``report`` waits
until the driver asks for the next result, so reports go out from a thread of their own
(:class:`Reporter`) and training goes on to its next epoch or trial without waiting for that round
trip (only the bundle's end waits, until every result was taken).

Failure taxonomy, worker side: an exception from the training code is retried here with the same
config and seed up to ``max_retries`` times, then reported as a result with status ``error`` and its
traceback. Only what is not the config's fault, out of memory or a dead process, ends the bundle as
a Tune failure; the scheduler re-queues its unfinished trials (``infra``).
"""

from __future__ import annotations

import queue
import threading
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
    reporter = Reporter(tune.report)
    try:
        for position, k in enumerate(indices):
            final = run_trial(k, data, job, reporter)
            following = indices[position + 1] if position + 1 < len(indices) else None
            reporter({**final, "trial_index": k, "next_index": following})
    finally:
        reporter.close()  # every result reaches Tune before the bundle ends, even when it ends in an error


class Reporter:
    """Hands results to ``report`` in order, from a thread of its own, so the caller does not wait.
    What ``report`` raises (Tune stopping the trial raises ``SystemExit``) is raised to the caller at
    its next call or at ``close``."""

    def __init__(self, report: Callable[[dict[str, Any]], None]) -> None:
        self._report = report
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._raised: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="searchsvc-reporter", daemon=True)
        self._thread.start()

    def __call__(self, result: dict[str, Any]) -> None:
        self._check()
        self._queue.put(result)

    def close(self) -> None:
        """Wait until every result was handed over."""
        self._queue.put(None)
        self._thread.join()
        self._check()

    def _check(self) -> None:
        if self._raised is not None:
            raised, self._raised = self._raised, None
            raise raised

    def _run(self) -> None:
        while (result := self._queue.get()) is not None:
            if self._raised is None:
                try:
                    self._report(result)
                except BaseException as e:  # noqa: BLE001 - raised again on the caller's thread
                    self._raised = e


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
