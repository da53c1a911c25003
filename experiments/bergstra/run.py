"""Run the study's three sweeps, one after another, and ship their trial tables with provenance.

    python -m experiments.bergstra.run [--out experiments/bergstra/tables] [--only random,grid]

Each spec goes through the ``searchsvc`` command line as a user would run it (``submit -q --json``,
then ``export``), in a child process of this interpreter, with this environment (``SEARCHSVC_HOME``
chooses the ledger and MLflow store). Written to ``--out``: ``<name>.csv`` per sweep (the analysis
table format) and ``provenance.json``: each spec and its SHA-256, the git commit of the code, library
versions, the CPU, the date, and per sweep its wall time, its trials' summed ``train_seconds`` (what
the trainings took whatever else ran on the machine) and that sum over the trials run at once (the
ideal wall time), the load average before and after, and its trials by status.

This runs the study for real (about 90 minutes on 2 cores); nothing else in the study does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import pandas as pd

STUDY = Path(__file__).resolve().parent
ROOT = STUDY.parents[1]
SWEEPS = ("random", "grid", "sobol")  # run in this order
LIBRARIES = ("torch", "ray", "mlflow", "numpy", "scipy", "optuna", "pandas", "mnist1d")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=STUDY / "tables", help="folder for the tables and provenance.json")
    parser.add_argument("--specs", type=Path, default=STUDY, help="folder of random.yaml, grid.yaml, sobol.yaml")
    parser.add_argument("--only", default=",".join(SWEEPS), help="comma-separated sweeps to run (default: all three)")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(SWEEPS))
    if unknown:
        parser.error(f"--only: unknown sweep {unknown[0]!r}; expected some of {', '.join(SWEEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    provenance = {**environment(), "started": now(), "sweeps": {}}
    for name in names:
        provenance["sweeps"][name] = run_sweep(args.specs / f"{name}.yaml", args.out / f"{name}.csv")
        write_json(args.out / "provenance.json", provenance)  # after each sweep, so a later failure keeps it
    provenance["finished"] = now()
    write_json(args.out / "provenance.json", provenance)


def run_sweep(spec: Path, table: Path) -> dict[str, object]:
    """Submit ``spec``, export its trials to ``table``; what the sweep took and produced."""
    print(f"{spec.name}: submitting ({now()})", file=sys.stderr, flush=True)
    load_before, started = os.getloadavg(), now()
    start = time.perf_counter()
    outcome = json.loads(searchsvc("submit", str(spec), "-q", "--json"))
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    searchsvc("export", outcome["sweep_id"], "--out", str(table))
    trials = pd.read_csv(table)
    train_seconds = float(trials["train_seconds"].sum())
    at_once = concurrent_trials()
    print(f"{spec.name}: {outcome['status']} in {wall:.0f} s, {train_seconds:.0f} s of training", file=sys.stderr, flush=True)
    return {
        "spec": relative(spec),
        "spec_sha256": hashlib.sha256(spec.read_bytes()).hexdigest(),
        "table": relative(table),
        "table_sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
        "sweep_id": outcome["sweep_id"],
        "status": outcome["status"],
        "started": started,
        "finished": now(),
        "wall_seconds": round(wall, 1),
        "driver_wall_seconds": outcome["wall_seconds"],
        "sum_train_seconds": round(train_seconds, 1),
        "trials_at_once": at_once,
        "ideal_wall_seconds": round(train_seconds / at_once, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "counts": {str(k): int(v) for k, v in sorted(outcome["counts"].items())},
        "bundles": outcome["bundles"],
    }


def relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def searchsvc(*args: str) -> str:
    """Run ``searchsvc ARGS`` in a child process; its stdout (stderr passes through)."""
    done = subprocess.run([sys.executable, "-m", "searchsvc", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"searchsvc {' '.join(args)} failed with exit {done.returncode}; its message is above")
    return done.stdout


def concurrent_trials() -> int:
    """Trials at once with ``max_concurrent: auto`` and one CPU per trial, as the specs ask: the CPUs."""
    return os.cpu_count() or 1


def environment() -> dict[str, object]:
    """The code, libraries and machine the sweeps run with."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    return {
        "study": "Bergstra & Bengio (JMLR 2012) on LSTMs: random, grid and Sobol search on MNIST-1D",
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--", "searchsvc", "experiments", "analysis", ":!experiments/bergstra/tables")),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in LIBRARIES},
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "avx512": "avx512f" in lscpu().get("Flags", "").split()},
        "env": {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS") if k in os.environ},
    }


def lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def cpu_model() -> str:
    info = lscpu()
    return f"{info.get('Model name', platform.processor())} (family {info.get('CPU family', '?')}, model {info.get('Model', '?')})"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
