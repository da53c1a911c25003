"""Train some trials of a sweep again, outside Ray, as its workers trained them: what does a rerun give?

    python -m experiments.bergstra.rerun --trials 32 --out experiments/bergstra/tables/rerun-same.csv
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python -m experiments.bergstra.rerun --trials 32 \
        --out experiments/bergstra/tables/rerun-avx2.csv

Trial k gets the config and training seed the sweep gave it (``searchsvc.sampling``: a pure function of
the spec's seed, k and space), the spec's data set and training settings, and ``threads`` torch threads
(the workers' default: one, as each trial has one CPU); ``--workers`` processes train trials at once.
The environment is this process's, so variables that choose kernels (oneDNN's ``ONEDNN_MAX_CPU_ISA``,
ATen's ``ATEN_CPU_CAPABILITY``) act on every trial. Written: ``--out`` (the analysis table format) and
beside it the same name with ``.json``: the spec, its hash, the trials, the threads and the kernels in effect.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from experiments.bergstra.run import cpu_model, now, relative, write_json

STUDY = Path(__file__).resolve().parent
KERNEL_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=STUDY / "random.yaml")
    parser.add_argument("--trials", type=int, default=32, help="train trials 0..N-1 (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per trial (the sweep's: 1)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="trials trained at once")
    parser.add_argument("--out", type=Path, required=True, help="the table to write (.csv)")
    args = parser.parse_args(argv)
    started, start = now(), time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(train, [(args.spec, k, args.threads) for k in range(args.trials)]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    write_json(args.out.with_suffix(".json"), {
        "spec": relative(args.spec),
        "spec_sha256": hashlib.sha256(args.spec.read_bytes()).hexdigest(),
        "trials": args.trials,
        "threads": args.threads,
        "workers": args.workers,
        "kernels": kernels(),
        "env": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ},
        "cpu": cpu_model(),
        "versions": {name: version(name) for name in ("torch", "numpy")},
        "started": started,
        "wall_seconds": round(time.perf_counter() - start, 1),
    })


def train(job: tuple[Path, int, int]) -> dict[str, object]:
    """Train trial k of the spec as a sweep's worker does; its row of the analysis table."""
    spec_path, k, threads = job
    result, params = train_sweep_trial(spec_path, k, threads)
    return {"trial_index": k, "status": result.status, "val_score": result.val_score, "test_score": result.test_score,
            "val_n": result.val_n, "test_n": result.test_n, "train_seconds": result.train_seconds,
            **{f"param_{name}": value for name, value in params.items()}}


def train_sweep_trial(spec_path: Path, k: int, threads: int = 1):
    """``(TrialResult, params)`` of trial ``k`` of the spec, trained in this process on the CPU."""
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.home import datasets_dir
    from searchsvc.sampling import trial_params, trial_seed
    from searchsvc.spec import load_spec

    spec = load_spec(spec_path)
    params = trial_params(spec.space, spec.strategy, spec.seed, k, spec.grid_points)
    data = load_dataset(spec.dataset, datasets_dir())
    result = train_trial(LSTMConfig.from_params(params), data, spec.training, spec.metric, trial_seed(spec.seed, k),
                         threads=threads, device="cpu")
    return result, params


def kernels() -> dict[str, str]:
    """The instruction sets torch's kernels use here: ATen's dispatch and oneDNN's (LSTM layers)."""
    import torch

    return {"aten": torch.backends.cpu.get_cpu_capability(), "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL")}


if __name__ == "__main__":
    main()
