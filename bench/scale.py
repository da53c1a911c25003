"""A sweep of S trivial trials through the CLI, end to end, each step's time against its goal.

Everything runs as a user would run it: ``python -m searchsvc …`` in a fresh process per command, with
the defaults (an embedded local Ray, the SQLite ledger and MLflow's SQLite store under a temporary
``SEARCHSVC_HOME``). Trials are trivial: 1 epoch of an LSTM of 8-16 units on 600 MNIST-1D samples.

  first trial  the time from launching ``submit`` to its first trial's start (the ledger's ``started_at``),
               and the driver's peak RSS, of a 10-trial sweep and of the S-trial one (within 2x)
  submit       the S-trial sweep: its wall time, and trials/s from its first start to its last finish
  validate     ``validate --show 1`` of the S-trial spec
  status, show --json, list, export, analyze (figures and importance included)
  resume       the same spec submitted again, SIGTERM to its driver once half its trials are final, then
               ``resume``: the time to its first new trial, and that MLflow holds one run per trial

    python bench/scale.py                  # S=10000: about half an hour on 2 cores
    python bench/scale.py --trials 1000    # a few minutes
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SPEC = """\
name: {name}
seed: 0
trials: {trials}
dataset: {{name: mnist1d, samples: 600}}
training: {{max_epochs: 1, patience: null}}
space:
  units: {{type: int, low: 8, high: 16}}
  layers: 1
  optimizer: adam
  lr: 0.003
  batch_size: 64
