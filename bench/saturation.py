"""Where one driver's result path saturates: synthetic finished trials fed at rising rates.

A driver's every result takes one path (searchsvc.run.recorder): Tune's callback updates the trial's state
and queues writes (the controller thread), one thread writes the ledger's rows, MLflow's writer threads
its runs. This feeds that path with synthetic trials (start, one epoch report on the way, the final report
with 20 epochs, as a 30-s trial sends them) at rising rates, each rate for ``--seconds``, into the real
stores: the ledger on PostgreSQL and MLflow through a real ``mlflow server`` (its default workers) on the
same database. At each rate it runs MLflow's writer as it was (one thread, each write alone: ``old``),
as it is (``--lanes`` threads, a trial's waiting writes as one), and with MLflow's async logging
(``async``: one thread, each batch of params, metrics and tags handed to MLflow's own queue,
``log_batch(synchronous=False)``, which sends them from a pool of 10 threads; creating and ending a run
stay round trips), side by side. For each part it prints what it sustained (trials it finished per
second while being fed) and how far it lagged behind at the end (seconds to finish what was fed, waited
at most ``--max-lag``); a part saturates where it falls behind.
The server's and PostgreSQL's CPU per trial say what bounds MLflow's rate on this machine.

    python bench/saturation.py                     # about 5 minutes; PostgreSQL at 127.0.0.1:5432
    python bench/saturation.py --rates 10 20 40 --lanes 2 4 8 --ledger-rates 500 1000 --seconds 10

bench/README.md turns the figures into the cluster a driver can serve.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EPOCHS = 20
#: the trials' space: what a trial's row and run carry as its params
SPEC = """\
name: saturation
trials: {trials}
dataset: {{name: mnist1d}}
space: {{units: 64, lr: 0.003, optimizer: adam}}
"""


def synthetic_reports(k: int) -> tuple:
    """Trial k's epoch report and final report, as a 30-s trial of 20 epochs sends them."""
    from experiments.results import EpochMetrics, TrialResult
    from searchsvc.run.protocol import EpochReport, FinalReport, to_tune
    from searchsvc.stores.records import Node

    curves = [EpochMetrics(e, 1.0 / e, 1.0 / e, 0.5 + e / 100, 1.5) for e in range(1, EPOCHS + 1)]
    result = TrialResult(status="ok", val_score=0.7, test_score=0.69, val_n=800, test_n=1000, epochs=EPOCHS,
                         best_epoch=EPOCHS, param_count=30_000, memory_estimate_bytes=10**7, train_seconds=30.0,
                         cpu_seconds=29.0, samples_per_second=1e4, device="cuda (H200)")
    node = Node("f" * 56, "gpu-worker-1")
    half = EPOCHS // 2
    return (to_tune(EpochReport(k, tuple(curves[:half]))),
            to_tune(FinalReport(k, 1, tuple(curves[half:]), result, None, node)))


