"""Orchestration overhead of a sweep, measured side by side in one run.

Every trial does the same fixed work: ``--epochs`` epochs (no early stopping) of one small LSTM on a
fixed MNIST-1D subset, one torch thread per trial, ``--workers`` trials at a time. Then:

  warm       the true limit: the same trainings back to back in one plain process per worker, no
             framework, no recording, with the processes started and warmed up by a 1-epoch trial
             (torch imported, the data set read) before the timer: what reused workers could reach
  ideal      the same from a cold start: timed from starting the processes, which import torch and
             read the data set, as every run below must too
  searchsvc  ``searchsvc.run.driver.submit`` end to end: Ray Tune, ledger (SQLite) and MLflow (SQLite),
             trial bundles as by default (``bundle: auto``)
  unrecorded the same with recording switched off: no MLflow, and the ledger's trial updates kept in
             memory instead of written (its rows are created, as ``submit`` does before any trial runs)
  bundle-1   searchsvc with one trial per Ray Tune trial (``bundle: 1``): what bundles buy
  tune       Ray Tune as its docs show it: a function trainable reporting every epoch, defaults
             (no actor reuse), ``MLflowLoggerCallback``
  optuna     ``study.optimize(n_jobs=workers)`` with its RDB storage (SQLite), in a process of its own
             timed from its start (it imports optuna and torch, and reads the data set), like the ideal
  optuna+mlflow  the same with Optuna's ``MLflowCallback`` (optuna-integration) writing each trial's run
             (params, final value, tags) to an MLflow SQLite store: less than searchsvc records, which
             adds every epoch's curve

Ray is started, the heavy packages imported, the data set generated into searchsvc's disk cache and
each run's ledger and MLflow store created before the timed runs (once per machine or store, not per
sweep; printed separately). Every timed run starts with no data set in memory and reads it from that
cache: the ideal's processes, the searchsvc driver, each Ray Tune trial and Optuna alike.

Overhead per trial is (wall − warm) / S; per core, that times the number of workers. It is also
measured by the core-seconds not spent on the trainings' own CPU work, beyond the warm limit's (see below),
which the trainings' drifting speed does not move. With ``--repeat N`` the warm limit, the ideal,
searchsvc and unrecorded (and Optuna both ways) run in N rounds, and their medians are compared (this
machine's speed drifts by several percent within minutes). What recording costs is measured by
switching it off, as a share of training (S × the warm limit's mean training seconds), in each round from
the adjacent pair of searchsvc and unrecorded runs, whose order alternates from round to round so that
a steady drift cancels in the median: by wall time × workers, and by the core-seconds not spent on
the trainings' own CPU work (workers × wall − the trials' ``cpu_seconds``: start-up, gaps between
trials, and the time others took the CPU from a running training). The second does not move with the
trainings' own speed, which drifts by several percent from run to run. For the searchsvc runs the
driver's CPU time is printed, and that of the thread that writes the ledger and MLflow: the cost of
recording, measured directly.

    python bench/overhead.py                                      # a few minutes
    python bench/overhead.py --trials 128 --epochs 22 --repeat 3 --skip unrecorded bundle-1
                                                                  # ~2 s trials at 0.09 s an epoch (about 50 minutes)
    python bench/overhead.py --trials 128 --epochs 2 --repeat 3 --skip unrecorded bundle-1
                                                                  # ~0.2 s trials (about 14 minutes, 7 of them Ray Tune)
    python bench/overhead.py --trials 128 --epochs 16 --repeat 6 --skip bundle-1 tune optuna
                                                                  # recording's cost
    python bench/overhead.py --trials 4 --epochs 1 --samples 400 --skip tune optuna bundle-1
                                                                  # that it runs (about 2 minutes)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def spec_document(args: argparse.Namespace, bundle: int | str = "auto") -> dict:
    return {
        "name": "overhead", "seed": 0, "trials": args.trials,
        "dataset": {"name": "mnist1d", "samples": args.samples},
        "training": {"max_epochs": args.epochs, "patience": None},
        "max_concurrent": args.workers, "bundle": bundle,
        "space": {"units": args.units, "layers": 1, "optimizer": "adam", "lr": 0.003, "batch_size": 64},
    }


def one_trial(args_and_index: tuple[argparse.Namespace, int]) -> tuple[float, float]:
    """Train trial k exactly as the frameworks do; return its training seconds and CPU seconds."""
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial

    args, k = args_and_index
    spec = _spec(args)
    config = LSTMConfig.from_params({n: p.value for n, p in spec.space.items()})
    result = train_trial(config, _data(spec), spec.training, spec.metric, k, threads=1)
    return result.train_seconds, result.cpu_seconds


def _data(spec):
    """The data set, read from searchsvc's disk cache (``$SEARCHSVC_HOME/datasets``, set by ``main``)."""
    from experiments.datasets import load_dataset
    from searchsvc.home import datasets_dir

    return load_dataset(spec.dataset, datasets_dir())


