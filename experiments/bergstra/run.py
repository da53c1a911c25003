"""Run the study's three sweeps, one after another, and ship their trial tables with provenance.

    python -m experiments.bergstra.run [--out experiments/bergstra/tables] [--only random,grid]

Each spec goes through the ``searchsvc`` command line as a user would run it (``submit -q --json``,
then ``export``), in a child process of this interpreter, with this environment (``SEARCHSVC_HOME``
chooses the ledger and MLflow store). Written to ``--out``: ``<name>.csv`` per sweep (the analysis
table format) and ``provenance.json``: each spec and its SHA-256, the git commit of the code, library
versions, the CPU, the date, and per sweep its commit, wall time, its trials' summed ``train_seconds``
(each trial's wall time from its start to its result) and that sum over the trials run at once (the
ideal wall time), their summed CPU seconds (which work of others on the machine does not inflate), the load
average before and after, and its trials by status. A sweep joins the ``provenance.json`` already in
``--out`` (refused if that one names another machine or other libraries); ``--record NAME=SWEEP`` adds a
sweep that finished in the ledger without this script, its wall time then taken from the ledger.

This runs the study for real (sized for about 90 minutes on 2 idle cores; the README says what it
took); nothing else in the study does.
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
#: what only a run of the sweep here measured; recording the sweep again from the ledger keeps these
TIMED_BY_RUN = ("git_commit", "git_dirty", "started", "finished", "wall_seconds", "wall_from", "driver_wall_seconds",
                "loadavg_before", "loadavg_after", "bundles")
LIBRARIES = ("torch", "ray", "mlflow", "numpy", "scipy", "optuna", "pandas", "mnist1d")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=STUDY / "tables", help="folder for the tables and provenance.json")
    parser.add_argument("--specs", type=Path, default=STUDY, help="folder of random.yaml, grid.yaml, sobol.yaml")
    parser.add_argument("--only", default=",".join(SWEEPS), help="comma-separated sweeps to run (default: all three)")
    parser.add_argument("--record", metavar="NAME=SWEEP", action="append", default=[],
                        help="run nothing for NAME: export the finished ledger sweep SWEEP as its table and record it "
                             "(its wall time then comes from the ledger); repeatable")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] if not args.record else []
    recorded = dict(r.partition("=")[::2] for r in args.record)
    unknown = sorted((set(names) | set(recorded)) - set(SWEEPS))
    if unknown:
        parser.error(f"unknown sweep {unknown[0]!r}; expected some of {', '.join(SWEEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "provenance.json"
    provenance = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {**environment(), "sweeps": {}}
    check_same_environment(provenance)
    for name, sweep_id in recorded.items():
        kept = {k: v for k, v in provenance["sweeps"].get(name, {}).items() if k in TIMED_BY_RUN}
        if "wall_seconds" in kept:
            kept.setdefault("wall_from", "submit, timed here")
        provenance["sweeps"][name] = {**record(args.specs / f"{name}.yaml", sweep_id, args.out / f"{name}.csv"), **kept}
        provenance["sweeps"][name].setdefault("git_commit", provenance["git_commit"])
        write_json(path, provenance)
    for name in names:
        provenance["sweeps"][name] = run_sweep(args.specs / f"{name}.yaml", args.out / f"{name}.csv")
        write_json(path, provenance)  # after each sweep, so a later failure keeps it


def run_sweep(spec: Path, table: Path) -> dict[str, object]:
    """Submit ``spec``, export its trials to ``table``; what the sweep took and produced."""
    print(f"{spec.name}: submitting ({now()})", file=sys.stderr, flush=True)
    load_before, started = os.getloadavg(), now()
    start = time.perf_counter()
    outcome, other = outcome_json(cli("submit", str(spec), "-q", "--json"))
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    out = {
        **record(spec, outcome["sweep_id"], table),
        **{k: v for k, v in environment().items() if k in ("git_commit", "git_dirty")},
        "started": started,
        "finished": now(),
        "wall_seconds": round(wall, 1),
        "driver_wall_seconds": outcome["wall_seconds"],
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "bundles": outcome["bundles"],
    }
    out["wall_from"] = "submit, timed here"
    if other:
        out["submit_stdout_other"] = other[:2000]
    print(f"{spec.name}: {out['status']} in {wall:.0f} s, {out['sum_train_seconds']:.0f} s of training", file=sys.stderr,
          flush=True)
    return out


def record(spec: Path, sweep_id: str, table: Path) -> dict[str, object]:
    """A finished sweep from the ledger: its table exported to ``table``, its trials' time, its counts."""
    status = json.loads(cli("status", sweep_id, "--json"))
    cli("export", sweep_id, "--out", str(table))
    train_seconds = float(pd.read_csv(table)["train_seconds"].sum())
    at_once = concurrent_trials()
    created, finished = ledger_times(sweep_id)
    return {
        "spec": relative(spec),
        "spec_sha256": hashlib.sha256(spec.read_bytes()).hexdigest(),
        "table": relative(table),
        "table_sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
        "sweep_id": sweep_id,
        "status": status["status"],
        "counts": {str(k): int(v) for k, v in sorted(status["counts"].items())},
        "sum_train_seconds": round(train_seconds, 1),
        "trials_at_once": at_once,
        "ideal_wall_seconds": round(train_seconds / at_once, 1),
        "sum_cpu_seconds": round(ledger_cpu_seconds(sweep_id), 1),
        "ledger_created_at": created,
        "ledger_finished_at": finished,
        "wall_seconds": round((datetime.fromisoformat(finished) - datetime.fromisoformat(created)).total_seconds(), 1),
        "wall_from": "ledger: the sweep's created_at to its last trial's finished_at",
    }