def run_rate(ledger_url: str, server, rate: float, seconds: float, lanes: int = 1, batch: bool = True,
             max_lag: float = 30.0, queued: bool = False) -> dict[str, float]:
    """Feed ``rate`` trials/s for ``seconds`` into a recorder (MLflow through ``server`` unless None, on
    ``lanes`` threads, ``batch``ing a trial's waiting writes, its batches ``queued`` to MLflow's async logging);
    how each part kept up."""
    from searchsvc.run.protocol import Bundle
    from searchsvc.run.recorder import TrialRecorder
    from searchsvc.stores.lease import Lease
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.stores.tracking import get_tracker
    from searchsvc.sweep.spec import parse_spec

    n = max(1, int(rate * seconds))
    ledger = get_ledger(ledger_url)
    sweep_id = f"sat-{secrets.token_hex(4)}"
    tracker = get_tracker(server.url) if server else None
    parent = tracker.start_sweep("saturation", sweep_id, {}, {}) if tracker else None
    operations = _async_batches(tracker) if queued else None
    spec = parse_spec(SPEC.format(trials=n))
    lease = Lease(sweep_id)
    ledger.create_sweep(sweep_id, spec, lease, mlflow_run_id=parent)
    recorder = TrialRecorder(ledger, tracker, parent, lease, spec, {}, on_lease_lost=lambda lost: None,
                             mlflow_lanes=lanes, mlflow_batch=batch)
    reports = [synthetic_reports(k) for k in range(n)]
    trials = [SimpleNamespace(trial_id=f"t{k}", config=Bundle((k,)).to_tune(), error_file=None) for k in range(n)]
    callback_cpu = 0.0
    server_cpu, process_cpu = _server_cpu(server), time.process_time()
    started = time.monotonic()
    for k, trial in enumerate(trials):  # the controller thread, as Tune calls the callbacks
        time.sleep(max(0.0, started + k / rate - time.monotonic()))
        cpu = time.thread_time()
        recorder.on_trial_start(0, [], trial)
        recorder.on_trial_result(0, [], trial, reports[k][0])
        recorder.on_trial_result(0, [], trial, reports[k][1])
        callback_cpu += time.thread_time() - cpu
    fed = time.monotonic() - started
    drained = _drained(recorder, started, fed + max_lag, operations)
    sent = sum(map(_sent, operations)) / max(1, len(operations)) if operations else 1.0  # async: share sent by now
    recording = recorder.close(mlflow_timeout_s=0.0 if len(drained) < 1 + bool(server) else None)
    assert not recording.ledger_lost, recording
    done = n - len(recording.mlflow_missing)  # trials MLflow took whole
    if operations is not None:  # MLflow's queue reports its failures only to whoever waits on them
        failed = sum(1 for op in operations if _failed(op))
        assert not failed, f"MLflow's async logging: {failed} batches failed"
    out = {"offered": n / fed, "callback_ms": callback_cpu / n * 1000, "load": os.getloadavg()[0],
           "ledger_cpu_ms": recorder.ledger.cpu_seconds / n * 1000}
    if server:
        # MLflow's writers: this process's CPU but the callbacks' and the ledger's (MLflow's own threads included)
        writers_cpu = time.process_time() - process_cpu - callback_cpu - recorder.ledger.cpu_seconds
        out["mlflow_cpu_ms"] = writers_cpu / done * 1000
        out["server_cpu_ms"] = (_server_cpu(server) - server_cpu) / done * 1000
    for part in ("ledger", "mlflow") if server else ("ledger",):  # sustained: done per second of feeding and lag
        if part in drained:
            out[f"{part}_rate"], out[f"{part}_lag"] = n / max(drained[part], fed), max(0.0, drained[part] - fed)
        else:  # still behind at --max-lag: what it had done by then (async: the share of its batches sent)
            share = sent if part == "mlflow" else 1.0
            out[f"{part}_rate"], out[f"{part}_lag"] = done * share / (fed + max_lag), max_lag
    ledger.close()
    return out


def _async_batches(tracker) -> list:
    """Make the tracker's batches go through MLflow's async logging; the list of their operations, as queued."""
    operations, log_batch = [], tracker.client.log_batch
    tracker.client.log_batch = lambda run_id, **batch: operations.append(log_batch(run_id, synchronous=False, **batch))
    return operations


def _sent(operation) -> bool:
    """Whether MLflow has sent the batch (``RunOperations`` has only a blocking ``wait``)."""
    return all(future.done() for future in operation._operation_futures)


def _failed(operation) -> bool:
    try:
        operation.wait()
    except Exception:  # noqa: BLE001 - MLflow raises what its logging thread met
        return True
    return False


def request_costs(ledger_url: str, server, trials: int = 60) -> dict[str, tuple[int, float]]:
    """The MLflow server's CPU ms per request of each kind the writer sends, with its count: ``trials`` trials
    fed at 5/s through one lane (each written whole: its run created with its tags, one batch of params,
    curves, results and tags, its end), the requests made one at a time, so the server's CPU meanwhile is theirs."""
    from collections import Counter

    from mlflow.tracking import MlflowClient

    cpu, count, one_at_a_time = Counter(), Counter(), threading.Lock()
    methods = {name: getattr(MlflowClient, name) for name in ("create_run", "log_batch", "set_terminated")}

    def measured(name: str, method):
        def call(self, *args, **kwargs):
            with one_at_a_time:
                before = _server_cpu(server)
                try:
                    return method(self, *args, **kwargs)
                finally:
                    cpu[name] += _server_cpu(server) - before
                    count[name] += 1
        return call

    for name, method in methods.items():
        setattr(MlflowClient, name, measured(name, method))
    try:
        run_rate(ledger_url, server, 5, trials / 5, lanes=1)
    finally:
        for name, method in methods.items():
            setattr(MlflowClient, name, method)
    return {name: (count[name], cpu[name] / count[name] * 1000) for name in methods if count[name]}


