"""A sweep whose MLflow tracking server dies against the same sweep with the server up, side by side.

Each round runs the sweep twice, in driver processes of their own, recording into a real ``mlflow
server`` (on PostgreSQL) and a SQLite ledger: once with the server up throughout, once with the server
killed (SIGKILL) once a fifth of the trials have finished; the order alternates between rounds. It
prints each sweep's wall time and the ratio (down / up), and the trials MLflow missed.

    python bench/faults.py                         # 3 rounds of 2 x 32 trials, about 8 minutes
    python bench/faults.py --trials 64 --epochs 12 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SPEC = """\
name: faults
seed: 2
trials: {trials}
dataset: {{name: mnist1d, samples: 2000}}
training: {{max_epochs: {epochs}, patience: null}}
max_concurrent: 2
space:
  units: {{type: log_int, low: 16, high: 32}}
  optimizer: {{type: choice, values: [sgd, adam]}}
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
"""


def sweep(spec: Path, ledger: str, tracking: str, kill_after: int | None, server) -> dict:
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.status import TrialStatus

    before = {s.sweep_id for s in get_ledger(ledger).sweeps()}
    process = subprocess.Popen([sys.executable, "-m", "searchsvc", "submit", str(spec), "--ledger", ledger,
                                "--tracking-uri", tracking, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    if kill_after is not None:
        while process.poll() is None:
            new = [s for s in get_ledger(ledger).sweeps() if s.sweep_id not in before]
            if new and sum(TrialStatus(t.status).final for t in get_ledger(ledger).trials(new[0].sweep_id)) >= kill_after:
                server.kill()
                break
            time.sleep(0.2)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(err[-2000:])
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from tests.searchsvc.servers import MlflowServer, scratch_database

    tmp = Path(tempfile.mkdtemp(prefix="searchsvc-faults-"))
    spec = tmp / "faults.yaml"
    spec.write_text(SPEC.format(trials=args.trials, epochs=args.epochs))
    ledger = f"sqlite:///{tmp / 'ledger.db'}"
    print(f"{args.trials} trials of {args.epochs} epochs, 2 at a time; MLflow server on PostgreSQL; files in {tmp}")
    walls: dict[str, list[float]] = {"up": [], "down": []}
    with scratch_database("searchsvc_faults") as backend:
        server = MlflowServer(backend, tmp).start()
        try:
            sweep(spec, ledger, server.url, None, server)  # warm: the data set on disk, MLflow's tables
            for r in range(args.rounds):
                for case in (("up", "down") if r % 2 == 0 else ("down", "up")):
                    if server.process.poll() is not None:
                        server.start()
                    outcome = sweep(spec, ledger, server.url, args.trials // 5 if case == "down" else None, server)
                    walls[case].append(outcome["wall_seconds"])
                    missed = len(outcome["mlflow_missing"])
                    print(f"round {r + 1}, MLflow {case:>4}: {outcome['wall_seconds']:6.1f} s, status "
                          f"{outcome['status']}, {sum(outcome['counts'].values())} trials, MLflow missed {missed}",
                          flush=True)
        finally:
            server.kill()
    up, down = statistics.median(walls["up"]), statistics.median(walls["down"])
    print(f"median wall: MLflow up {up:.1f} s, killed mid-sweep {down:.1f} s: {down / up:.3f}x")


if __name__ == "__main__":
    main()
