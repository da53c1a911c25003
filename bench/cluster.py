"""Throughput of a sweep on one Ray node and on two: the same sweep, submitted through the Jobs API, on the
cluster of docker-compose.yml started natively (tests/cluster/native.py: a Ray head and a worker node of
1 CPU each, an MLflow server, PostgreSQL), first with the worker node stopped, then with it.

Throughput is trials per minute over the sweep's span, from its first trial's start to its last trial's
end (the ledger's timestamps); the wall time from submission to the sweep's end, which adds the job's
and the driver's start, is printed beside it, with the trials' own training seconds. This machine's
speed drifts by several percent over minutes, so each round runs both, in alternating order, and the
medians are compared.

The machine's own ceiling is measured beside them, before the cluster starts: the same trials trained
by plain processes (no Ray, no stores), one process and then two at a time, with one thread each. Where
two concurrent trainings are slower than one (shared memory bandwidth, clocks, the machine's other
services), no scheduler can reach 2x; the cluster's ratio is then read against that ceiling.

    python bench/cluster.py                        # 3 rounds, about 20 minutes
    python bench/cluster.py --trials 16 --epochs 20 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SPEC = """\
name: throughput
seed: 4
trials: {trials}
dataset: {{name: mnist1d, samples: 4000}}
training: {{max_epochs: {epochs}, patience: null}}
resources: {{cpus: 1}}
space:
  units: 32
  optimizer: adam
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
"""


def sweep(cluster, spec: Path, home: Path) -> dict[str, float]:
    from searchsvc.stores.ledger import get_ledger

    env = {**cluster.client_env, "SEARCHSVC_HOME": str(home)}

    def searchsvc(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "searchsvc", *args], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"searchsvc {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    started = time.monotonic()
    sweep_id = json.loads(searchsvc("submit", str(spec), "--cluster", cluster.jobs_api, "--json"))["sweep_id"]
    searchsvc("status", sweep_id, "--watch", "--interval", "0.5")
    wall = time.monotonic() - started
    trials = get_ledger(cluster.ledger).trials(sweep_id)
    span = (max(t.finished_at for t in trials) - min(t.started_at for t in trials)).total_seconds()
    nodes = len({t.node.node_id for t in trials})
    training = sum(t.result.train_seconds for t in trials)
    return {"trials": len(trials), "span": span, "wall": wall, "nodes": nodes, "per_minute": len(trials) / span * 60,
            "training": training}


def plain_trial(spec_and_index: tuple[str, int]) -> tuple[float, float, float]:
    """Train trial k of the spec as a worker does, outside Ray: (start, end, training seconds)."""
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.home import datasets_dir
    from searchsvc.sweep.sampling import trial_config, trial_seed
    from searchsvc.sweep.spec import load_spec

    path, k = spec_and_index
    spec = load_spec(path)
    config = LSTMConfig.from_params(trial_config(spec.space, spec.strategy, spec.seed, k))
    data = load_dataset(spec.dataset, datasets_dir())
    start = time.time()
    result = train_trial(config, data, spec.training, spec.metric, trial_seed(spec.seed, k), threads=1)
    return start, time.time(), result.train_seconds


def plain(spec: Path, trials: int, processes: int) -> dict[str, float]:
    """The same trials in plain processes, ``processes`` at a time: trials/min over their span."""
    import multiprocessing as mp

    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # inherited by the spawned processes
    with mp.get_context("spawn").Pool(processes) as pool:
        timings = pool.map(plain_trial, [(str(spec), k) for k in range(trials)], chunksize=1)
    span = max(end for _, end, _ in timings) - min(start for start, _, _ in timings)
    return {"span": span, "per_minute": trials / span * 60, "training": sum(t for _, _, t in timings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each trial (about 0.12 s each here)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of one node and two nodes (medians compared)")
    args = parser.parse_args()

    from tests.cluster.native import NativeCluster, wait_for

    root = Path(tempfile.mkdtemp(prefix="searchsvc-bench-cluster-"))
    spec = root / "throughput.yaml"
    spec.write_text(SPEC.format(trials=args.trials, epochs=args.epochs))
    print(f"{args.trials} trials of {args.epochs} epochs, one at a time per node (1 CPU each); files in {root}",
          flush=True)
    os.environ["SEARCHSVC_HOME"] = str(root / "plain")  # the plain processes' data set cache
    plain(spec, 1, 1)  # the data set, generated once
    runs: dict[str, list[dict[str, float]]] = {"one node": [], "two nodes": [], "one process": [], "two processes": []}
    for r in range(args.repeat):
        for processes in ((1, 2) if r % 2 == 0 else (2, 1)):
            label = "one process" if processes == 1 else "two processes"
            runs[label].append(result := plain(spec, args.trials, processes))
            print(f"round {r + 1}, {label:>13}: {result['span']:.1f} s ({result['per_minute']:.1f} trials/min; "
                  f"{result['training']:.1f} s of training), no Ray", flush=True)
    cluster = NativeCluster(root)
    cluster.start()
    try:
        for r in range(args.repeat):
            for nodes in ((1, 2) if r % 2 == 0 else (2, 1)):
                if nodes == 1 and cluster.alive_nodes() == 2:
                    cluster.services["ray-worker"].stop()
                    wait_for(lambda: cluster.alive_nodes() == 1, 120, "the worker node to leave")
                elif nodes == 2 and cluster.alive_nodes() == 1:
                    cluster.start_worker()
                result = sweep(cluster, spec, root / "laptop")
                label = "one node" if nodes == 1 else "two nodes"
                runs[label].append(result)
                print(f"round {r + 1}, {label:>13}: {result['trials']} trials on {result['nodes']} node(s) in "
                      f"{result['span']:.1f} s of trials ({result['per_minute']:.1f} trials/min; "
                      f"{result['training']:.1f} s of training), {result['wall']:.1f} s from submission to the end",
                      flush=True)
    finally:
        cluster.stop()
    median = {label: {k: statistics.median(r[k] for r in results) for k in results[0]} for label, results in runs.items()}
    one, two = median["one node"], median["two nodes"]
    ceiling = median["two processes"]["per_minute"] / median["one process"]["per_minute"]
    print(f"medians: one node {one['per_minute']:.1f} trials/min, two nodes {two['per_minute']:.1f} trials/min; "
          f"plain processes {median['one process']['per_minute']:.1f} and {median['two processes']['per_minute']:.1f}")
    print(f"throughput, two nodes against one: {two['per_minute'] / one['per_minute']:.2f}x (by wall from "
          f"submission: {one['wall'] / two['wall']:.2f}x; training seconds two/one: {two['training'] / one['training']:.2f})")
    print(f"the machine's ceiling, two plain processes against one: {ceiling:.2f}x (training seconds two/one: "
          f"{median['two processes']['training'] / median['one process']['training']:.2f}); the cluster reaches "
          f"{two['per_minute'] / one['per_minute'] / ceiling:.0%} of it")


if __name__ == "__main__":
    main()
