"""Runs a sweep: spec → trial configs → Ray Tune → recorder (ledger + MLflow) → outcome.

Everything that can be wrong with the user's input (spec, data set) is checked before anything is
written, so a refused sweep leaves no row and no run behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from searchsvc.errors import SearchSvcError, UsageError
from searchsvc.ledger import FINAL_STATUSES, Ledger, SweepRecord, TrialRecord, best_trial, get_ledger, now
from searchsvc.reconcile import driver_alive, reconcile, this_driver
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
    metric: str
    status: str  # completed / cancelled / failed
    counts: Counter[str]
    best: TrialRecord | None
    ledger: str
    tracking_uri: str | None
    parent_run_id: str | None
    wall_seconds: float
    bundles: int = 0  # Ray Tune trials that ran the trials (searchsvc.bundles)
    recording_cpu_seconds: float = 0.0  # CPU time spent writing the ledger and MLflow while trials ran


def submit(spec: SweepSpec, *, ledger: None | str | Ledger = None, tracker: None | str | Tracker = None,
           address: str | None = None, quiet: bool = False, track: bool = True) -> SweepOutcome:
    """Start a new sweep, run every trial of ``spec``, return the outcome. ``track=False`` skips MLflow."""
    started = time.monotonic()
    data = _load_data(spec)  # a broken user data set stops here, before any write
    params = trial_params_range(spec.space, spec.strategy, spec.seed, 0, spec.trials, spec.grid_points)
    # a trial that cannot fit on the embedded Ray stops here, before any write
    placement = _placement(spec, _start_ray(address), embedded=address is None)
    ledger = get_ledger(ledger)
    tracker = get_tracker(tracker) if track else None

    sweep_id = f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    spec_json = spec.model_dump(mode="json")
    parent_run_id = None
    if tracker:
        try:
            parent_run_id = tracker.start_sweep(spec.name, sweep_id, _sweep_params(spec), spec_json)
        except Exception as e:
            raise SearchSvcError(f"MLflow: cannot start the sweep's run at {tracker.tracking_uri}: {e}") from e
    ledger.create_sweep(SweepRecord(sweep_id, spec.name, spec_json, spec.trials, spec.metric, spec.mode, "running",
                                    now(), parent_run_id, tracker.tracking_uri if tracker else None,
                                    driver=this_driver()))
    ledger.upsert_trials([TrialRecord(sweep_id, k, p, "pending") for k, p in enumerate(params)])
    return _execute(spec, ledger.sweep(sweep_id), range(spec.trials), data, ledger, tracker, placement, quiet, started)


def resume(sweep_id: str, *, ledger: None | str | Ledger = None, address: str | None = None,
           quiet: bool = False) -> SweepOutcome:
    """Finish a sweep whose driver died or was cancelled: run every trial that has no final result,
    with its recorded config, in its existing MLflow run."""
    started = time.monotonic()
    ledger, sweep, spec, tracker = _open(sweep_id, ledger)
    todo = [t.trial_index for t in ledger.trials(sweep.sweep_id) if t.status not in FINAL_STATUSES]
    return _continue(spec, sweep, todo, ledger, tracker, address, quiet, started)


def extend(sweep_id: str, trials: int, *, ledger: None | str | Ledger = None, address: str | None = None,
           quiet: bool = False) -> SweepOutcome:
    """Add trials S..S+N-1: the configs a sweep of S+N trials would have had."""
    started = time.monotonic()
    ledger, sweep, spec, tracker = _open(sweep_id, ledger)
    bigger = spec.model_copy(update={"trials": spec.trials + trials})
    if spec.strategy == "grid":
        bigger = SweepSpec.model_validate(bigger.model_dump(mode="json"))  # checks the grid is large enough
    params = trial_params_range(spec.space, spec.strategy, spec.seed, spec.trials, bigger.trials, spec.grid_points)
    ledger.upsert_trials([TrialRecord(sweep.sweep_id, spec.trials + i, p, "pending") for i, p in enumerate(params)])
    ledger.update_sweep(sweep.sweep_id, trials=bigger.trials, spec=bigger.model_dump(mode="json"))
    return _continue(bigger, ledger.sweep(sweep.sweep_id), range(spec.trials, bigger.trials), ledger, tracker,
                     address, quiet, started)


def _open(sweep_id: str, ledger: None | str | Ledger) -> tuple[Ledger, SweepRecord, SweepSpec, Tracker | None]:
    """An existing sweep, reconciled; refused while its driver still runs."""
    ledger = get_ledger(ledger)
    sweep = ledger.sweep(sweep_id)
    tracker = get_tracker(sweep.tracking_uri) if sweep.tracking_uri else None
    sweep = reconcile(ledger, tracker, sweep)
    if driver_alive(sweep):
        raise UsageError(f"sweep {sweep.sweep_id} is still running (driver {sweep.driver}); "
                         f"wait for it or stop it with `searchsvc cancel {sweep.sweep_id}`")
    return ledger, sweep, SweepSpec.model_validate(sweep.spec), tracker


def _continue(spec: SweepSpec, sweep: SweepRecord, indices: Any, ledger: Ledger, tracker: Tracker | None,
              address: str | None, quiet: bool, started: float) -> SweepOutcome:
    data = _load_data(spec)
    placement = _placement(spec, _start_ray(address), embedded=address is None)
    ledger.update_sweep(sweep.sweep_id, status="running", driver=this_driver(), finished_at=None)
    if tracker and sweep.mlflow_run_id:
        tracker.reopen(sweep.mlflow_run_id)
    return _execute(spec, sweep, indices, data, ledger, tracker, placement, quiet, started)


def _execute(spec: SweepSpec, sweep: SweepRecord, indices: Any, data: Any, ledger: Ledger, tracker: Tracker | None,
             placement: Placement, quiet: bool, started: float) -> SweepOutcome:
    """Run the given trials of a recorded sweep; whatever happens, leave every record closed."""
    from searchsvc.bundles import BundleScheduler
    from searchsvc.recorder import TrialRecorder

    records = {t.trial_index: t for t in ledger.trials(sweep.sweep_id)}
    todo = {k: records[k] for k in indices}
    status = "failed"
    scheduler = BundleScheduler(todo, placement.concurrent, None if spec.bundle == "auto" else spec.bundle,
                                MAX_INFRA_RESTARTS)
    recorder = TrialRecorder(ledger, tracker, sweep.sweep_id, sweep.mlflow_run_id, todo, spec.metric,
                             lambda k: k in scheduler.given_up)
    try:
        if todo:
            _run_tune(spec, sweep.sweep_id, data, recorder, scheduler, placement, quiet)
        status = "cancelled" if recorder.cancel_unfinished() else "completed"
    except KeyboardInterrupt:
        status = "cancelled"
        recorder.cancel_unfinished()
    finally:
        recorder.close()
        ledger.update_sweep(sweep.sweep_id, status=status, finished_at=now())
        outcome = replace(_outcome(ledger, sweep.sweep_id, status, tracker, sweep.mlflow_run_id,
                                   time.monotonic() - started),
                          bundles=scheduler.handed_out, recording_cpu_seconds=recorder.writer.cpu_seconds)
        if tracker and sweep.mlflow_run_id:
            _finish_parent(tracker, sweep.mlflow_run_id, spec, outcome)
    return outcome


@dataclass(frozen=True)
class Placement:
    """What one trial asks of the cluster, and how many run at a time."""

    cpus: float
    gpus: float
    concurrent: int


def _placement(spec: SweepSpec, cluster: dict[str, float], embedded: bool = False) -> Placement:
    """``embedded``: the cluster is this machine's and will not grow, so a trial that asks for more than
    it has is refused (on a cluster, an autoscaler may still add the resources)."""
    gpus = spec.resources.gpus
    if gpus == "auto":
        gpus = AUTO_GPU_SHARE if cluster.get("GPU", 0) > 0 else 0.0
    cpus = spec.resources.cpus
    for field, wanted, kind in (("cpus", cpus, "CPU"), ("gpus", gpus, "GPU")):
        if embedded and wanted > cluster.get(kind, 0):
            raise UsageError(f"resources.{field}: each trial asks for {wanted:g} {kind}{'' if wanted == 1 else 's'}, "
                             f"but this machine's Ray has {cluster.get(kind, 0):g}; ask for at most that (gpus: auto "
                             f"uses a GPU where there is one), or give --address of a cluster that has them")
    concurrent = spec.max_concurrent
    if concurrent == "auto":  # as many as the cluster's CPUs, and its GPUs when trials take a GPU share, fit
        concurrent = max(1, int(min(cluster.get("CPU", 1) // cpus,
                                    cluster.get("GPU", 0) // gpus if gpus > 0 else float("inf"))))
    return Placement(cpus, gpus, concurrent)


def _run_tune(spec: SweepSpec, sweep_id: str, data: Any, recorder: Any, scheduler: Any, placement: Placement,
              quiet: bool) -> None:
    from ray import tune

    from searchsvc.home import ray_dir
    from searchsvc.progress import Progress
    from searchsvc.worker import TrialJob, run_bundle

    params = {k: state.record.config for k, state in recorder.trials.items()}
    job = TrialJob(spec.seed, params, spec.training, spec.metric, max(1, int(placement.cpus)),
                   "cuda" if placement.gpus > 0 else "cpu", spec.max_retries)

    progress = None if quiet else Progress(recorder, len(params), spec.metric, spec.mode)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(run_bundle, data=data, job=job),
                            {"cpu": placement.cpus, "gpu": placement.gpus}),
        tune_config=tune.TuneConfig(search_alg=scheduler, num_samples=-1, max_concurrent_trials=placement.concurrent,
                                    reuse_actors=True, trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(
            name=f"{sweep_id}-{secrets.token_hex(2)}",
            storage_path=str(ray_dir()),
            verbose=0,
            callbacks=[recorder] + ([progress] if progress else []),
            failure_config=tune.FailureConfig(max_failures=0),  # the scheduler re-queues (searchsvc.bundles)
        ),
    )
    try:
        tuner.fit()
    finally:
        if progress:
            progress.close()


def _load_data(spec: SweepSpec) -> Any:
    from experiments.datasets import load_dataset
    from searchsvc.home import datasets_dir

    return load_dataset(spec.dataset, datasets_dir())


def _start_ray(address: str | None) -> dict[str, float]:
    """Start (or join) Ray quietly and return the cluster's resources."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # we record results ourselves
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # An embedded Ray starts its workers at nice 15, below the driver and Ray's daemons; trials are the
    # work here, so they run at the priority of everything else (a cluster keeps its own setting).
    os.environ.setdefault("RAY_worker_niceness", "0")
    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise SearchSvcError(f"Ray: cannot start or reach a cluster at {address or 'local'}: {e}") from e
        if address is None:
            _stop_log_monitor()
    return ray.cluster_resources()


