"""What a short trial's MLflow run costs the driver: the client's three calls against one transaction.

A trial that ends before its first report gets its whole run at once (``Tracker.record_trial``):
through ``MlflowClient`` (create the run with its tags, one batch of params and metrics, end it), or,
where the store is MLflow's SQL store in this process, in one transaction (``searchsvc.stores.mlflow_sql``).
Both write the same run, as the recorder writes it: 6 params, ``--epochs`` × 3 learning-curve rows,
the result's numbers, and the trial's tags. Rounds alternate the two ways, each into its own fresh store; the CPU time of the
writing thread is printed per trial, with the medians and their ratio.

    python bench/recording.py                      # SQLite, about 30 s
    python bench/recording.py --store postgresql+psycopg://postgres@127.0.0.1:5432/DB   # an empty database
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PARAMS = {"units": 64, "layers": 2, "dropout": 0.1, "dropout_placement": "between", "optimizer": "adam", "lr": 0.003}


def trial(k: int, epochs: int) -> tuple:
    """Trial k as the recorder hands it to the tracker: its record (an ok result) and its epochs."""
    from experiments.results import EpochMetrics, TrialResult
    from searchsvc.stores.records import TrialRecord, now
    from searchsvc.stores.records import Node

    result = TrialResult(status="ok", val_score=0.5, test_score=0.5, val_n=800, test_n=1000, epochs=epochs,
                         best_epoch=epochs, param_count=17_000, memory_estimate_bytes=10**6, train_seconds=2.0,
                         cpu_seconds=2.0, samples_per_second=5e4, device="cpu")
    curves = tuple(EpochMetrics(e, 1.0 / e, 1.0 / e, 0.5, 0.1) for e in range(1, epochs + 1))
    return TrialRecord("s", k, PARAMS, "ok", 1, result, curves, node=Node("n", "h"), started_at=now()), curves


def cpu_ms_per_trial(store: str, one_transaction: bool, trials: int, epochs: int) -> float:
    from searchsvc.stores.tracking import get_tracker

    tracker = get_tracker(store)
    if not one_transaction:
        tracker._sql_store = None  # what a store other than MLflow's SQL store in this process gets
    parent = tracker.start_sweep("recording", f"s{time.time_ns()}", {}, {})
    record, curves = trial(0, epochs)
    tracker.record_trial(parent, record, "accuracy", curves)  # warm: first-use costs
    written = [trial(k, epochs) for k in range(1, trials + 1)]
    started = time.thread_time()
    for record, curves in written:
        tracker.record_trial(parent, record, "accuracy", curves)
    return (time.thread_time() - started) / trials * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200, help="runs written each way in each round")
    parser.add_argument("--epochs", type=int, default=16, help="learning-curve length of each run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", help="an MLflow store URI (default: a fresh SQLite file each round)")
    args = parser.parse_args()

    import mlflow

    print(f"MLflow {mlflow.__version__}; {args.trials} runs each way a round, {args.epochs} epochs a run; "
          "CPU ms of the writing thread per run")
    measured: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # MLflow keeps a database store's artifacts (the sweep's spec) in ./mlruns
        for r in range(args.rounds):
            for one_transaction in (r % 2 == 0, r % 2 != 0):  # alternate which goes first
                store = args.store or f"sqlite:///{tmp}/{r}-{one_transaction}.db"
                measured[one_transaction].append(cpu_ms_per_trial(store, one_transaction, args.trials, args.epochs))
            print(f"round {r + 1}: client's three calls {measured[False][-1]:6.2f} ms, "
                  f"one transaction {measured[True][-1]:6.2f} ms")
    client, one = statistics.median(measured[False]), statistics.median(measured[True])
    print(f"median: client's three calls {client:.2f} ms, one transaction {one:.2f} ms: {client / one:.1f}× less CPU")


if __name__ == "__main__":
    main()