def _spec(args: argparse.Namespace, bundle: int | str = "auto"):
    from searchsvc.sweep.spec import SweepSpec

    return SweepSpec.model_validate(spec_document(args, bundle))


def _one_thread() -> None:
    """Before torch is imported: one OpenMP/MKL thread per process, as Ray sets for a 1-CPU worker
    (otherwise idle OpenMP threads spin and take CPU from the other process)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"


def run_ideal(args: argparse.Namespace) -> tuple[float, str, float]:
    """Wall time, details, the trainings' CPU seconds."""
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(args.workers, initializer=_one_thread) as pool:
        timings = pool.map(one_trial, [(args, k) for k in range(args.trials)], chunksize=1)
    return _plain_run(time.perf_counter() - start, timings)


def _plain_run(wall: float, timings: list[tuple[float, float]]) -> tuple[float, str, float]:
    """A run without framework as every run reports it, from its trials' (training, CPU) seconds; the first
    such run's mean training seconds are the yardstick of the shares."""
    mean = sum(seconds for seconds, _ in timings) / len(timings)
    _IDEAL.setdefault("trial", mean)
    return wall, f"{mean:.3f} s of training per trial", sum(cpu for _, cpu in timings)


def run_warm(args: argparse.Namespace) -> tuple[float, str, float]:
    """The limit with reused workers: processes started, torch imported and the data set read before the
    timer (a barrier holds the timer until every process has warmed up); then the same trainings back to back."""
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(args.workers + 1)
    with ctx.Pool(args.workers, initializer=_warm_up, initargs=(args, ready)) as pool:
        ready.wait()
        start = time.perf_counter()
        timings = pool.map(one_trial, [(args, k) for k in range(args.trials)], chunksize=1)
        wall = time.perf_counter() - start
    return _plain_run(wall, timings)


def _warm_up(args: argparse.Namespace, ready: Any) -> None:
    """A warm process: one thread, and a first trial of one epoch, which imports torch and the training code,
    reads the data set and pays torch's first-use costs (its optimizer's first construction imports
    ``torch._dynamo``: 1.6 s here); then it waits for the others."""
    _one_thread()
    one_trial((argparse.Namespace(**{**vars(args), "epochs": 1}), 0))
    ready.wait()


def warm_up_driver(args: argparse.Namespace, home: Path) -> None:
    """One tiny tracked sweep, untimed, so that no timed run pays for what Ray Tune and MLflow import
    on first use, nor for generating the data set."""
    from searchsvc.run import driver

    tiny = argparse.Namespace(**{**vars(args), "trials": args.workers, "epochs": 1})
    driver.submit(_spec(tiny), ledger=f"sqlite:///{home / 'warm-up.db'}",
                  tracker=f"sqlite:///{home / 'warm-up-mlflow.db'}", quiet=True)


