"""Run the first trials of a sweep again, through searchsvc's command line: what does a rerun give?

    python -m experiments.bergstra.rerun --trials 32 --out experiments/bergstra/tables/rerun-same.csv
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python -m experiments.bergstra.rerun --trials 32 \
        --out experiments/bergstra/tables/rerun-avx2.csv
    python -m experiments.bergstra.rerun --trials 32 --threads 2 --out experiments/bergstra/tables/rerun-threads2.csv

A trial's config and training seed are a pure function of the spec's seed, its index and the space, so a
sweep of the same spec with ``trials: N`` trains trials 0..N-1 exactly as the study's sweep did. This
submits such a copy (with ``resources.cpus``: ``--threads``, the torch threads a trial trains with) into
a searchsvc home of its own, without MLflow, and exports its table. The sweep's Ray workers inherit this
process's environment, so variables that choose kernels (oneDNN's ``ONEDNN_MAX_CPU_ISA``, ATen's
``ATEN_CPU_CAPABILITY``) act on every trial. Written: ``--out`` (the analysis table format) and beside it
the same name with ``.json``: the spec, its hash, the trials, the threads and the kernels in effect.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import yaml

from experiments.bergstra.run import cli, cpu_model, now, outcome_json, relative, write_json

STUDY = Path(__file__).resolve().parent
KERNEL_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=STUDY / "random.yaml")
    parser.add_argument("--trials", type=int, default=32, help="run trials 0..N-1 (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per trial (the sweep's: 1)")
    parser.add_argument("--out", type=Path, required=True, help="the table to write (.csv)")
    args = parser.parse_args(argv)
    started, start = now(), time.perf_counter()
    rerun(args.spec, args.trials, args.threads, args.out)
    write_json(args.out.with_suffix(".json"), {
        "spec": relative(args.spec),
        "spec_sha256": hashlib.sha256(args.spec.read_bytes()).hexdigest(),
        "trials": args.trials,
        "threads": args.threads,
        "kernels": kernels(),
        "env": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ},
        "cpu": cpu_model(),
        "versions": {name: version(name) for name in ("torch", "numpy")},
        "started": started,
        "wall_seconds": round(time.perf_counter() - start, 1),
    })


def rerun(spec: Path, trials: int, threads: int, out: Path) -> None:
    """Submit ``spec`` cut to its first ``trials`` trials, each with ``threads`` threads; its table to ``out``."""
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    document.update(name=f"{document['name']}-rerun", trials=trials)
    document["resources"] = {**document.get("resources", {}), "cpus": threads}
    if document.get("dataset", {}).get("path"):  # a data file: where the spec names it
        document["dataset"]["path"] = str((spec.parent / document["dataset"]["path"]).resolve())
    with tempfile.TemporaryDirectory(prefix="searchsvc-rerun-") as home:
        copy = Path(home) / spec.name
        copy.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        env = {**os.environ, "SEARCHSVC_HOME": home}
        outcome, _ = outcome_json(cli("submit", str(copy), "-q", "--json", "--no-mlflow", env=env))
        out.parent.mkdir(parents=True, exist_ok=True)
        cli("export", outcome["sweep_id"], "--out", str(out), env=env)
    out.with_suffix(".space.json").unlink(missing_ok=True)  # the same space as the sweep's table


def kernels() -> dict[str, str]:
    """The instruction sets torch's kernels use here: ATen's dispatch and oneDNN's (LSTM layers)."""
    import torch

    return {"aten": torch.backends.cpu.get_cpu_capability(), "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL")}


if __name__ == "__main__":
    main()
