"""Throughput of a sweep on one Ray node and on two: the same sweep, submitted through the Jobs API, on the
cluster of docker-compose.yml started natively (tests/cluster/native.py: a Ray head and a worker node of
1 CPU each, an MLflow server, PostgreSQL), first with the worker node stopped, then with it.

Throughput is trials per minute over the sweep's span, from its first trial's start to its last trial's
end (the ledger's timestamps); the wall time from submission to the sweep's end, which adds the job's
and the driver's start, is printed beside it.

    python bench/cluster.py                        # about 4 minutes
    python bench/cluster.py --trials 24 --epochs 30
"""

from __future__ import annotations

import argparse
import json
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
    from searchsvc.ledger import get_ledger

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each trial (about 0.12 s each here)")
    args = parser.parse_args()

    from tests.cluster.native import NativeCluster

    root = Path(tempfile.mkdtemp(prefix="searchsvc-bench-cluster-"))
    spec = root / "throughput.yaml"
    spec.write_text(SPEC.format(trials=args.trials, epochs=args.epochs))
    cluster = NativeCluster(root)
    cluster.start()
    try:
        print(f"{args.trials} trials of {args.epochs} epochs, one at a time per node (1 CPU each), bundle 1; "
              f"files in {root}", flush=True)
        cluster.services["ray-worker"].stop()  # one node: the head alone
        from tests.cluster.native import wait_for

        wait_for(lambda: cluster.alive_nodes() == 1, 120, "the worker node to leave")
        one = sweep(cluster, spec, root / "laptop")
        cluster.start_worker()
        two = sweep(cluster, spec, root / "laptop")
    finally:
        cluster.stop()
    for label, r in (("one node ", one), ("two nodes", two)):
        print(f"{label}: {r['trials']} trials on {r['nodes']} node(s) in {r['span']:.1f} s of trials "
              f"({r['per_minute']:.1f} trials/min; {r['training']:.1f} s of training), {r['wall']:.1f} s from "
              "submission to the end")
    print(f"throughput, two nodes against one: {two['per_minute'] / one['per_minute']:.2f}x "
          f"(by wall from submission: {one['wall'] / two['wall']:.2f}x)")


if __name__ == "__main__":
    main()