def outcome_json(stdout: str) -> tuple[dict[str, object], str]:
    """``submit --json``'s outcome, the last thing it prints, and whatever came before it on stdout."""
    starts = [i for i in range(len(stdout)) if stdout.startswith("{", i) and (i == 0 or stdout[i - 1] == "\n")]
    for i in reversed(starts):
        try:
            outcome, end = json.JSONDecoder().raw_decode(stdout, i)
        except json.JSONDecodeError:
            continue
        if isinstance(outcome, dict) and "sweep_id" in outcome:
            return outcome, (stdout[:i] + stdout[end:]).strip()
    raise SystemExit(f"searchsvc submit --json printed no outcome; its stdout began: {stdout[:500]!r}")


def check_same_environment(provenance: dict[str, object]) -> None:
    """Sweeps added to a provenance ran on the machine and libraries its first sweeps ran on."""
    here = environment()
    for key in ("python", "versions", "machine"):
        if provenance.get(key) != here[key]:
            raise SystemExit(f"provenance.json: its sweeps ran with {key} {provenance.get(key)!r}, this is {here[key]!r}; "
                             "run all three sweeps here into a fresh --out folder")


def ledger_cpu_seconds(sweep_id: str) -> float:
    """The sweep's trials' summed process CPU time while training (the ledger's ``cpu_seconds``): unlike
    ``train_seconds`` (wall time) it does not grow when other work on the machine takes the CPU away."""
    trials = json.loads(cli("show", sweep_id, "--json"))["trials"]
    return float(sum(t["cpu_seconds"] or 0.0 for t in trials))


def ledger_times(sweep_id: str) -> tuple[str, str]:
    """When the ledger created the sweep and when its last trial finished (ISO 8601, UTC)."""
    (sweep,) = [s for s in json.loads(cli("list", "--json")) if s["sweep_id"] == sweep_id]
    trials = json.loads(cli("show", sweep_id, "--json"))["trials"]
    last = max(datetime.fromisoformat(t["finished_at"]) for t in trials if t["finished_at"])
    return sweep["created_at"], last.isoformat(timespec="seconds")


def relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    """Run ``searchsvc ARGS`` in a child process (environment ``env``, else this one's); its stdout (stderr
    passes through)."""
    done = subprocess.run([sys.executable, "-m", "searchsvc", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env=env)
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
        "git_dirty": bool(git("status", "--porcelain", "--", "searchsvc", "experiments", "analysis",
                              ":!experiments/bergstra/tables")),
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
    name = info.get("Model name", platform.processor())
    return f"{name} (family {info.get('CPU family', '?')}, model {info.get('Model', '?')})"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
