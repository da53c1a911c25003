"""The end of a sweep: seconds from its last trial's result to the exit of the process that ran it.

Each round runs ``searchsvc submit SPEC --json --quiet`` in a process of its own, with a searchsvc home of
its own (the ledger and MLflow's store in SQLite), and takes the time from the latest ``finished_at`` of
the ledger's trials (the database's clock: SQLite's, this machine's) to the moment the process has exited.
In that time the sweep's summary goes onto its MLflow run, the records are closed and the embedded Ray
stops. Beside it, in the same round, the same command through ``searchsvc.cli.main`` with the
interpreter's full teardown at exit (as a plain ``main()`` entry point gets): what skipping it buys.
The load average is printed with every figure: the machine may be shared.

    python bench/ending.py                                # the quickstart, 3 rounds (about 20 minutes on 2 cores)
    python bench/ending.py --spec SPEC.yaml --repeat 1    # any spec
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: how each way starts the command: the entry point, and main() with the interpreter's teardown after it
WAYS = {"entry": ["-m", "searchsvc"],
        "teardown": ["-c", "import sys; from searchsvc.cli import main; sys.argv[0] = 'searchsvc'; main()"]}


def end_seconds(spec: Path, way: str) -> tuple[float, float]:
    """(seconds from the last trial's result to the exit, the sweep's wall seconds) of one submit."""
    from searchsvc.stores.ledger import get_ledger

    home = tempfile.mkdtemp(prefix="searchsvc-ending-")
    env = {**os.environ, "SEARCHSVC_HOME": home, "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("SEARCHSVC_LEDGER", None)
    started = time.time()
    done = subprocess.run([sys.executable, *WAYS[way], "submit", str(spec), "--json", "--quiet"], env=env,
                          capture_output=True, text=True)
    exited = time.time()
    if done.returncode != 0:
        raise SystemExit(f"submit failed ({done.returncode}):\n{done.stderr[-3000:]}")
    outcome = json.loads(done.stdout)
    trials = get_ledger(outcome["ledger"], create=False).trials(outcome["sweep_id"])
    return exited - max(t.finished_at for t in trials).timestamp(), exited - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=ROOT / "experiments" / "quickstart.yaml")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both ways")
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=list(WAYS))
    args = parser.parse_args()

    figures: dict[str, list[float]] = {way: [] for way in args.ways}
    for i in range(args.repeat):
        for way in args.ways[:: -1 if i % 2 else 1]:  # alternate the order: a drift hits both alike
            end, wall = end_seconds(args.spec, way)
            figures[way].append(end)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"round {i + 1} {way:<9} last result → exit {end:5.2f} s   (sweep {wall:.1f} s; load {load})",
                  flush=True)
    print("medians: " + ", ".join(f"{way} {statistics.median(v):.2f} s" for way, v in figures.items()))


if __name__ == "__main__":
    main()
