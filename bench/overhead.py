"""Orchestration overhead of a sweep, measured side by side in one run.

Every trial does the same fixed work: ``--epochs`` epochs (no early stopping) of one small LSTM on a
fixed MNIST-1D subset, one torch thread per trial, ``--workers`` trials at a time. Then:

  ideal      the same trainings back to back in one plain process per worker (multiprocessing),
             no framework, no recording; timed after the processes have loaded the data
  searchsvc  ``searchsvc.driver.submit`` end to end: Ray Tune, ledger (SQLite) and MLflow (SQLite)
  no-mlflow  the same with MLflow off (the ledger stays on: it is the system of record)
  tune       Ray Tune as its docs show it: a function trainable reporting every epoch, defaults
             (no actor reuse), ``MLflowLoggerCallback``
  optuna     ``study.optimize(n_jobs=workers)`` with its RDB storage (SQLite)

Ray is started once before the timed runs (its start-up is printed separately). Overhead per trial
is (wall − ideal) / S; per core, that times the number of workers.

    python bench/overhead.py                         # a few minutes
    python bench/overhead.py --trials 128 --epochs 8 # ~2 s trials, as in the performance issue
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def spec_document(args: argparse.Namespace) -> dict:
    return {
        "name": "overhead", "seed": 0, "trials": args.trials,
        "dataset": {"name": "mnist1d", "samples": args.samples},
        "training": {"max_epochs": args.epochs, "patience": None},
        "max_concurrent": args.workers,
        "space": {"units": args.units, "layers": 1, "optimizer": "adam", "lr": 0.003, "batch_size": 64},
    }


def one_trial(args_and_index: tuple[argparse.Namespace, int]) -> float:
    """Train trial k exactly as the frameworks do; return its training seconds."""
    from experiments.datasets import load_dataset
    from experiments.trainable import train_trial

    args, k = args_and_index
    spec = _spec(args)
    from experiments.hyperparams import LSTMConfig

    config = LSTMConfig.from_params({n: p.value for n, p in spec.space.items()})
    return train_trial(config, load_dataset(spec.dataset), spec.training, spec.metric, k, threads=1).train_seconds


def _spec(args: argparse.Namespace):
    from searchsvc.spec import SweepSpec

    return SweepSpec.model_validate(spec_document(args))


def run_ideal(args: argparse.Namespace) -> float:
    with mp.get_context("spawn").Pool(args.workers) as pool:
        pool.map(one_trial, [(args, 10**6 + i) for i in range(args.workers)])  # load data, warm up
        start = time.perf_counter()
        pool.map(one_trial, [(args, k) for k in range(args.trials)], chunksize=1)
        return time.perf_counter() - start


def run_searchsvc(args: argparse.Namespace, home: Path, track: bool) -> float:
    from searchsvc import driver

    start = time.perf_counter()
    outcome = driver.submit(_spec(args), ledger=f"sqlite:///{home / 'ledger.db'}",
                            tracker=f"sqlite:///{home / 'mlflow.db'}", quiet=True, track=track)
    wall = time.perf_counter() - start
    assert outcome.counts.get("ok") == args.trials, outcome.counts
    return wall


def run_tune(args: argparse.Namespace, home: Path) -> float:
    from ray import tune
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    def trainable(config: dict) -> None:
        from experiments.datasets import load_dataset
        from experiments.hyperparams import LSTMConfig
        from experiments.trainable import train_trial

        spec = _spec(args)
        train_trial(LSTMConfig(units=config["units"], lr=config["lr"]), load_dataset(spec.dataset), spec.training,
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


def run_optuna(args: argparse.Namespace, home: Path) -> float:
    import optuna

    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = _spec(args)
    data = load_dataset(spec.dataset)

    def objective(trial: optuna.Trial) -> float:
        config = LSTMConfig(units=trial.suggest_int("units", args.units, args.units), lr=0.003)
        result = train_trial(config, data, spec.training, "accuracy", trial.number, threads=1,
                             on_epoch=lambda m: trial.report(m.val_score, m.epoch))
        return result.val_score

    study = optuna.create_study(storage=f"sqlite:///{home / 'optuna.db'}", direction="maximize")
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials, n_jobs=args.workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4, help="fixed work per trial (8 ≈ 2 s, 1 ≈ 0.25 s here)")
    parser.add_argument("--samples", type=int, default=2000, help="MNIST-1D samples generated")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="trials at a time (one CPU each)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["tune", "optuna", "no-mlflow"])
    args = parser.parse_args()

    from searchsvc.driver import _start_ray

    home = Path(tempfile.mkdtemp(prefix="searchsvc-overhead-"))
    print(f"S={args.trials} trials of {args.epochs} epochs, LSTM({args.units}), {args.workers} at a time; files in {home}")
    start = time.perf_counter()
    _start_ray(None)
    print(f"ray start-up (not counted below): {time.perf_counter() - start:.1f} s", flush=True)

    walls = {"ideal": run_ideal(args)}
    per_trial = walls["ideal"] * args.workers / args.trials
    print(f"ideal      {walls['ideal']:7.1f} s   ({per_trial:.2f} s of training per trial)", flush=True)
    runs = [("searchsvc", lambda: run_searchsvc(args, home / "a", True))]
    if "no-mlflow" not in args.skip:
        runs.append(("no-mlflow", lambda: run_searchsvc(args, home / "b", False)))
    if "tune" not in args.skip:
        runs.append(("tune", lambda: run_tune(args, home)))
    if "optuna" not in args.skip:
        runs.append(("optuna", lambda: run_optuna(args, home)))
    for name, run in runs:
        walls[name] = run()
        extra = walls[name] - walls["ideal"]
        print(f"{name:<10} {walls[name]:7.1f} s   {walls[name] / walls['ideal']:.3f}× ideal   overhead "
              f"{extra / args.trials:+.3f} s/trial, {extra * args.workers / args.trials:+.3f} core-s/trial", flush=True)
    if "no-mlflow" in walls:
        share = (walls["searchsvc"] - walls["no-mlflow"]) / (walls["ideal"] * args.workers) * 100
        print(f"MLflow writing: {share:+.1f}% of trial time (searchsvc with vs without MLflow)")
    for peer in ("tune", "optuna"):
        if peer in walls:
            print(f"searchsvc vs {peer}: {walls[peer] / walls['searchsvc']:.2f}× faster")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
