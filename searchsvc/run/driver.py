"""Runs a sweep: spec → trial configs → Ray Tune → recorder (ledger + MLflow) → outcome.

Everything that can be wrong with the user's input (spec, data set, stores) is checked before anything
is written, so a refused sweep leaves no row and no run behind. While it runs, the driver beats a
heartbeat into the ledger and stops cleanly on Ctrl-C, SIGTERM (``ray job stop``, ``docker stop``) or
a ``cancel`` request: unfinished trials ``cancelled``, runs KILLED, the sweep resumable.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from searchsvc.run.cluster import Cluster, connect
from searchsvc.errors import SearchSvcError, UsageError
from searchsvc.stores.ledger import Ledger, SweepRecord, TrialRecord, best_trial, get_ledger, now
from searchsvc.stores.lease import Heartbeat, driver_alive, this_driver
from searchsvc.stores.reconcile import reconcile, sync_mlflow
from searchsvc.sweep.sampling import trial_params_range
from searchsvc.sweep.spec import SweepSpec
from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.stores.tracking import Tracker, get_tracker

#: how often Tune re-queues a trial whose worker died or ran out of memory before recording it ``infra``
MAX_INFRA_RESTARTS = 10
#: what a driver submitted through the Jobs API prints once its sweep is recorded (the client waits for it)
ACCEPTED = "searchsvc: accepted sweep"


@dataclass(frozen=True)
class Job:
    """The Ray job a driver runs as, when the sweep was submitted through the Jobs API."""

    job_id: str
    cluster: str  # the Jobs API address it was submitted to


@dataclass(frozen=True)
class Launch:
    """How this run of a driver was started: where its trials run, whether it shows progress, as which job."""

    address: str | None = None  # None: an embedded Ray
    quiet: bool = False
    job: Job | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: str
    metric: str
    status: SweepStatus
    counts: Counter[str]
    best: TrialRecord | None
    ledger: str
    tracking_uri: str | None
    parent_run_id: str | None
    wall_seconds: float
    bundles: int = 0  # Ray Tune trials that ran the trials (searchsvc.run.bundles)
    recording_cpu_seconds: float = 0.0  # CPU time spent writing the ledger and MLflow while trials ran
    ledger_lost: tuple[int, ...] = ()  # trials whose latest record the ledger could not take
    ledger_error: str | None = None
    mlflow_missing: tuple[int, ...] = ()  # trials whose MLflow run lacks writes (`resume` writes them)
    mlflow_error: str | None = None
    dashboard_path: str | None = None  # the sweep's run in MLflow's UI, after its address (tracking.run_path)


@dataclass(frozen=True)
class SweepRun:
    """What one run of a sweep's driver works with, from its start to its outcome."""

    spec: SweepSpec
    sweep: SweepRecord
    ledger: Ledger
    tracker: Tracker | None
    cluster: Cluster
    data: Any
    launch: Launch


def submit(spec: SweepSpec, *, ledger: None | str | Ledger = None, tracker: None | str | Tracker = None,
           address: str | None = None, quiet: bool = False, track: bool = True, sweep_id: str | None = None,
           job: Job | None = None) -> SweepOutcome:
    """Start a new sweep, run every trial of ``spec``, return the outcome. ``track=False`` skips MLflow."""
    launch = Launch(address, quiet, job)
    if job is not None:
        spec = _keep_uploaded_data(spec)
    params = trial_params_range(spec.space, spec.strategy, spec.seed, 0, spec.trials, spec.grid_points)
    data = _load_data(spec, params)  # a broken user data set stops here, before any write
    _check_stores(ledger, tracker if track else False, job)  # so does a store that does not answer
    cluster = connect(spec, address)  # and a trial that cannot fit on the embedded Ray
    ledger = get_ledger(ledger)
    tracker = get_tracker(tracker) if track else None

    sweep_id = sweep_id or new_sweep_id(spec.name)
    spec_json = spec.model_dump(mode="json")
    parent_run_id = None
    if tracker:
        try:
            parent_run_id = tracker.start_sweep(spec.name, sweep_id, _sweep_params(spec), spec_json)
        except Exception as e:
            raise SearchSvcError(f"MLflow: cannot start the sweep's run at {tracker.tracking_uri}: {e}") from e
    ledger.create_sweep(SweepRecord(sweep_id, spec.name, spec_json, spec.trials, spec.metric, spec.mode,
                                    SweepStatus.RUNNING, now(), parent_run_id, tracker.tracking_uri if tracker else None,
                                    driver=this_driver(), job_id=job and job.job_id, cluster=job and job.cluster))
    ledger.upsert_trials([TrialRecord(sweep_id, k, p, TrialStatus.PENDING) for k, p in enumerate(params)])
    run = SweepRun(spec, ledger.sweep(sweep_id), ledger, tracker, cluster, data, launch)
    return _execute(run, range(spec.trials))