def _drained(recorder, started: float, give_up: float, operations: list | None = None) -> dict[str, float]:
    """Seconds from the feed's start until each writer had handled all it was given (polled every 10 ms), for
    those done within ``give_up`` seconds of the start; with ``operations``, MLflow's are those it queued too."""
    writers = {"ledger": recorder.ledger, **({"mlflow": recorder.mlflow} if recorder.mlflow else {})}
    done: dict[str, float] = {}
    operations, first_unsent = operations or [], 0

    def all_sent() -> bool:  # a cursor past the batches sent: each is checked until sent, not at every poll
        nonlocal first_unsent
        while first_unsent < len(operations) and _sent(operations[first_unsent]):
            first_unsent += 1
        return first_unsent == len(operations)

    while len(done) < len(writers) and time.monotonic() - started < give_up:
        for part, writer in writers.items():
            if part not in done and writer.idle and (part != "mlflow" or all_sent()):
                done[part] = time.monotonic() - started
        time.sleep(0.01)
    return done


def _server_cpu(server) -> float:
    """CPU seconds so far of the MLflow server's processes (from /proc)."""
    if server is None:
        return 0.0
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.name)] = int(fields[1]), int(fields[11]) + int(fields[12])  # ppid, utime + stime
    tree, grew = {server.process.pid}, True
    while grew:
        children = {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree
        tree, grew = tree | children, bool(children)
    return sum(stats[pid][1] for pid in tree if pid in stats) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[10, 25, 50, 100],
                        help="trials/s fed to the whole path, ledger and MLflow")
    parser.add_argument("--lanes", type=int, nargs="+", default=[4],
                        help="MLflow writer threads of the new writer, each compared with the old writer")
    parser.add_argument("--ledger-rates", type=float, nargs="+", default=[250, 500, 1000],
                        help="trials/s fed to the path without MLflow (the ledger's own limit, past MLflow's)")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each rate is fed")
    parser.add_argument("--max-lag", type=float, default=20.0,
                        help="seconds a writer behind is waited for once the feed ends (its rate: what it did)")
    args = parser.parse_args()

    import mlflow

    from tests.searchsvc.servers import MlflowServer, scratch_database

    tmp = Path(tempfile.mkdtemp(prefix="searchsvc-saturation-"))
    with scratch_database("searchsvc_saturation") as url:
        server = MlflowServer(url, tmp, workers=None).start()
        print(f"ledger: PostgreSQL {url}; MLflow {mlflow.__version__} server {server.url} (its default workers) on "
              f"the same database; each trial: start, an epoch report, a final report ({EPOCHS} epochs); "
              f"{args.seconds:g} s a rate; {os.cpu_count()} cores; load = 1-min load average after the rate")
        print("CPU ms: per trial, of the ledger's writer, of MLflow's writers, of the MLflow server's processes")
        try:
            run_rate(url, server, 5, 2)  # warm: MLflow's first requests, the tables
            costs = request_costs(url, server)
            print("server CPU per request, one at a time (trials written whole, as a lane writes a short trial): " +
                  ", ".join(f"{name} {ms:.1f} ms (×{n})" for name, (n, ms) in costs.items()) +
                  f"; {sum(ms for _, ms in costs.values()):.1f} ms a trial", flush=True)
            print(f"{'writer':>14} {'offered/s':>10} {'callback ms':>12} {'ledger/s':>9} {'lag s':>6} {'mlflow/s':>9} "
                  f"{'lag s':>6} {'ledger CPU':>11} {'writer CPU':>11} {'server CPU':>11} {'load':>5}")
            writers = ([("old", 1, False, False)] + [(f"{lanes} lanes", lanes, True, False) for lanes in args.lanes]
                       + [("async", 1, True, True)])
            runs = [(r, w) for r in args.rates for w in writers] + [(r, None) for r in args.ledger_rates]
            for rate, writer in runs:
                name, lanes, batch, queued = writer or ("ledger only", 1, True, False)
                r = run_rate(url, server if writer else None, rate, args.seconds, lanes, batch, args.max_lag, queued)
                if writer:
                    lag = f"{'>' if r['mlflow_lag'] >= args.max_lag else ''}{r['mlflow_lag']:.2f}"
                    mlflow_part = f"{r['mlflow_rate']:>9.1f} {lag:>6}"
                    cpu = f"{r['mlflow_cpu_ms']:>11.1f} {r['server_cpu_ms']:>11.1f}"
                else:
                    mlflow_part, cpu = f"{'-':>9} {'-':>6}", f"{'-':>11} {'-':>11}"
                print(f"{name:>14} {r['offered']:>10.1f} {r['callback_ms']:>12.3f} {r['ledger_rate']:>9.1f} "
                      f"{r['ledger_lag']:>6.2f} {mlflow_part} {r['ledger_cpu_ms']:>11.2f} {cpu} {r['load']:>5.1f}",
                      flush=True)
        finally:
            server.kill()


if __name__ == "__main__":
    main()
