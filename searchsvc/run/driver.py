"""Runs a sweep: spec → trial configs → Ray Tune → recorder (ledger + MLflow) → outcome.

``submit``, ``resume`` and ``extend`` each build one :class:`SweepRun`, the sweep as this driver runs it,
and hand it to :func:`execute`. Everything that can be wrong with the user's input (spec, data set,
stores) is checked before anything is written, so a refused sweep leaves no row and no run behind.
The driver owns the sweep by a lease (:mod:`searchsvc.stores.lease`): taken before anything slow
starts, renewed by its heartbeat, carried by every write, ended with the sweep's status. It stops
cleanly on Ctrl-C, SIGTERM (``ray job stop``, ``docker stop``) or a ``cancel`` request: unfinished
trials ``cancelled``, runs KILLED, the sweep resumable.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from searchsvc.errors import SearchSvcError
from searchsvc.run.cluster import Cluster, connect
from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.run.heartbeat import Heartbeat
from searchsvc.stores.lease import Lease, LeaseLost, Owned
from searchsvc.stores.ledger import Ledger, get_ledger
from searchsvc.stores.locations import LedgerLocation, TrackingLocation
from searchsvc.stores.records import SweepRecord, TrialRecord
from searchsvc.stores.reconcile import sync_mlflow
from searchsvc.stores.tracking import Tracker, check_server, get_tracker
from searchsvc.sweep.costs import check_memory_limit
from searchsvc.sweep.data import load_data
from searchsvc.sweep.spec import SweepSpec, new_sweep_id

#: how often Tune re-queues a trial whose worker died or ran out of memory before recording it ``infra``
MAX_INFRA_RESTARTS = 10


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
    speculative_seconds: float = 0.0  # early termination: seconds trained past stops while their decisions waited
    out_of_memory: int = 0  # trials re-queued with a larger GPU share after the GPU's memory ran out


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep's driver, from taking the sweep to its outcome: what it runs, with what, where."""

    spec: SweepSpec
    sweep_id: str
    lease: Lease
    ledger: Ledger
    tracker: Tracker | None
    parent_run_id: str | None
    cluster: Cluster
    data: Any
    launch: Launch
    todo: Sequence[int]  # the trials this run runs, in index order
    recorded: dict[int, TrialRecord] = field(default_factory=dict)  # rows of those that ran before


def submit(spec: SweepSpec, *, ledger: None | str | Ledger = None, tracker: None | str | Tracker = None,
           address: str | None = None, quiet: bool = False, track: bool = True, sweep_id: str | None = None,
           job: Job | None = None) -> SweepOutcome:
    """Start a new sweep, run every trial of ``spec``, return the outcome. ``track=False`` skips MLflow."""
    launch = Launch(address, quiet, job)
    if job is not None:
        spec = _keep_uploaded_data(spec)
    check_memory_limit(spec)  # a trial too large for the limit stops here, before any write
    data = load_data(spec)  # so does a broken user data set
    ledger_at, tracking_at = _check_stores(ledger, tracker if track else False, job)  # and a store that does not answer
    if not quiet:
        print(f"searchsvc: {spec.name}: {spec.trials} trials on {address or 'a local Ray'} ...", file=sys.stderr)
    cluster = connect(spec, address)  # and a trial that cannot fit on the embedded Ray
    ledger = get_ledger(ledger if isinstance(ledger, Ledger) else ledger_at.url)
    tracker = get_tracker(tracker if isinstance(tracker, Tracker) else tracking_at) if track else None

    sweep_id = sweep_id or new_sweep_id(spec.name)
    parent_run_id = None
    if tracker:
        try:
            parent_run_id = tracker.start_sweep(spec.name, sweep_id, _sweep_params(spec), spec.model_dump(mode="json"))
        except Exception as e:
            raise SearchSvcError(f"MLflow: cannot start the sweep's run at {tracker.tracking_uri}: {e}") from e
    lease = Lease(sweep_id)
    ledger.create_sweep(sweep_id, spec, lease, mlflow_run_id=parent_run_id,
                        tracking_uri=tracker.tracking_uri if tracker else None,
                        job_id=job and job.job_id, cluster=job and job.cluster)
    return execute(SweepRun(spec, sweep_id, lease, ledger, tracker, parent_run_id, cluster, data, launch,
                            range(spec.trials)))


def resume(sweep_id: str, *, ledger: None | str | Ledger = None, address: str | None = None,
           quiet: bool = False, job: Job | None = None) -> SweepOutcome:
    """Finish a sweep whose driver died or was cancelled: run every trial that has no final result, with its
    recorded config, in its existing MLflow run. First, MLflow gets what it missed."""
    return _continue(sweep_id, 0, ledger, Launch(address, quiet, job))


