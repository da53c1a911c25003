"""Commands that learn from finished trials: analyze, export, and the MLflow dashboard (ui)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from searchsvc.cli.group import cli, json_option, ledger_option, tracking_option
from searchsvc.errors import UsageError


@cli.command()
@click.argument("sweep_id", metavar="[SWEEP]", required=False)
@click.option("--table", "table", metavar="PATH", type=click.Path(dir_okay=False),
              help="Analyze a trials table (CSV or Parquet) instead of a sweep in the ledger.")
@click.option("--out", "out_dir", default="report", show_default=True, type=click.Path(file_okay=False),
              help="Folder for figures (PNG+SVG), CSV tables and summary.txt.")
@click.option("--mode", type=click.Choice(["max", "min"]), help="Score direction (required with --table).")
@click.option("--metric", "metric_name", help="Name of the score, for labels (default: the sweep's metric).")
@click.option("--reference", "references", multiple=True, metavar="LABEL=SCORE",
              help="A horizontal line on the efficiency plot, e.g. 'grid search=0.81'. Repeatable.")
@click.option("--compare", "compared", multiple=True, metavar="KIND[:LABEL]=SOURCE",
              help="Another search of the same space on the efficiency figure: KIND grid (its best, with its eq. 5-6 "
                   "band), sobol (its curve by blocks of 2^k points) or random; SOURCE a trials table or a sweep. "
                   "Repeatable.")
@click.option("--what-if", "what_if", multiple=True, metavar="RULE",
              help="Replay an early-termination rule on the sweep's recorded epochs, e.g. asha:min_epochs=2,eta=3 or "
                   "median:min_epochs=3: what it would have stopped, the compute it would have saved, the answer it "
                   "would have given. Repeatable.")
@click.option("--no-importance", is_flag=True, help="Skip fANOVA (the slow part).")
@ledger_option
@json_option
def analyze(sweep_id: str | None, table: str | None, out_dir: str, mode: str | None, metric_name: str | None,
            references: tuple[str, ...], compared: tuple[str, ...], what_if: tuple[str, ...], no_importance: bool,
            ledger: str | None, as_json: bool) -> None:
    """Random-search efficiency (Bergstra & Bengio 2012), expected best of n trials, how many trials are
    needed, and which hyperparameters matter; with --compare, random search against grid and Sobol searches
    of the same space. Figures and tables go to --out and, for a sweep, onto its MLflow run.

    \b
    Example:
      searchsvc analyze quickstart-20261122-101500-1a2b --out report/
      searchsvc analyze --table trials.csv --mode max --out report/
      searchsvc analyze --table random.csv --mode max --compare grid=grid.csv --compare sobol=sobol.csv
      searchsvc analyze quickstart-20261122-101500-1a2b --what-if asha:min_epochs=2,eta=3 --what-if median:min_epochs=3
    """
    from searchsvc.analyze import analyze_sweep, analyze_table, what_if_sweep, what_if_table

    if (sweep_id is None) == (table is None):
        raise UsageError("analyze: give either a SWEEP id or --table PATH (one of them)")
    lines = _parse_references(references)
    compare = _parse_compared(compared)
    if table is not None and mode is None:
        raise UsageError("--mode: required with --table; say whether higher (max) or lower (min) scores are better")
    replayed = None
    if what_if:  # first: a what-if that cannot be is refused before the analysis runs, a bad rule before all
        from analysis.stopping import parse_rule

        for rule in what_if:
            parse_rule(rule, where="--what-if")
        replayed = (what_if_table(table, what_if, out_dir, mode=mode, metric_name=metric_name or "score")
                    if table is not None else what_if_sweep(sweep_id, what_if, out_dir, ledger=ledger,
                                                            metric_name=metric_name))
    if table is not None:
        report = analyze_table(table, out_dir, mode=mode, metric_name=metric_name or "score", references=lines,
                               importance=not no_importance, compare=compare, ledger=ledger)
    else:
        report = analyze_sweep(sweep_id, out_dir, ledger=ledger, references=lines, importance=not no_importance,
                               metric_name=metric_name, compare=compare)
    if as_json:
        import json

        data = json.loads(report.to_json())
        if replayed is not None:
            data["what_if"] = replayed.to_dict()
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(report.summary_text())  # the summary names the files
        if replayed is not None:
            click.echo("\n".join(["", *replayed.summary_lines(metric_name or "score")]))
    if as_json:
        click.echo(f"wrote {len(report.files)} files to {out_dir}", err=True)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--out", "path", metavar="PATH", required=True, type=click.Path(dir_okay=False),
              help="Where to write the trials table (.csv or .parquet).")
@ledger_option
def export(sweep_id: str, path: str, ledger: str | None) -> None:
    """Write a sweep's trials in the analysis' table format (one row per trial, param_<name> columns), and beside
    it its search space (T.space.json) and every trial's epochs (T.curves.csv), which `analyze --table T.csv`
    reads (the curves for --what-if).

    \b
    Example:
      searchsvc export quickstart-20261122-101500-1a2b --out trials.csv
    """
    from analysis import write_curves, write_space, write_trials
    from searchsvc.stores.export import curves_frame, optuna_distributions, trials_frame
    from searchsvc.stores.ledger import get_ledger

    db = get_ledger(ledger, create=False)
    sweep = db.sweep(sweep_id)
    frame = trials_frame(db, sweep.sweep_id)
    written = write_trials(frame, path)
    space = write_space(written, optuna_distributions(sweep.spec.space))
    curves = write_curves(written, curves_frame(db, sweep.sweep_id))
    click.echo(f"wrote {len(frame)} trials of {sweep.sweep_id} to {written}, its search space to {space} and its "
               f"trials' epochs to {curves}", err=True)


def _parse_compared(items: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """``KIND[:LABEL]=SOURCE`` → ``(label, kind, source)``; the label defaults to the kind."""
    from analysis.compare import KINDS

    out = []
    for item in items:
        name, _, source = item.partition("=")
        kind, _, label = name.partition(":")
        if kind not in KINDS or not source:
            raise UsageError(f"--compare: expected KIND[:LABEL]=SOURCE with KIND one of {', '.join(KINDS)} and SOURCE "
                             f"a trials table or a sweep, like grid=grid.csv; got {item!r}")
        out.append((label or kind, kind, source))
    return out


def _parse_references(items: tuple[str, ...]) -> dict[str, float]:
    lines = {}
    for item in items:
        label, _, value = item.rpartition("=")
        try:
            lines[label.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--reference: expected LABEL=SCORE like 'grid search=0.81', got {item!r}") from None
        if not label.strip():
            raise UsageError(f"--reference: the label is empty in {item!r}; write LABEL=SCORE")
    return lines


@cli.command()
@tracking_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def ui(tracking_uri: str | None, host: str, port: int) -> None:
    """Open the MLflow dashboard on searchsvc's tracking store.

    \b
    Example:
      searchsvc ui --port 5000     # then browse http://127.0.0.1:5000/#/?workflowType=machine_learning
    """
    from searchsvc.home import default_tracking_uri
    from searchsvc.stores.locations import TrackingLocation

    location = TrackingLocation.parse(tracking_uri or default_tracking_uri())
    uri = location.uri
    if location.is_server:
        click.echo(f"The dashboard is served by the tracking server: {uri}")
        return
    from searchsvc.stores.tracking import UI_TRAINING_VIEW

    click.echo(f"MLflow UI for {uri} on http://{host}:{port}/#/{UI_TRAINING_VIEW} (Ctrl-C stops it)", err=True)
    sys.stdout.flush()
    # MLflow's GenAI job runner (huey, three processes) serves nothing searchsvc records, as in docker-compose.yml
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}
    # one worker: a personal dashboard over a local store (MLflow's default of 4 takes four times the start-up)
    code = _serve([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port",
                   str(port), "--workers", "1"], env)
    if code:
        sys.exit(code)


#: seconds the dashboard's processes have to end after SIGTERM, before SIGKILL
UI_STOP_S = 10.0


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` in a process group of its own until it ends, or until this process is stopped (Ctrl-C,
    SIGTERM): then the whole group, every process it started, gets SIGTERM, and SIGKILL after UI_STOP_S."""
    import signal
    import subprocess

    child = subprocess.Popen(command, env=env, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_group(child)


def _stop_group(child: Any) -> None:
    """SIGTERM to the group led by ``child``; SIGKILL to what is left of it after UI_STOP_S."""
    import contextlib
    import signal
    import subprocess
    import time

    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + UI_STOP_S
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(UI_STOP_S)
    while _group_lives(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


def _group_lives(group: int) -> bool:
    """Whether a process of that process group still runs (one that exited and awaits its parent's wait does not)."""
    from pathlib import Path

    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(pgrp) == group and state != "Z":
            return True
    return False