def run_searchsvc(args: argparse.Namespace, home: Path, record: bool, bundle: int | str = "auto") -> tuple[float, str, float]:
    from searchsvc.run import driver
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.stores.tracking import get_tracker

    url = f"sqlite:///{home / 'ledger.db'}"
    ledger = get_ledger(url) if record else _unrecorded_ledger(url)
    tracker = get_tracker(f"sqlite:///{home / 'mlflow.db'}") if record else None
    if tracker:
        tracker.experiment_id("overhead")  # the store's tables and the experiment: once per store
    start, cpu = time.perf_counter(), time.process_time()
    outcome = driver.submit(_spec(args, bundle), ledger=ledger, tracker=tracker, quiet=True, track=record)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert outcome.counts.get("ok") == args.trials, outcome.counts
    training = _training_core_seconds(args)
    detail = (f"{outcome.bundles} Tune trials; driver {cpu:.2f} CPU-s, of which recording "
              f"{outcome.recording_cpu_seconds:.2f} = {outcome.recording_cpu_seconds / training * 100:.2f}% of training")
    return wall, detail, sum(t.result.cpu_seconds for t in ledger.trials(outcome.sweep_id))


def _unrecorded_ledger(url: str):
    """A ledger whose trial rows stay in memory: the sweep's row and its lease are written (``submit`` writes
    them before any trial runs, the heartbeat renews the lease), nothing the trials report is."""
    from collections import Counter

    from searchsvc.status import TrialStatus
    from searchsvc.stores.ledger import Ledger

    class UnrecordedLedger(Ledger):
        def __init__(self, url: str) -> None:
            super().__init__(url)
            self.kept: dict[tuple[str, int], object] = {}

        def upsert_trials(self, trials: list, lease: object) -> None:
            self.kept.update({(t.sweep_id, t.trial_index): t for t in trials})

        def trials(self, sweep_id: str, indices: list[int] | None = None) -> list:
            return sorted((t for (s, k), t in self.kept.items() if s == sweep_id and (indices is None or k in indices)),
                          key=lambda t: t.trial_index)

        def status_counts(self, sweep: object) -> Counter:
            counts = Counter(t.status for t in self.trials(sweep.sweep_id))
            counts[TrialStatus.PENDING] += sweep.trials - sum(counts.values())
            return +counts

    return UnrecordedLedger(url)


def run_tune(args: argparse.Namespace, home: Path) -> float:
    from ray import tune
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    def trainable(config: dict) -> None:
        from experiments.hyperparams import LSTMConfig
        from experiments.trainable import train_trial

        spec = _spec(args)
        train_trial(LSTMConfig(units=config["units"], lr=config["lr"]), _data(spec), spec.training,
                    "accuracy", config["seed"], threads=1,
                    on_epoch=lambda m: tune.report({"val_accuracy": m.val_score, "loss": m.train_loss}))

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"units": args.units, "lr": 0.003, "seed": tune.randint(0, 2**31)},
        tune_config=tune.TuneConfig(num_samples=args.trials, max_concurrent_trials=args.workers),
        run_config=tune.RunConfig(storage_path=str(home / "ray"), verbose=0, callbacks=[
            MLflowLoggerCallback(tracking_uri=f"sqlite:///{home / 'tune-mlflow.db'}", experiment_name="tune")]),
    )
    start = time.perf_counter()
    tuner.fit()
    return time.perf_counter() - start


def run_optuna(args: argparse.Namespace, home: Path, mlflow: bool = False) -> float:
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(1) as pool:
        pool.apply(optuna_study, (args, home, mlflow))
    return time.perf_counter() - start