def extend(sweep_id: str, trials: int, *, ledger: None | str | Ledger = None, address: str | None = None,
           quiet: bool = False, job: Job | None = None) -> SweepOutcome:
    """Add trials S..S+N-1 (the configs a sweep of S+N trials would have had), and run them with whatever the
    sweep had left unfinished."""
    return _continue(sweep_id, trials, ledger, Launch(address, quiet, job))


def _continue(sweep_id: str, more: int, ledger: None | str | Ledger, launch: Launch) -> SweepOutcome:
    """Take over a recorded sweep (refused with exit 2 while another driver's lease is live), grow it by ``more``
    trials, mend MLflow, and run every trial it has not finished."""
    ledger = get_ledger(ledger)
    before = ledger.sweep(sweep_id)
    spec = before.spec.grown(more) if more else before.spec  # an extend that cannot be is refused here
    if launch.job is not None:
        ledger.location.check_cluster_use()
        if before.tracking_uri:
            TrackingLocation.parse(before.tracking_uri).check_cluster_use()
    if before.leased:
        raise Owned(before)
    check_memory_limit(spec, before.spec.trials)
    lease = Lease(before.sweep_id)
    job = launch.job
    sweep = ledger.take(before.sweep_id, lease, job_id=job and job.job_id, cluster=job and job.cluster)
    try:
        if more:
            ledger.grow(lease, spec)
            sweep = replace(sweep, document=spec.model_dump(mode="json"))
        data = load_data(spec)
        cluster = connect(spec, launch.address)
        tracker = _mend_mlflow(ledger, sweep, lease, launch.quiet)
    except BaseException:
        with contextlib.suppress(Exception):
            ledger.release(lease, before.status if before.status != SweepStatus.RUNNING else SweepStatus.INTERRUPTED)
        raise
    todo = ledger.unfinished(sweep)
    recorded = {t.trial_index: t for t in ledger.trials(sweep.sweep_id, unfinished=True)}
    return execute(SweepRun(spec, sweep.sweep_id, lease, ledger, tracker, sweep.mlflow_run_id, cluster, data, launch,
                            todo, recorded))


def _check_stores(ledger: None | str | Ledger, tracker: None | str | Tracker | bool,
                  job: Job | None) -> tuple[LedgerLocation, TrackingLocation | None]:
    """Before Ray starts and before anything is written: the stores' addresses parse, a job's stores are servers,
    and servers answer (within seconds, naming the address)."""
    from searchsvc.home import default_ledger_url, default_tracking_uri
    from searchsvc.stores.schema import check_database

    ledger_at = ledger.location if isinstance(ledger, Ledger) else LedgerLocation.parse(ledger or default_ledger_url())
    tracking_at = (None if tracker is False else tracker.location if isinstance(tracker, Tracker)
                   else TrackingLocation.parse(tracker or default_tracking_uri()))
    if job is not None:
        ledger_at.check_cluster_use()
        if tracking_at is not None:
            tracking_at.check_cluster_use()
    if not isinstance(ledger, Ledger):
        ledger_at.make_folder()  # a folder that cannot be made is refused before Ray starts
        check_database(ledger_at)
    if tracking_at is not None:
        tracking_at.make_folder()
        if tracking_at.is_server:
            check_server(tracking_at)
    return ledger_at, tracking_at


def _mend_mlflow(ledger: Ledger, sweep: SweepRecord, lease: Lease, quiet: bool) -> Tracker | None:
    """The sweep's tracker, with what MLflow missed written from the ledger, and the sweep's run open again; if
    MLflow does not answer, the sweep goes on without it (the recorder notes what it misses)."""
    if not sweep.tracking_uri or not sweep.mlflow_run_id:
        return None
    tracker = get_tracker(sweep.tracking_uri)
    try:
        done = sync_mlflow(ledger, tracker, sweep, lease)
        tracker.reopen(sweep.mlflow_run_id)
    except LeaseLost:
        raise
    except Exception as e:  # noqa: BLE001 - the ledger is the record; a later resume tries again
        print(f"warning: MLflow at {tracker.tracking_uri} did not take the trials it missed ({e}); "
              "run `searchsvc resume` again when it answers", file=sys.stderr)
        return tracker
    if done.backfilled and not quiet:
        print(f"searchsvc: wrote {len(done.backfilled)} trials that MLflow missed into their runs", file=sys.stderr)
    return tracker