def resume(sweep_id: str, *, ledger: None | str | Ledger = None, address: str | None = None,
           quiet: bool = False, job: Job | None = None) -> SweepOutcome:
    """Finish a sweep whose driver died or was cancelled: run every trial that has no final result,
    with its recorded config, in its existing MLflow run. First, MLflow gets what it missed."""
    launch = Launch(address, quiet, job)
    ledger, sweep, spec, tracker = _open(sweep_id, ledger, job)
    if tracker and sweep.mlflow_run_id:
        _backfill(ledger, tracker, sweep, quiet)
    todo = [t.trial_index for t in ledger.trials(sweep.sweep_id) if not TrialStatus(t.status).final]
    return _continue(spec, sweep, todo, (ledger, tracker), launch)


def extend(sweep_id: str, trials: int, *, ledger: None | str | Ledger = None, address: str | None = None,
           quiet: bool = False, job: Job | None = None) -> SweepOutcome:
    """Add trials S..S+N-1: the configs a sweep of S+N trials would have had."""
    launch = Launch(address, quiet, job)
    ledger, sweep, spec, tracker = _open(sweep_id, ledger, job)
    bigger = spec.model_copy(update={"trials": spec.trials + trials})
    if spec.strategy == "grid":
        bigger = SweepSpec.model_validate(bigger.model_dump(mode="json"))  # checks the grid is large enough
    params = trial_params_range(spec.space, spec.strategy, spec.seed, spec.trials, bigger.trials, spec.grid_points)
    _load_data(spec, params, first_index=spec.trials)  # the new trials are checked before any is written
    new = [TrialRecord(sweep.sweep_id, spec.trials + i, p, TrialStatus.PENDING) for i, p in enumerate(params)]
    ledger.upsert_trials(new)
    ledger.update_sweep(sweep.sweep_id, trials=bigger.trials, spec=bigger.model_dump(mode="json"))
    return _continue(bigger, ledger.sweep(sweep.sweep_id), range(spec.trials, bigger.trials), (ledger, tracker),
                     launch)


def new_sweep_id(name: str) -> str:
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _check_stores(ledger: None | str | Ledger, tracker: None | str | Tracker | bool, job: Job | None) -> None:
    """Before Ray starts and before anything is written: a job's stores are servers, and servers answer
    (within seconds, naming the address)."""
    from searchsvc.home import default_ledger_url, default_tracking_uri
    from searchsvc.stores.ledger import check_database
    from searchsvc.stores.tracking import check_server

    ledger_url = ledger.url if isinstance(ledger, Ledger) else ledger or default_ledger_url()
    tracking_uri = (None if tracker is False else
                    tracker.tracking_uri if isinstance(tracker, Tracker) else tracker or default_tracking_uri())
    if job is not None:
        check_servers(ledger_url, tracking_uri)
    if not isinstance(ledger, Ledger):
        check_database(ledger_url)
    if tracking_uri is not None and tracking_uri.startswith(("http://", "https://")):
        check_server(tracking_uri)