def optuna_study(args: argparse.Namespace, home: Path, mlflow: bool) -> None:
    """What a user's Optuna script does: S trials, ``n_jobs`` threads, an RDB storage, and if ``mlflow``
    Optuna's ``MLflowCallback``, which writes each trial's run as it ends."""
    import optuna

    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = _spec(args)
    data = _data(spec)

    def objective(trial: optuna.Trial) -> float:
        config = LSTMConfig(units=trial.suggest_int("units", args.units, args.units), lr=0.003)
        result = train_trial(config, data, spec.training, "accuracy", trial.number, threads=1,
                             on_epoch=lambda m: trial.report(m.val_score, m.epoch))
        return result.val_score

    callbacks = []
    if mlflow:
        from optuna_integration.mlflow import MLflowCallback

        callbacks.append(MLflowCallback(tracking_uri=f"sqlite:///{home / 'optuna-mlflow.db'}",
                                        metric_name="val_accuracy"))
    study = optuna.create_study(storage=f"sqlite:///{home / 'optuna.db'}", direction="maximize")
    study.optimize(objective, n_trials=args.trials, n_jobs=args.workers, callbacks=callbacks)
    assert len(study.trials) == args.trials


_IDEAL: dict[str, float] = {}


def _training_core_seconds(args: argparse.Namespace) -> float:
    return _IDEAL["trial"] * args.trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4,
                        help="fixed work per trial (0.036-0.12 s an epoch on the 2-core machines so far; "
                             "at 0.09 s, 22 ≈ 2 s and 2 ≈ 0.2 s)")
    parser.add_argument("--samples", type=int, default=2000, help="MNIST-1D samples generated")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="trials at a time (one CPU each)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the warm limit, ideal, searchsvc, unrecorded and Optuna both ways "
                             "(medians compared)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["tune", "optuna", "unrecorded", "bundle-1"])
    args = parser.parse_args()

    from experiments.datasets import clear_dataset_cache
    from searchsvc.run.cluster import _start_ray

    home = Path(tempfile.mkdtemp(prefix="searchsvc-overhead-"))
    os.environ["SEARCHSVC_HOME"] = str(home)  # Ray Tune's files and the data set cache; inherited by workers
    print(f"S={args.trials} trials of {args.epochs} epochs, LSTM({args.units}), {args.workers} at a time; files in {home}")
    start = time.perf_counter()
    _start_ray(None)
    import mlflow  # noqa: F401 - imported once, as by any long-lived driver
    import ray.tune  # noqa: F401
    warm_up_driver(args, home)
    if "optuna" not in args.skip:  # Optuna's storage and its callback's MLflow store, as searchsvc's: made once
        import optuna
        from mlflow.tracking import MlflowClient

        optuna.storages.RDBStorage(f"sqlite:///{home / 'optuna.db'}")
        MlflowClient(f"sqlite:///{home / 'optuna-mlflow.db'}").search_experiments()
    print(f"ray start-up, imports and a warm-up sweep (not counted below): {time.perf_counter() - start:.1f} s",
          flush=True)

    runs = []
    optuna = [] if "optuna" in args.skip else [
        ("optuna", lambda: (run_optuna(args, home), f"n_jobs={args.workers}, SQLite storage", None)),
        ("optuna+mlflow", lambda: (run_optuna(args, home, mlflow=True), "and MLflowCallback to SQLite", None))]
    for i in range(args.repeat):  # rounds: slow drifts of the machine hit all alike
        pair = [("searchsvc", lambda i=i: run_searchsvc(args, home / f"a{i}", True))]
        if "unrecorded" not in args.skip:
            pair.append(("unrecorded", lambda i=i: run_searchsvc(args, home / f"b{i}", False)))
        runs += [("warm", lambda: run_warm(args)), ("ideal", lambda: run_ideal(args))] + pair[:: -1 if i % 2 else 1]
        runs += optuna[:: -1 if i % 2 else 1]
    if "bundle-1" not in args.skip:
        runs.append(("bundle-1", lambda: run_searchsvc(args, home / "c", True, bundle=1)))
    if "tune" not in args.skip:
        runs.append(("tune", lambda: (run_tune(args, home), "docs' defaults, MLflowLoggerCallback", None)))
    walls: dict[str, list[float]] = {}
    idle: dict[str, list[float]] = {}  # core-seconds not spent on the trainings' own CPU work
    trained: dict[str, list[float]] = {}  # the trainings' own CPU seconds
    for name, run in runs:
        clear_dataset_cache()  # each run reads the data set as a new process would
        stolen = steal_seconds()
        wall, detail, training_cpu = run()
        detail += f"; stolen by the hypervisor {steal_seconds() - stolen:.1f} core-s"
        walls.setdefault(name, []).append(wall)
        warm = walls["warm"][-1]  # this round's
        extra = wall - warm
        if training_cpu is not None:
            idle.setdefault(name, []).append(wall * args.workers - training_cpu)
            trained.setdefault(name, []).append(training_cpu)
            detail += f"; not training {idle[name][-1]:.1f} core-s"
        print(f"{name:<13} {wall:7.1f} s   {wall / warm:.3f}× warm   overhead {extra / args.trials:+.3f} s/trial, "
              f"{extra * args.workers / args.trials:+.3f} core-s/trial   ({detail})", flush=True)
    wall = {name: statistics.median(w) for name, w in walls.items()}
    print(f"medians of {args.repeat}: " + ", ".join(
        f"{name} {wall[name]:.1f} s" + ("" if name == "warm" else f" ({wall[name] / wall['warm']:.3f}× warm)")
        for name in wall if len(walls[name]) == args.repeat))
    print_overhead_not_training(idle, trained, args)
    if "unrecorded" in wall:
        print_recording_cost(walls, idle, args)
    for other in ("ideal", "optuna", "optuna+mlflow", "bundle-1", "tune"):
        if other in wall:
            print(f"searchsvc vs {other}: {wall[other] / wall['searchsvc']:.2f}× faster"
                  + (f" (rounds: {', '.join(f'{o / s:.2f}' for o, s in zip(walls[other], walls['searchsvc']))})"
                     if len(walls[other]) > 1 else ""))