def execute(run: SweepRun) -> SweepOutcome:
    """Run the sweep's trials to do; whatever happens, leave every record closed and the lease ended."""
    from searchsvc.run.bundles import BundleSearcher, TrialQueue
    from searchsvc.run.recorder import TrialRecorder

    spec = run.spec
    cancel = threading.Event()
    stopping = None
    if spec.early_terminate is not None:
        from searchsvc.run.stopping import LiveStopping

        stopping = LiveStopping(spec)
        stopping.restore(run.ledger.trials(run.sweep_id))  # what earlier runs of the sweep decided
    recorded = {k: t.config for k, t in run.recorded.items()}
    gpu_need = None
    if spec.resources.gpus == "auto":  # each trial asks for the share of a GPU its memory needs
        from searchsvc.sweep.costs import training_memory

        gpu_need = lambda k: training_memory(spec, recorded.get(k) or spec.config(k))  # noqa: E731
    # under early termination a trial's decision at a rung waits for the trials before it: single-trial bundles
    # keep neighbours running side by side (a big bundle's later trials would wait on a whole other bundle)
    size = (1 if spec.early_terminate is not None else None) if spec.bundle == "auto" else spec.bundle
    searcher = BundleSearcher(TrialQueue(run.todo, len(run.todo)), run.cluster.capacity, size, MAX_INFRA_RESTARTS,
                              recorded=recorded, gpu_need=gpu_need,
                              on_drained=_warm_up_summary if _summarized(run) else lambda: None)
    recorder = TrialRecorder(run.ledger, run.tracker, run.parent_run_id, run.lease, spec, run.recorded,
                             on_lease_lost=lambda lost: cancel.set(), stopping=stopping, on_out_of_memory=searcher.grow)
    searcher.on_give_up = recorder.give_up
    lost: list[LeaseLost] = []
    if run.launch.job is not None:
        from searchsvc.run.jobs import ACCEPTED

        print(f"{ACCEPTED} {run.sweep_id}", file=sys.stderr, flush=True)
    stopped = False  # by a cancel request, SIGTERM or Ctrl-C (else unfinished trials mean a failure)
    with _cancel_on_sigterm(cancel):  # until the records are closed: a SIGTERM while they close waits for them
        try:
            with Heartbeat(run.ledger, run.lease, on_cancel=cancel.set,
                           on_lost=lambda e: (lost.append(e), cancel.set())):
                if run.todo and not cancel.is_set():
                    _run_tune(run, recorder, searcher, cancel)
                recorder.cancel_unfinished()
                stopped = cancel.is_set()
        except KeyboardInterrupt:
            recorder.cancel_unfinished()
            stopped = True
        finally:
            recording = recorder.close()
            outcome = _finish(run, recording, lost, stopped, bundles=searcher.handed_out)
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


def _run_tune(run: SweepRun, recorder: Any, searcher: Any, cancel: threading.Event) -> None:
    from ray import tune

    from searchsvc.home import ray_dir
    from searchsvc.run.progress import Progress
    from searchsvc.run.protocol import Bundle
    from searchsvc.run.recorder import CancelStopper
    from searchsvc.run.worker import WorkerSettings, run_bundle

    spec = run.spec
    signals = None
    if recorder.stopping is not None:  # the workers ask whether the driver stopped their trial
        from searchsvc.run.stopping import stop_signals

        signals = recorder.stopping.signals = stop_signals()
    settings = WorkerSettings(spec, max(1, int(spec.resources.cpus)), stop_signals=signals)
    cpus = spec.resources.cpus

    def resources(config: dict[str, Any]) -> Any:  # each bundle's GPU share is decided when it starts
        gpus = Bundle.from_tune(config).gpus
        return tune.PlacementGroupFactory([{"CPU": cpus, **({"GPU": gpus} if gpus else {})}])

    progress = None if run.launch.quiet else Progress(recorder, len(run.todo), spec.metric, spec.mode)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(run_bundle, data=run.data, settings=settings), resources),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1, reuse_actors=True,
                                    max_concurrent_trials=spec.max_concurrent if spec.max_concurrent != "auto" else None,
                                    trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(
            name=f"{run.sweep_id}-{secrets.token_hex(2)}",
            storage_path=str(ray_dir()),
            verbose=0,
            stop=CancelStopper(cancel),
            callbacks=[recorder] + ([progress] if progress else []),
            failure_config=tune.FailureConfig(max_failures=0),  # the searcher re-queues (searchsvc.run.bundles)
        ),
    )
    try:
        tuner.fit()
    finally:
        if progress:
            progress.close()