def check_servers(ledger_url: str | None, tracking_uri: str | None) -> None:
    """A sweep on a cluster records where the cluster's driver and your machine both reach: no file stores."""
    if ledger_url is not None and ledger_url.startswith("sqlite"):
        raise UsageError(f"ledger: {ledger_url} is a file on the machine that runs the driver; a sweep on a cluster "
                         "records into a database server that the cluster and your machine reach, e.g. "
                         "postgresql://user@host/db (SEARCHSVC_LEDGER on the cluster's nodes, or --ledger)")
    if tracking_uri is not None and (tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri):
        raise UsageError(f"tracking URI: {tracking_uri} is a file on the machine that runs the driver; a sweep on a "
                         "cluster records into an MLflow tracking server that the cluster and your machine reach, "
                         "e.g. http://mlflow:5000 (MLFLOW_TRACKING_URI on the cluster's nodes, or --tracking-uri)")


def _open(sweep_id: str, ledger: None | str | Ledger,
          job: Job | None) -> tuple[Ledger, SweepRecord, SweepSpec, Tracker | None]:
    """An existing sweep, reconciled; refused while its driver still runs."""
    ledger = get_ledger(ledger)
    sweep = ledger.sweep(sweep_id)
    if job is not None:
        check_servers(ledger.url, sweep.tracking_uri)
    tracker = get_tracker(sweep.tracking_uri) if sweep.tracking_uri else None
    sweep = reconcile(ledger, tracker, sweep)
    if driver_alive(sweep):
        raise UsageError(f"sweep {sweep.sweep_id} is still running (driver {sweep.driver}); "
                         f"wait for it or stop it with `searchsvc cancel {sweep.sweep_id}`")
    return ledger, sweep, SweepSpec.model_validate(sweep.spec), tracker


def _backfill(ledger: Ledger, tracker: Tracker, sweep: SweepRecord, quiet: bool) -> None:
    """MLflow gets what the ledger has and it missed; if it does not answer, the sweep goes on without it."""
    try:
        done = sync_mlflow(ledger, tracker, sweep)
    except Exception as e:  # noqa: BLE001 - the ledger is the record; a later resume tries again
        print(f"warning: MLflow at {tracker.tracking_uri} did not take the trials it missed ({e}); "
              "run `searchsvc resume` again when it answers", file=sys.stderr)
        return
    if done.backfilled and not quiet:
        print(f"searchsvc: wrote {len(done.backfilled)} trials that MLflow missed into their runs", file=sys.stderr)


def _continue(spec: SweepSpec, sweep: SweepRecord, indices: Iterable[int], stores: tuple[Ledger, Tracker | None],
              launch: Launch) -> SweepOutcome:
    """Run more of a recorded sweep: its unfinished trials (resume) or new ones (extend)."""
    ledger, tracker = stores
    data = _load_data(spec, [])
    cluster = connect(spec, launch.address)
    job = launch.job
    ledger.update_sweep(sweep.sweep_id, status=SweepStatus.RUNNING, driver=this_driver(), finished_at=None,
                        **({"job_id": job.job_id, "cluster": job.cluster} if job else {}))
    if tracker and sweep.mlflow_run_id:
        with contextlib.suppress(Exception):  # MLflow down: the recorder notes what it misses
            tracker.reopen(sweep.mlflow_run_id)
    run = SweepRun(spec, ledger.sweep(sweep.sweep_id), ledger, tracker, cluster, data, launch)
    return _execute(run, indices)