"""

#: each step's goal on a 2-core machine: seconds at most (trials/s at least for the driver)
GOALS = {"status": 1.0, "show --json": 5.0, "analyze": 30.0}
DRIVER_GOAL = 20.0  # trials/s


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended (with the children they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Command:
    """``python -m searchsvc ARGS`` started now; its peak RSS read while it runs (Linux's VmHWM), and its CPU
    seconds once it has ended (commands run one at a time)."""

    def __init__(self, *args: str, stdout: Path | None = None) -> None:
        self.args = args
        self.cpu = -children_cpu()
        self.out = open(stdout, "w") if stdout else subprocess.DEVNULL  # noqa: SIM115 - closed in wait()
        self.launched = time.time()
        self.process = subprocess.Popen([sys.executable, "-m", "searchsvc", *args], stdout=self.out,
                                        stderr=subprocess.PIPE, text=True)
        self.peak_kib = 0
        self.rss: list[tuple[float, int]] = []  # (epoch seconds, KiB), every 0.1 s
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        status = Path(f"/proc/{self.process.pid}/status")
        while self.process.poll() is None:
            try:
                fields = dict(x.split(":", 1) for x in status.read_text().splitlines() if x.startswith("Vm"))
                self.peak_kib = max(self.peak_kib, int(fields["VmHWM"].split()[0]))
                self.rss.append((time.time(), int(fields["VmRSS"].split()[0])))
            except (OSError, KeyError, ValueError):
                return
            time.sleep(0.1)

    def rss_mib(self, until: float) -> float:
        """The largest RSS sampled up to ``until`` (epoch seconds), in MiB."""
        return max((kib for at, kib in self.rss if at <= until), default=0) / 1024

    def wait(self, ok: tuple[int, ...] = (0,)) -> float:
        """Seconds from launch to exit; raises unless its exit status is in ``ok``."""
        _, err = self.process.communicate()
        seconds = time.time() - self.launched
        self.cpu += children_cpu()
        if self.out is not subprocess.DEVNULL:
            self.out.close()
        if self.process.returncode not in ok:
            raise RuntimeError(f"searchsvc {' '.join(self.args)}: exit {self.process.returncode}\n{err[-3000:]}")
        return seconds


def timed(*args: str, stdout: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of a command."""
    command = Command(*args, stdout=stdout)
    return command.wait(), command.cpu


def last_finish(ledger, sweep_id: str) -> float:
    return max(t.finished_at.timestamp() for t in ledger.trials(sweep_id, epochs=False) if t.finished_at)


def first_start(ledger, sweep_id: str, after: float = 0.0) -> float:
    """The earliest start (epoch seconds) of a trial of the sweep that started after ``after``."""
    return min(t.started_at.timestamp() for t in ledger.trials(sweep_id)
               if t.started_at and t.started_at.timestamp() >= after)


def span_rate(ledger, sweep_id: str, workers: int) -> tuple[float, str]:
    """Trials finished per second, from the first trial's start to the last one's finish; and what bounds it:
    how busy the workers were (a trial's start to its finish, over the span) and the trials' own seconds."""
    trials = ledger.trials(sweep_id, epochs=False)
    span = (max(t.finished_at for t in trials) - min(t.started_at for t in trials)).total_seconds()
    busy = sum((t.finished_at - t.started_at).total_seconds() for t in trials) / (workers * span)
    train = sum(t.result.train_seconds for t in trials) / len(trials)
    cpu = sum(t.result.cpu_seconds for t in trials) / len(trials)
    return len(trials) / span, (f"{len(trials) / span:.1f} trials/s from first start to last finish; {workers} "
                                f"workers busy {busy:.0%} of it; a trial trains {train:.3f} s ({cpu:.3f} s CPU)")


def mlflow_runs_per_trial(mlflow_db: Path, sweep_id: str) -> dict[int, int]:
    """How many live MLflow runs each trial index of the sweep has (read from MLflow's SQLite store)."""
    from searchsvc.stores.tracking import KIND, SWEEP_ID, TRIAL_INDEX

    with sqlite3.connect(mlflow_db) as db:
        rows = db.execute(
            "SELECT k.value, COUNT(*) FROM tags k JOIN tags s ON s.run_uuid = k.run_uuid "
            "JOIN tags kind ON kind.run_uuid = k.run_uuid JOIN runs r ON r.run_uuid = k.run_uuid "
            "WHERE k.key = ? AND s.key = ? AND s.value = ? AND kind.key = ? AND kind.value = 'trial' "
            "AND r.lifecycle_stage = 'active' GROUP BY k.value", (TRIAL_INDEX, SWEEP_ID, sweep_id, KIND)).fetchall()
    return {int(k): n for k, n in rows}


def report(step: str, seconds: float, goal: str = "", extra: str = "") -> None:
    print(f"{step:<28} {seconds:8.2f} s  {goal:<22} {extra}  ({load()})", flush=True)


def against(seconds: float, limit: float) -> str:
    return f"goal < {limit:g} s: {'ok' if seconds < limit else 'MISSED'}"


def submit_sweep(folder: Path, name: str, trials: int) -> tuple[str, Command, float]:
    """Submit a sweep of ``trials``; its id, the finished command and its wall seconds."""
    spec = folder / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, trials=trials))
    sweep_id = f"{name}-{trials}"
    command = Command("submit", str(spec), "--sweep-id", sweep_id)
    return sweep_id, command, command.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000, help="S, the large sweep's trials")
    parser.add_argument("--small", type=int, default=10, help="the small sweep's trials (first-trial latency)")
    parser.add_argument("--skip-resume", action="store_true", help="leave out the killed-and-resumed sweep")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="searchsvc-scale-"))
    os.environ["SEARCHSVC_HOME"] = str(home)
    for name in ("SEARCHSVC_LEDGER", "MLFLOW_TRACKING_URI"):
        os.environ.pop(name, None)
    from searchsvc.home import default_ledger_url
    from searchsvc.status import TrialStatus
    from searchsvc.stores.ledger import get_ledger

    S = args.trials
    print(f"S={S} trivial trials (1 epoch, 8-16 units, 600 MNIST-1D samples), {os.cpu_count()} cores, files in "
          f"{home}; {load()}", flush=True)
    # a warm-up sweep (untimed): the data set generated into the cache, the stores' tables made
    submit_sweep(home, "warmup", 2)
    ledger = get_ledger(default_ledger_url())

    print(f"{'step':<28} {'seconds':>10}  {'goal':<22}")
    firsts: dict[str, float] = {}
    for n, label in ((args.small, "before"), (S, ""), (args.small, "after")):  # small ones around: load drifts
        sweep_id, command, wall = submit_sweep(home, f"scale{label}", n)
        firsts[label] = first_start(ledger, sweep_id) - command.launched
        report(f"submit {n}: first trial", firsts[label], "", f"driver peak RSS {command.peak_kib / 1024:.0f} MiB, "
               f"{command.rss_mib(last_finish(ledger, sweep_id)):.0f} MiB until its last trial's end (then the "
               "summary's analysis)")
        if n == S:
            rate, why = span_rate(ledger, sweep_id, os.cpu_count())
            report(f"submit {n}: whole sweep", wall, f"goal >= {DRIVER_GOAL:g} trials/s: "
                   f"{'ok' if rate >= DRIVER_GOAL else 'MISSED'}", f"{why}; {n / wall:.1f} trials/s over the wall")
    ratio = firsts[""] / min(firsts["before"], firsts["after"])
    print(f"first trial of {S} against the faster of the {args.small}-trial sweeps: {ratio:.2f}x "
          f"(goal <= 2x: {'ok' if ratio <= 2 else 'MISSED'})")

    big = f"scale-{S}"
    wall, cpu = timed("validate", str(home / "scale.yaml"), "--show", "1")
    report(f"validate --show 1 ({S})", wall, "", f"{cpu:.2f} s CPU")
    for step, command in (("status", ("status", big)), ("show --json", ("show", big, "--json")), ("list", ("list",)),
                          ("export", ("export", big, "--out", str(home / "export" / "trials.csv"))),
                          ("analyze", ("analyze", big, "--out", str(home / "report")))):
        seconds, cpu = timed(*command, stdout=home / f"{step.split()[0]}.out")
        report(step, seconds, against(seconds, GOALS[step]) if step in GOALS else "", f"{cpu:.2f} s CPU")

    if args.skip_resume:
        return
    spec = home / "resumed.yaml"
    spec.write_text(SPEC.format(name="resumed", trials=S))
    sweep_id = f"resumed-{S}"
    driver = Command("submit", str(spec), "--sweep-id", sweep_id)
    while driver.process.poll() is None:
        try:
            counts = ledger.status_counts(ledger.sweep(sweep_id))
        except Exception:  # noqa: BLE001 - the sweep's row is not written yet
            counts = {}
        if sum(n for s, n in counts.items() if TrialStatus(s).final) >= S // 2:
            driver.process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.5)
    stopped = time.time()
    driver.wait(ok=(130,))
    done = sum(n for s, n in ledger.status_counts(ledger.sweep(sweep_id)).items() if TrialStatus(s).final)
    report("SIGTERM at half: exit", time.time() - stopped, "", f"{done} of {S} trials final")
    again = Command("resume", sweep_id)
    wall = again.wait()
    report("resume: first new trial", first_start(ledger, sweep_id, again.launched) - again.launched, "",
           f"whole resume {wall:.1f} s")
    runs = mlflow_runs_per_trial(home / "mlflow.db", sweep_id)
    final = sum(n for s, n in ledger.status_counts(ledger.sweep(sweep_id)).items() if TrialStatus(s).final)
    duplicates = sum(n - 1 for n in runs.values() if n > 1)
    print(f"resumed sweep: {final} of {S} trials final; MLflow: {len(runs)} trials with a run, {duplicates} duplicate "
          f"runs ({'ok' if not duplicates and len(runs) == S == final else 'MISSED'})")
    print(f"done at {dt.datetime.now().isoformat(timespec='seconds')}; {load()}")


if __name__ == "__main__":
    main()