def _finish(run: SweepRun, recording: Any, lost: list[LeaseLost], stopped: bool, bundles: int) -> SweepOutcome:
    """Close the sweep's records (what the stores still take), end the lease, and say how it went."""
    ledger, tracker, lease = run.ledger, run.tracker, run.lease
    lease_lost = recording.lease_lost or (lost[0] if lost else None)
    if lease_lost is not None:
        raise lease_lost  # the sweep is another driver's now: this one records nothing more
    lost_rows, ledger_error = recording.ledger_lost, recording.ledger_error
    try:
        sweep = ledger.sweep(run.sweep_id)
        counts = ledger.status_counts(sweep)
    except Exception as e:  # noqa: BLE001 - reported; `resume` mends it once the ledger answers
        sweep, counts, ledger_error = None, Counter(), ledger_error or str(e).strip().splitlines()[0]
    unresolved = sum(counts[s] for s in TrialStatus if not s.has_result)
    status = (SweepStatus.FAILED if lost_rows or sweep is None else SweepStatus.COMPLETED if not unresolved else
              SweepStatus.CANCELLED if stopped else SweepStatus.FAILED)
    mlflow_up = tracker is not None and run.parent_run_id is not None and not recording.mlflow_down
    if status == SweepStatus.COMPLETED and mlflow_up and _summarized(run) and lease.fresh():
        _summarize_on_dashboard(run)  # first: who waits on the ledger then finds it on the run
    try:
        status = ledger.release(lease, status)  # cancelled, if a cancel came while the records closed
        best = None if sweep is None else ledger.best(sweep)
    except LeaseLost:
        raise
    except Exception as e:  # noqa: BLE001 - reported; `resume` mends it once the ledger takes writes
        status, ledger_error = SweepStatus.FAILED, ledger_error or str(e).strip().splitlines()[0]
        best = None
    outcome = SweepOutcome(
        sweep_id=run.sweep_id, metric=run.spec.metric, status=status, counts=counts, best=best,
        ledger=ledger.display_url, tracking_uri=tracker.tracking_uri if tracker else None,
        parent_run_id=run.parent_run_id, wall_seconds=time.monotonic() - run.launch.started, bundles=bundles,
        recording_cpu_seconds=recording.cpu_seconds, ledger_lost=lost_rows, ledger_error=ledger_error,
        mlflow_missing=recording.mlflow_missing, mlflow_error=recording.mlflow_error,
        speculative_seconds=recording.speculative_seconds, out_of_memory=recording.out_of_memory)
    if mlflow_up:  # a dead server is not waited for again
        try:
            tracker.finish_sweep(run.parent_run_id, status, counts, best, run.spec.metric)
            outcome = replace(outcome, dashboard_path=tracker.run_path(run.parent_run_id))
        except Exception as e:  # noqa: BLE001 - `resume` closes it from the ledger
            outcome = replace(outcome, mlflow_error=outcome.mlflow_error or str(e).strip().splitlines()[0])
    return outcome


def _summarized(run: SweepRun) -> bool:
    """Whether the sweep's run gets the analysis's summary when the sweep completes."""
    return run.tracker is not None and run.parent_run_id is not None and run.spec.strategy == "random"


def _warm_up_summary() -> None:
    """The summary's packages loaded while the last trials run, in a thread of its own: off the sweep's end (a
    failure here is the summary's to report)."""
    from searchsvc.analyze import warm_up_summary

    def warm_up() -> None:
        with contextlib.suppress(Exception):
            warm_up_summary()

    threading.Thread(target=warm_up, name="searchsvc-summary-warm-up", daemon=True).start()


def _summarize_on_dashboard(run: SweepRun) -> None:
    """The analysis's summary on the sweep's MLflow run; a failure is said, and `analyze` makes it later."""
    from searchsvc.analyze import summarize_on_dashboard

    try:
        summarize_on_dashboard(run.sweep_id, run.ledger, run.tracker)
    except Exception as e:  # noqa: BLE001 - the sweep's records are complete without it
        print(f"warning: the sweep's summary did not reach MLflow ({type(e).__name__}: "
              f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}); `searchsvc analyze {run.sweep_id}` "
              "attaches the analysis to its run", file=sys.stderr)


def _keep_uploaded_data(spec: SweepSpec) -> SweepSpec:
    """A data file uploaded with a job lies in its working_dir, which goes with the job: keep it in the
    cluster's searchsvc home (``datasets/uploads``), where ``resume`` and ``extend`` find it."""
    import hashlib
    import os
    import shutil
    from pathlib import Path

    from searchsvc.home import datasets_dir
    from searchsvc.run.jobs import UPLOAD_DIR

    path = getattr(spec.dataset, "path", None)
    if path is None or Path(path).parent != Path.cwd() / UPLOAD_DIR or not Path(path).is_file():
        return spec
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    kept = datasets_dir() / "uploads" / f"{digest}-{Path(path).name}"
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{os.getpid()}")
        shutil.copyfile(path, partial)
        os.replace(partial, kept)
    return spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"path": kept})})


def _sweep_params(spec: SweepSpec) -> dict[str, object]:
    return {"trials": spec.trials, "seed": spec.seed, "strategy": spec.strategy, "dataset": spec.dataset.name,
            "metric": spec.metric, "mode": spec.mode, "max_epochs": spec.training.max_epochs,
            "patience": spec.training.patience, "searched": ",".join(spec.space)}