def steal_seconds() -> float:
    """CPU time the hypervisor gave other guests while this machine wanted it, over all cores (/proc/stat);
    on a VM whose neighbours are busy that, not the framework, can be what moves a run's wall time."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def print_overhead_not_training(idle: dict[str, list[float]], trained: dict[str, list[float]],
                                args: argparse.Namespace) -> None:
    """Overhead per trial by the core-seconds not spent training, beyond the warm limit's in the same round:
    start-up, gaps and CPU taken from the trainings, which the trainings' drifting speed does not move.
    It leaves out a training made slower beside the framework: the trainings' CPU seconds, against the
    warm limit's in the same round, show that (with the drift in them)."""
    for name in ("ideal", "searchsvc", "unrecorded"):
        if name not in idle:
            continue
        extra = [(i - warm) / args.workers / args.trials for i, warm in zip(idle[name], idle["warm"])]
        cpu = [c / warm for c, warm in zip(trained[name], trained["warm"])]
        print(f"{name} by core-seconds not training: overhead {statistics.median(extra):+.3f} s/trial (median of "
              f"{len(extra)} rounds; each: {', '.join(f'{x:+.3f}' for x in extra)}); its trainings' CPU seconds "
              f"{statistics.median(cpu):.3f}× the warm limit's (each: {', '.join(f'{x:.3f}' for x in cpu)})")


def print_recording_cost(walls: dict[str, list[float]], idle: dict[str, list[float]], args: argparse.Namespace) -> None:
    """Recording (MLflow and the ledger) switched off: each round's pair of runs, as shares of training,
    by wall time and by the core-seconds not spent training (which the trainings' speed does not move)."""
    training = _training_core_seconds(args)
    for label, values, scale in (("wall time", walls, args.workers), ("core-seconds not training", idle, 1)):
        shares = [(on - off) * scale / training * 100 for on, off in zip(values["searchsvc"], values["unrecorded"])]
        print(f"recording switched off, by {label}: {statistics.median(shares):+.1f}% of trial time (median of "
              f"{len(shares)} rounds; each: {', '.join(f'{x:+.1f}%' for x in shares)})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
