"""What runs inside a Ray worker: a bundle of trials, each from its index to a reported result.

The data set and the sweep's settings reach the worker once through Ray's object store; each Tune
trial's config is a :class:`~searchsvc.run.protocol.Bundle`: the trials to run and the GPU share they
get (see :mod:`searchsvc.run.bundles`). A trial's config is the one recorded for it, if it ran before,
else computed from the spec, as the driver computes it: a pure function of (seed, k).
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
from dataclasses import dataclass, replace
from typing import Any

from experiments.results import EpochMetrics, RungScore
from searchsvc.run.protocol import Bundle, EpochReport, FinalReport, Report, to_tune
from searchsvc.stores.records import Node
from searchsvc.sweep.spec import SweepSpec


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs besides its bundle, shared by all trials of a sweep."""

    spec: SweepSpec
    threads: int
    device: str = "cpu"  # each bundle's own: cuda where Tune gave it a GPU share
    report_every_s: float = 10.0
    stop_signals: Any = None  # under early termination: the driver's StopSignals actor (searchsvc.run.stopping)


def run_bundle(config: dict[str, Any], *, data: Any, settings: WorkerSettings) -> None:
    """Tune's trainable: run the bundle's trials in order; each ends with one final report."""
    from ray import tune

    bundle = Bundle.from_tune(config)
    settings = replace(settings, device="cuda" if bundle.gpus > 0 else "cpu")
    node = this_node()
    reporter = Reporter(lambda report: tune.report(to_tune(report)))
    indices = bundle.trial_indices
    try:
        for position, k in enumerate(indices):
            following = indices[position + 1] if position + 1 < len(indices) else None
            trial_config = bundle.configs.get(k) or settings.spec.config(k)
            reporter(replace(run_trial(k, trial_config, data, settings, reporter, node), next_index=following))
    finally:
        reporter.close()  # every result reaches Tune before the bundle ends, even when it ends in an error


def this_node() -> Node:
    """This worker's Ray node and host."""
    import socket

    import ray

    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    return Node(node_id, socket.gethostname())


class Reporter:
    """Hands reports to ``report`` in order, from a thread of its own, so the caller does not wait.
    What ``report`` raises (Tune stopping the trial raises ``SystemExit``) is raised to the caller at
    its next call or at ``close``."""

    def __init__(self, report: Callable[[Report], None]) -> None:
        self._report = report
        self._queue: queue.Queue[Report | None] = queue.Queue()
        self._raised: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="searchsvc-reporter", daemon=True)
        self._thread.start()

    def __call__(self, report: Report) -> None:
        self._check()
        self._queue.put(report)

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
        while (report := self._queue.get()) is not None:
            if self._raised is None:
                try:
                    self._report(report)
                except BaseException as e:  # noqa: BLE001 - raised again on the caller's thread
                    self._raised = e


def run_trial(k: int, config: dict[str, object], data: Any, settings: WorkerSettings,
              report: Callable[[Report], None], node: Node) -> FinalReport:
    """Train trial ``k`` (retrying code errors); return its final report. Epochs go to ``report`` on the way."""
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.sweep.sampling import trial_seed

    pending: list[EpochMetrics] = []
    last_report = time.monotonic()
    spec = settings.spec
    rule = spec.early_terminate
    rungs = rule.rungs(spec.training.max_epochs) if rule is not None else ()
    reached: list[RungScore] = []

    def on_epoch(metrics: EpochMetrics) -> None:
        nonlocal last_report
        pending.append(metrics)
        if metrics.epoch in rungs or time.monotonic() - last_report >= settings.report_every_s:
            report(EpochReport(k, tuple(pending)))  # at a rung at once: the driver's board decides there
            pending.clear()
            last_report = time.monotonic()

    def stop(epoch: int) -> int | None:
        """The rung where the driver stopped this trial, asked after each epoch from the first rung on."""
        import ray

        return ray.get(settings.stop_signals.stop_of.remote(k)) if epoch >= rungs[0] else None

    for attempt in range(1, spec.max_retries + 2):
        pending.clear()
        reached.clear()
        try:
            result = train_trial(
                LSTMConfig.from_params(config),
                data,
                spec.training,
                spec.metric,
                trial_seed(spec.seed, k),
                threads=settings.threads,
                device=settings.device,
                on_epoch=on_epoch,
                rungs=rungs,
                on_rung=reached.append,
                stop=stop if rungs and settings.stop_signals is not None else None,
            )
        except Exception as e:
            if is_infra_failure(e):
                raise  # the bundle fails; the scheduler re-queues its unfinished trials
            if attempt > spec.max_retries:
                return FinalReport(k, attempt, tuple(pending), None, traceback.format_exc(), node, rungs=tuple(reached))
        else:
            return FinalReport(k, attempt, tuple(pending), result, None, node, rungs=tuple(reached))
    raise AssertionError("unreachable: the last attempt returns or raises")


def is_infra_failure(error: BaseException) -> bool:
    """Out of memory (host or CUDA) is the machine's limit, not a bad config."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(error)
