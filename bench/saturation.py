"""Where one driver's result path saturates: synthetic finished trials fed at rising rates.

A driver's every result takes one path (searchsvc.run.recorder): Tune's callback updates the trial's state
and queues writes (the controller thread), one thread writes the ledger's rows, one thread writes
MLflow's runs. This feeds that path with synthetic trials (start, one epoch report on the way, the
final report with 20 epochs, as a 30-s trial sends them) at rising rates, each rate for ``--seconds``,
into the real stores: the ledger on PostgreSQL and MLflow through a real ``mlflow server``. For each
part it prints what it sustained (trials it finished per second while being fed) and how far it lagged
behind at the end (seconds to finish what was fed); a part saturates where it falls behind.

    python bench/saturation.py                     # about 5 minutes; PostgreSQL at 127.0.0.1:5432
    python bench/saturation.py --rates 10 20 40 --ledger-rates 200 400 800 1600 --seconds 10

bench/README.md turns the figures into the cluster a driver can serve.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
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


def run_rate(ledger_url: str, tracking_uri: str | None, rate: float, seconds: float) -> dict[str, float]:
    """Feed ``rate`` trials/s for ``seconds`` into a recorder; how each part kept up."""
    from searchsvc.run.protocol import Bundle
    from searchsvc.run.recorder import TrialRecorder
    from searchsvc.stores.lease import Lease
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.stores.tracking import get_tracker
    from searchsvc.sweep.spec import parse_spec

    n = max(1, int(rate * seconds))
    ledger = get_ledger(ledger_url)
    sweep_id = f"sat-{secrets.token_hex(4)}"
    tracker = get_tracker(tracking_uri) if tracking_uri else None
    parent = tracker.start_sweep("saturation", sweep_id, {}, {}) if tracker else None
    spec = parse_spec(SPEC.format(trials=n))
    lease = Lease(sweep_id)
    ledger.create_sweep(sweep_id, spec, lease, mlflow_run_id=parent)
    recorder = TrialRecorder(ledger, tracker, parent, lease, spec, {}, on_lease_lost=lambda lost: None)
    reports = [synthetic_reports(k) for k in range(n)]
    callback_cpu = 0.0
    started = time.monotonic()
    for k in range(n):  # the controller thread, as Tune calls the callbacks
        time.sleep(max(0.0, started + k / rate - time.monotonic()))
        trial = SimpleNamespace(trial_id=f"t{k}", config=Bundle((k,)).to_tune(), error_file=None)
        cpu = time.thread_time()
        recorder.on_trial_start(0, [], trial)
        recorder.on_trial_result(0, [], trial, reports[k][0])
        recorder.on_trial_result(0, [], trial, reports[k][1])
        callback_cpu += time.thread_time() - cpu
    fed = time.monotonic() - started
    drained = _drained(recorder, started)
    recording = recorder.close()
    assert not recording.ledger_lost and not recording.mlflow_missing, recording
    out = {"offered": n / fed, "callback_ms": callback_cpu / n * 1000,
           "writer_cpu_ms": recording.cpu_seconds / n * 1000}
    for part, done in drained.items():  # sustained: what was done per second of feeding (and of lagging behind)
        out[f"{part}_rate"], out[f"{part}_lag"] = n / max(done, fed), max(0.0, done - fed)
    ledger.close()
    return out


def _drained(recorder, started: float) -> dict[str, float]:
    """Seconds from the feed's start until each writer had handled all it was given (polled every 10 ms)."""
    writers = {"ledger": recorder.ledger, **({"mlflow": recorder.mlflow} if recorder.mlflow else {})}
    done: dict[str, float] = {}
    while len(done) < len(writers):
        for part, writer in writers.items():
            if part not in done and writer.idle:
                done[part] = time.monotonic() - started
        time.sleep(0.01)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 10, 20, 40, 80],
                        help="trials/s fed to the whole path, ledger and MLflow")
    parser.add_argument("--ledger-rates", type=float, nargs="+", default=[100, 200, 400, 800],
                        help="trials/s fed to the path without MLflow (the ledger's own limit, past MLflow's)")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each rate is fed")
    args = parser.parse_args()

    import mlflow

    from tests.searchsvc.servers import MlflowServer, scratch_database

    tmp = Path(tempfile.mkdtemp(prefix="searchsvc-saturation-"))
    with scratch_database("searchsvc_saturation") as url:
        server = MlflowServer(url, tmp).start()
        print(f"ledger: PostgreSQL {url}; MLflow {mlflow.__version__} server {server.url} (1 worker) on the same "
              f"database; each trial: start, an epoch report, a final report ({EPOCHS} epochs); {args.seconds:g} s a rate")
        print(f"{'offered/s':>10} {'callback ms':>12} {'ledger/s':>9} {'lag s':>6} {'mlflow/s':>9} {'lag s':>6} "
              f"{'writers CPU ms':>15}")
        try:
            run_rate(url, server.url, 5, 2)  # warm: MLflow's first requests, the tables
            for rate, tracking in [(r, server.url) for r in args.rates] + [(r, None) for r in args.ledger_rates]:
                r = run_rate(url, tracking, rate, args.seconds)
                mlflow_part = f"{r['mlflow_rate']:>9.1f} {r['mlflow_lag']:>6.2f}" if tracking else f"{'-':>9} {'-':>6}"
                print(f"{r['offered']:>10.1f} {r['callback_ms']:>12.3f} {r['ledger_rate']:>9.1f} "
                      f"{r['ledger_lag']:>6.2f} {mlflow_part} {r['writer_cpu_ms']:>15.2f}", flush=True)
        finally:
            server.kill()

if __name__ == "__main__":
    main()