def _execute(run: SweepRun, indices: Iterable[int]) -> SweepOutcome:
    """Run the given trials of a recorded sweep; whatever happens, leave every record closed."""
    from searchsvc.run.bundles import BundleScheduler
    from searchsvc.run.recorder import TrialRecorder

    spec, sweep_id = run.spec, run.sweep.sweep_id
    records = {t.trial_index: t for t in run.ledger.trials(sweep_id)}
    todo = {k: records[k] for k in indices}
    recorder = TrialRecorder(run.ledger, run.tracker, run.sweep.mlflow_run_id, todo, spec.metric)
    scheduler = BundleScheduler(todo, run.cluster.capacity, None if spec.bundle == "auto" else spec.bundle,
                                MAX_INFRA_RESTARTS, on_give_up=recorder.give_up)
    cancel = threading.Event()
    if run.launch.job is not None:
        print(f"{ACCEPTED} {sweep_id}", file=sys.stderr, flush=True)
    status = SweepStatus.FAILED
    with _cancel_on_sigterm(cancel):  # until the records are closed: a SIGTERM while they close waits for them
        try:
            with Heartbeat(run.ledger, sweep_id, on_cancel=cancel.set):
                if todo:
                    _run_tune(run, recorder, scheduler, cancel)
                status = SweepStatus.CANCELLED if recorder.cancel_unfinished() else SweepStatus.COMPLETED
        except KeyboardInterrupt:
            status = SweepStatus.CANCELLED
            recorder.cancel_unfinished()
        finally:
            recording = recorder.close()
            if recording.ledger_lost:
                status = SweepStatus.FAILED  # the system of record does not hold all that ran
            outcome = _finish(run, status, recording, bundles=scheduler.handed_out)
    return outcome


@contextlib.contextmanager
def _cancel_on_sigterm(cancel: threading.Event) -> Iterator[None]:
    """SIGTERM (``ray job stop``, ``docker stop``, a scheduler) stops the sweep as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_tune(run: SweepRun, recorder: Any, scheduler: Any, cancel: threading.Event) -> None:
    from ray import tune

    from searchsvc.home import ray_dir
    from searchsvc.run.progress import Progress
    from searchsvc.run.recorder import CancelStopper
    from searchsvc.run.worker import TrialJob, run_bundle

    spec = run.spec
    params = {k: state.record.config for k, state in recorder.trials.items()}
    job = TrialJob(spec.seed, params, spec.training, spec.metric, max(1, int(spec.resources.cpus)),
                   max_retries=spec.max_retries)
    cpus = spec.resources.cpus

    def resources(config: dict[str, Any]) -> Any:  # each bundle's GPU share is decided when it starts
        return tune.PlacementGroupFactory([{"CPU": cpus, **({"GPU": config["gpus"]} if config["gpus"] else {})}])

    progress = None if run.launch.quiet else Progress(recorder, len(params), spec.metric, spec.mode)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(run_bundle, data=run.data, job=job), resources),
        tune_config=tune.TuneConfig(search_alg=scheduler, num_samples=-1, reuse_actors=True,
                                    max_concurrent_trials=spec.max_concurrent if spec.max_concurrent != "auto" else None,
                                    trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(
            name=f"{run.sweep.sweep_id}-{secrets.token_hex(2)}",
            storage_path=str(ray_dir()),
            verbose=0,
            stop=CancelStopper(cancel),
            callbacks=[recorder] + ([progress] if progress else []),
            failure_config=tune.FailureConfig(max_failures=0),  # the scheduler re-queues (searchsvc.run.bundles)
        ),
    )
    try:
        tuner.fit()
    finally:
        if progress:
            progress.close()


def _finish(run: SweepRun, status: SweepStatus, recording: Any, bundles: int) -> SweepOutcome:
    """Close the sweep's records (what the stores still take) and say how it went."""
    ledger, tracker, sweep = run.ledger, run.tracker, run.sweep
    lost, ledger_error = recording.ledger_lost, recording.ledger_error
    if (status == SweepStatus.COMPLETED and tracker and sweep.mlflow_run_id and not recording.mlflow_down
            and sweep.spec.get("strategy", "random") == "random"):
        _summarize_on_dashboard(sweep.sweep_id, ledger)  # first: who waits on the ledger then finds it on the run
    try:
        ledger.update_sweep(sweep.sweep_id, status=status, finished_at=now())
        trials = ledger.trials(sweep.sweep_id)
    except Exception as e:  # noqa: BLE001 - reported; `resume` mends it once the ledger takes writes
        status, ledger_error = SweepStatus.FAILED, ledger_error or str(e).strip().splitlines()[0]
        trials = []
    best = best_trial(trials, sweep.mode)
    counts = Counter(str(t.status) for t in trials)
    outcome = SweepOutcome(sweep.sweep_id, sweep.metric, status, counts, best, ledger.display_url,
                           tracker.tracking_uri if tracker else None, sweep.mlflow_run_id,
                           time.monotonic() - run.launch.started, bundles, recording.cpu_seconds, lost, ledger_error,
                           recording.mlflow_missing, recording.mlflow_error)
    if tracker and sweep.mlflow_run_id and not recording.mlflow_down:  # a dead server is not waited for again
        try:
            tracker.finish_sweep(sweep.mlflow_run_id, status, counts, best, sweep.metric)
            outcome = replace(outcome, dashboard_path=tracker.run_path(sweep.mlflow_run_id))
        except Exception as e:  # noqa: BLE001 - `resume` closes it from the ledger
            outcome = _with_mlflow_error(outcome, e)
    return outcome


