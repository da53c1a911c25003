"""Runs a sweep: spec → trial configs → Ray Tune → recorder (ledger + MLflow) → outcome.

Everything that can be wrong with the user's input (spec, data set) is checked before anything is
written, so a refused sweep leaves no row and no run behind.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from searchsvc.errors import SearchSvcError
from searchsvc.ledger import Ledger, SweepRecord, TrialRecord, get_ledger, now
from searchsvc.sampling import trial_params_range
from searchsvc.spec import SweepSpec
from searchsvc.tracking import Tracker, get_tracker

#: GPU share per trial under ``gpus: auto`` when the cluster has GPUs (four small LSTMs per GPU)
AUTO_GPU_SHARE = 0.25
#: how often Tune re-queues a trial whose worker died or ran out of memory before recording it ``infra``
MAX_INFRA_RESTARTS = 10


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: str
    status: str  # completed / cancelled / failed
    counts: Counter[str]
    best: TrialRecord | None
    ledger: str
    tracking_uri: str | None
    parent_run_id: str | None
    wall_seconds: float


def submit(spec: SweepSpec, *, ledger: None | str | Ledger = None, tracker: None | str | Tracker = None,
           address: str | None = None, quiet: bool = False, track: bool = True) -> SweepOutcome:
    """Run every trial of ``spec`` and return the outcome. ``track=False`` skips MLflow (benchmarks)."""
    from experiments.datasets import load_dataset

    started = time.monotonic()
    data = load_dataset(spec.dataset)  # a broken user data set stops here, before any write
    params = trial_params_range(spec.space, spec.strategy, spec.seed, 0, spec.trials, spec.grid_points)
    ledger = get_ledger(ledger)
    tracker = get_tracker(tracker) if track else None
    cluster = _start_ray(address)

    sweep_id = f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    spec_json = spec.model_dump(mode="json")
    parent_run_id = None
    if tracker:
        try:
            parent_run_id = tracker.start_sweep(spec.name, sweep_id, _sweep_params(spec), spec_json)
        except Exception as e:
            raise SearchSvcError(f"MLflow: cannot start the sweep's run at {tracker.tracking_uri}: {e}") from e
    ledger.create_sweep(SweepRecord(sweep_id, spec.name, spec_json, spec.trials, spec.metric, spec.mode, "running",
                                    now(), parent_run_id, tracker.tracking_uri if tracker else None))
    ledger.upsert_trials([TrialRecord(sweep_id, k, p, "pending") for k, p in enumerate(params)])

    status = "failed"
    recorder = None
    try:
        recorder = _run_tune(spec, sweep_id, params, data, ledger, tracker, parent_run_id, cluster, quiet)
        status = "completed"
    except KeyboardInterrupt:
        status = "cancelled"
        raise
    finally:
        if recorder is not None:
            recorder.close()
        ledger.update_sweep(sweep_id, status=status, finished_at=now())
        outcome = _outcome(ledger, sweep_id, status, tracker, parent_run_id, time.monotonic() - started)
        if tracker and parent_run_id:
            _finish_parent(tracker, parent_run_id, spec, outcome)
    return outcome


def _run_tune(spec: SweepSpec, sweep_id: str, params: list[dict[str, object]], data: Any, ledger: Ledger,
              tracker: Tracker | None, parent_run_id: str | None, cluster: dict[str, float], quiet: bool) -> Any:
    from ray import tune

    from searchsvc.home import ray_dir
    from searchsvc.progress import Progress
    from searchsvc.recorder import TrialRecorder
    from searchsvc.worker import TrialJob, run_trial

    gpus = spec.resources.gpus
    if gpus == "auto":
        gpus = AUTO_GPU_SHARE if cluster.get("GPU", 0) > 0 else 0.0
    cpus = spec.resources.cpus
    concurrent = spec.max_concurrent
    if concurrent == "auto":
        concurrent = max(1, int(cluster.get("CPU", 1) // cpus))
    job = TrialJob(spec.seed, tuple(params), 0, spec.training, spec.metric, max(1, int(cpus)),
                   "cuda" if gpus > 0 else "cpu", spec.max_retries)

    recorder = TrialRecorder(ledger, tracker, sweep_id, parent_run_id, dict(enumerate(params)), spec.metric)
    progress = None if quiet else Progress(recorder, spec.trials, spec.metric, spec.mode)
    callbacks: list[Any] = [recorder] + ([progress] if progress else [])
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(run_trial, data=data, job=job), {"cpu": cpus, "gpu": gpus}),
        param_space={"trial_index": tune.grid_search(list(range(spec.trials)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=concurrent, reuse_actors=True),
        run_config=tune.RunConfig(
            name=sweep_id,
            storage_path=str(ray_dir()),
            verbose=0,
            callbacks=callbacks,
            failure_config=tune.FailureConfig(max_failures=MAX_INFRA_RESTARTS),
        ),
    )
    try:
        tuner.fit()
    finally:
        if progress:
            progress.close()
    return recorder


def _start_ray(address: str | None) -> dict[str, float]:
    """Start (or join) Ray quietly and return the cluster's resources."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # we record results ourselves
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise SearchSvcError(f"Ray: cannot start or reach a cluster at {address or 'local'}: {e}") from e
    return ray.cluster_resources()


def _sweep_params(spec: SweepSpec) -> dict[str, object]:
    return {"trials": spec.trials, "seed": spec.seed, "strategy": spec.strategy, "dataset": spec.dataset.name,
            "metric": spec.metric, "mode": spec.mode, "max_epochs": spec.training.max_epochs,
            "patience": spec.training.patience, "searched": ",".join(spec.space)}


def _outcome(ledger: Ledger, sweep_id: str, status: str, tracker: Tracker | None, parent_run_id: str | None,
             wall: float) -> SweepOutcome:
    trials = ledger.trials(sweep_id)
    mode = ledger.sweep(sweep_id).mode
    scored = [t for t in trials if t.status == "ok" and t.val_score is not None]
    sign = 1 if mode == "max" else -1
    best = max(scored, key=lambda t: sign * t.val_score) if scored else None
    return SweepOutcome(sweep_id, status, Counter(t.status for t in trials), best, repr(ledger),
                        tracker.tracking_uri if tracker else None, parent_run_id, wall)


def _finish_parent(tracker: Tracker, run_id: str, spec: SweepSpec, outcome: SweepOutcome) -> None:
    rows = [(f"trials_{status}", n, 0) for status, n in outcome.counts.items()]
    if outcome.best is not None:
        rows += [(f"best_val_{spec.metric}", outcome.best.val_score, 0)]
        if outcome.best.test_score is not None:
            rows += [(f"best_trial_test_{spec.metric}", outcome.best.test_score, 0)]
    tracker.log_metrics(run_id, rows)
    tags = {"searchsvc.status": outcome.status}
    if outcome.best is not None:
        tags["searchsvc.best_trial"] = str(outcome.best.trial_index)
    tracker.finish(run_id, {"completed": "FINISHED", "cancelled": "KILLED"}.get(outcome.status, "FAILED"), tags)