def _stop_log_monitor() -> None:
    """The embedded Ray's log monitor streams the workers' output to a driver that shows it; this one does
    not (``log_to_driver=False``), and the monitor polls the log files ten times a second, about 1% of a
    core taken from the trials. Ray has no setting for it, so its process is stopped through Ray's private
    ``Node.kill_log_monitor`` (a Ray without it, or a joined cluster, keeps its monitor)."""
    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    with contextlib.suppress(AttributeError, RuntimeError):
        node.kill_log_monitor(check_alive=False)


def _sweep_params(spec: SweepSpec) -> dict[str, object]:
    return {"trials": spec.trials, "seed": spec.seed, "strategy": spec.strategy, "dataset": spec.dataset.name,
            "metric": spec.metric, "mode": spec.mode, "max_epochs": spec.training.max_epochs,
            "patience": spec.training.patience, "searched": ",".join(spec.space)}


def _outcome(ledger: Ledger, sweep_id: str, status: str, tracker: Tracker | None, parent_run_id: str | None,
             wall: float) -> SweepOutcome:
    trials = ledger.trials(sweep_id)
    sweep = ledger.sweep(sweep_id)
    best = best_trial(trials, sweep.mode)
    return SweepOutcome(sweep_id, sweep.metric, status, Counter(t.status for t in trials), best, repr(ledger),
                        tracker.tracking_uri if tracker else None, parent_run_id, wall)


def _finish_parent(tracker: Tracker, run_id: str, spec: SweepSpec, outcome: SweepOutcome) -> None:
    rows = [(f"trials_{status}", n, 0) for status, n in outcome.counts.items()]
    if outcome.best is not None:
        rows += [(f"best_val_{spec.metric}", outcome.best.val_score, 0)]
        if outcome.best.test_score is not None:
            rows += [(f"best_trial_test_{spec.metric}", outcome.best.test_score, 0)]
    tags = {"searchsvc.status": outcome.status}
    if outcome.best is not None:
        tags["searchsvc.best_trial"] = str(outcome.best.trial_index)
    tracker.log(run_id, rows=rows, tags=tags)
    tracker.end(run_id, {"completed": "FINISHED", "cancelled": "KILLED"}.get(outcome.status, "FAILED"))