def _summarize_on_dashboard(sweep_id: str, ledger: Ledger) -> None:
    """The analysis's summary on the sweep's MLflow run; a failure is said, and `analyze` makes it later."""
    from searchsvc.analyze import summarize_on_dashboard

    try:
        summarize_on_dashboard(sweep_id, ledger)
    except Exception as e:  # noqa: BLE001 - the sweep's records are complete without it
        print(f"warning: the sweep's summary did not reach MLflow ({type(e).__name__}: "
              f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}); `searchsvc analyze {sweep_id}` "
              "attaches the analysis to its run", file=sys.stderr)


def _with_mlflow_error(outcome: SweepOutcome, error: Exception) -> SweepOutcome:
    return replace(outcome, mlflow_error=outcome.mlflow_error or str(error).strip().splitlines()[0])


def _keep_uploaded_data(spec: SweepSpec) -> SweepSpec:
    """A data file uploaded with a job lies in its working_dir, which goes with the job: keep it in the
    cluster's searchsvc home (``datasets/uploads``), where ``resume`` and ``extend`` find it."""
    import hashlib
    import os
    import shutil
    from pathlib import Path

    from searchsvc.home import datasets_dir

    path = getattr(spec.dataset, "path", None)
    if path is None or Path(path).is_absolute() or not Path(path).is_file():
        return spec
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    kept = datasets_dir() / "uploads" / f"{digest}-{Path(path).name}"
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{os.getpid()}")
        shutil.copyfile(path, partial)
        os.replace(partial, kept)
    return spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"path": kept})})


def _load_data(spec: SweepSpec, params: list[dict[str, object]], first_index: int = 0) -> Any:
    """The spec's data set, checked against its objective and against the trials ``params`` (their windows,
    their estimated memory against ``resources.memory_limit``): invalid input fails here, before any write."""
    from experiments.checks import check_config, check_objective
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from searchsvc.sweep.costs import check_memory_limit
    from searchsvc.home import datasets_dir

    check_memory_limit(spec, params, first_index)
    data = load_dataset(spec.dataset, datasets_dir())
    check_objective(data, spec.metric)
    for p in params:
        check_config(data, LSTMConfig.from_params(p))
    return data


def _sweep_params(spec: SweepSpec) -> dict[str, object]:
    return {"trials": spec.trials, "seed": spec.seed, "strategy": spec.strategy, "dataset": spec.dataset.name,
            "metric": spec.metric, "mode": spec.mode, "max_epochs": spec.training.max_epochs,
            "patience": spec.training.patience, "searched": ",".join(spec.space)}
