"""The ``searchsvc`` command line. Data on stdout (``--json`` for machines), progress and logs on stderr.

Exit codes: 0 ok, 1 runtime failure, 2 invalid input (spec, data, flags, unknown sweep).
Heavy packages (ray, mlflow, torch) are imported inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from searchsvc.errors import SearchSvcError, UsageError, exit_code

ledger_option = click.option("--ledger", metavar="URL", envvar="SEARCHSVC_LEDGER",
                             help="Ledger database (default: sqlite under $SEARCHSVC_HOME, ~/.searchsvc).")
tracking_option = click.option("--tracking-uri", metavar="URI", envvar="MLFLOW_TRACKING_URI",
                               help="MLflow tracking store (default: sqlite under $SEARCHSVC_HOME).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="searchsvc")
def cli() -> None:
    """Random-search experiments for LSTM hyperparameters, on Ray Tune, recorded in a ledger and MLflow.

    \b
    searchsvc validate experiments/quickstart.yaml --show 5
    searchsvc submit experiments/quickstart.yaml
    searchsvc ui
    """


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--show", "show_n", type=click.IntRange(min=0), default=0, help="Also print the first N trial configs.")
@json_option
def validate(spec_path: str, show_n: int, as_json: bool) -> None:
    """Check a sweep spec and print it normalized (defaults filled in); runs nothing.

    \b
    Example:
      searchsvc validate experiments/quickstart.yaml --show 5
    """
    from searchsvc.sampling import trial_params_range
    from searchsvc.spec import load_spec

    spec = load_spec(spec_path)
    configs = trial_params_range(spec.space, spec.strategy, spec.seed, 0, min(show_n, spec.trials), spec.grid_points)
    if as_json:
        _print_json({"spec": spec.model_dump(mode="json"), "trials": [
            {"trial_index": k, "config": c} for k, c in enumerate(configs)]})
        return
    import yaml

    click.echo(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False).rstrip())
    for k, config in enumerate(configs):
        click.echo(f"trial {k}: {_config_text(config)}")
    click.echo(f"ok: {spec_path} is valid ({spec.trials} trials, {spec.strategy}, objective {spec.metric} ({spec.mode}))",
               err=True)


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--address", metavar="ADDR", help="Ray cluster address (ray://host:10001 or host:6379); default: local Ray.")
@ledger_option
@tracking_option
@click.option("--no-mlflow", is_flag=True, help="Record in the ledger only.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@json_option
def submit(spec_path: str, address: str | None, ledger: str | None, tracking_uri: str | None, no_mlflow: bool,
           quiet: bool, as_json: bool) -> None:
    """Run a sweep: S i.i.d. trials of the spec on Ray Tune; record them in the ledger and MLflow.

    \b
    Example:
      searchsvc submit experiments/quickstart.yaml
      searchsvc submit sweep.yaml --address ray://head:10001 --tracking-uri http://mlflow:5000
    """
    from searchsvc.driver import submit as run_sweep
    from searchsvc.spec import load_spec

    spec = load_spec(spec_path)
    if not quiet:
        click.echo(f"searchsvc: {spec.name}: {spec.trials} trials on {address or 'a local Ray'} ...", err=True)
    outcome = run_sweep(spec, ledger=ledger, tracker=tracking_uri, address=address, quiet=quiet or as_json,
                        track=not no_mlflow)
    _report_outcome(outcome, spec.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--address", metavar="ADDR", help="Ray cluster address; default: local Ray.")
@ledger_option
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@json_option
def resume(sweep_id: str, address: str | None, ledger: str | None, quiet: bool, as_json: bool) -> None:
    """Finish a sweep after its driver died or was cancelled: trials without a final result run again
    with their recorded configs, in their existing MLflow runs; finished trials are not rerun.

    \b
    Example:
      searchsvc resume quickstart-20261122-101500-1a2b
    """
    from searchsvc.driver import resume as resume_sweep

    outcome = resume_sweep(sweep_id, ledger=ledger, address=address, quiet=quiet or as_json)
    _report_outcome(outcome, outcome.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--add", "n", metavar="N", type=click.IntRange(min=1), required=True, help="How many trials to add.")
@click.option("--address", metavar="ADDR", help="Ray cluster address; default: local Ray.")
@ledger_option
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@json_option
def extend(sweep_id: str, n: int, address: str | None, ledger: str | None, quiet: bool, as_json: bool) -> None:
    """Add N trials to a finished sweep: trials S..S+N-1, with the configs a sweep of S+N would have had.

    \b
    Example:
      searchsvc extend quickstart-20261122-101500-1a2b --add 100
    """
    from searchsvc.driver import extend as extend_sweep

    outcome = extend_sweep(sweep_id, n, ledger=ledger, address=address, quiet=quiet or as_json)
    _report_outcome(outcome, outcome.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@ledger_option
def cancel(sweep_id: str, ledger: str | None) -> None:
    """Stop a running sweep (like Ctrl-C in its terminal): running trials are recorded as cancelled and the
    sweep stays resumable.

    \b
    Example:
      searchsvc cancel quickstart-20261122-101500-1a2b
    """
    import signal
    import socket

    from searchsvc.ledger import get_ledger
    from searchsvc.reconcile import driver_alive

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    if not driver_alive(sweep):
        raise UsageError(f"sweep {sweep.sweep_id} is not running here (status {sweep.status}); nothing to cancel")
    host, _, pid = sweep.driver.rpartition(":")
    if host != socket.gethostname():
        raise UsageError(f"sweep {sweep.sweep_id} runs on {host}; cancel it there")
    os.kill(int(pid), signal.SIGINT)
    click.echo(f"asked the driver of {sweep.sweep_id} (pid {pid}) to stop; `searchsvc status` shows when it has", err=True)


def _report_outcome(outcome: Any, metric: str, as_json: bool) -> None:
    if as_json:
        _print_json({"sweep_id": outcome.sweep_id, "status": outcome.status, "counts": dict(outcome.counts),
                     "best": _trial_json(outcome.best) if outcome.best else None, "ledger": outcome.ledger,
                     "tracking_uri": outcome.tracking_uri, "parent_run_id": outcome.parent_run_id,
                     "wall_seconds": round(outcome.wall_seconds, 3), "bundles": outcome.bundles,
                     "recording_cpu_seconds": round(outcome.recording_cpu_seconds, 3)})
    else:
        click.echo(_summary_text(metric, outcome))
    if outcome.status == "cancelled":
        click.echo(f"cancelled; resume with: searchsvc resume {outcome.sweep_id}", err=True)
        sys.exit(130)
    if outcome.counts.get("ok", 0) + outcome.counts.get("diverged", 0) == 0:
        raise SearchSvcError(f"no trial finished; see `searchsvc show {outcome.sweep_id}` for the errors")


@cli.command("list")
@ledger_option
@json_option
def list_sweeps(ledger: str | None, as_json: bool) -> None:
    """List the sweeps in the ledger.

    \b
    Example:
      searchsvc list --json
    """
    from searchsvc.ledger import get_ledger

    db = get_ledger(ledger)
    rows = [{"sweep_id": s.sweep_id, "name": s.name, "status": s.status, "trials": s.trials,
             "finished": sum(n for st, n in db.status_counts(s.sweep_id).items() if st in ("ok", "diverged", "error", "infra")),
             "created_at": s.created_at.isoformat(timespec="seconds")} for s in db.sweeps()]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("no sweeps yet; run: searchsvc submit experiments/quickstart.yaml", err=True)
    for r in rows:
        click.echo(f"{r['sweep_id']:<44} {r['status']:<10} {r['finished']:>6}/{r['trials']:<6} {r['created_at']}")


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@ledger_option
@json_option
def status(sweep_id: str, ledger: str | None, as_json: bool) -> None:
    """Counts of trials by status, and the best trial so far.

    \b
    Example:
      searchsvc status quickstart-20261122-101500-1a2b
    """
    from searchsvc.ledger import best_trial, get_ledger
    from searchsvc.reconcile import reconcile
    from searchsvc.tracking import get_tracker

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    sweep = reconcile(db, get_tracker(sweep.tracking_uri) if sweep.tracking_uri else None, sweep)
    counts = db.status_counts(sweep.sweep_id)
    best = best_trial(db.trials(sweep.sweep_id), sweep.mode)
    if as_json:
        _print_json({"sweep_id": sweep.sweep_id, "status": sweep.status, "trials": sweep.trials, "counts": dict(counts),
                     "driver": sweep.driver,
                     "best": _trial_json(best) if best else None})
        return
    click.echo(f"{sweep.sweep_id}: {sweep.status}, {sweep.trials} trials — " +
               ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if best:
        click.echo(f"best: trial {best.trial_index}, val {sweep.metric} {best.val_score:.4g}, "
                   f"test {sweep.metric} {_fmt(best.test_score)} — {_config_text(best.config)}")


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@ledger_option
@json_option
def show(sweep_id: str, ledger: str | None, as_json: bool) -> None:
    """Every trial of a sweep: index, status, config, scores.

    \b
    Example:
      searchsvc show quickstart-20261122-101500-1a2b --json > trials.json
    """
    from searchsvc.ledger import get_ledger

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    trials = db.trials(sweep.sweep_id)
    if as_json:
        _print_json({"sweep_id": sweep.sweep_id, "name": sweep.name, "status": sweep.status, "metric": sweep.metric,
                     "mode": sweep.mode, "mlflow_run_id": sweep.mlflow_run_id, "trials": [_trial_json(t) for t in trials]})
        return
    click.echo(f"{sweep.sweep_id} ({sweep.status}); objective {sweep.metric} ({sweep.mode})")
    click.echo(f"{'trial':>5}  {'status':<9} {'val':>8} {'test':>8} {'epochs':>6}  config")
    for t in trials:
        click.echo(f"{t.trial_index:>5}  {t.status:<9} {_fmt(t.val_score):>8} {_fmt(t.test_score):>8} "
                   f"{t.epochs if t.epochs is not None else '-':>6}  {_config_text(t.config)}")


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
@click.option("--no-importance", is_flag=True, help="Skip fANOVA (the slow part).")
@ledger_option
@json_option
def analyze(sweep_id: str | None, table: str | None, out_dir: str, mode: str | None, metric_name: str | None,
            references: tuple[str, ...], no_importance: bool, ledger: str | None, as_json: bool) -> None:
    """Random-search efficiency (Bergstra & Bengio 2012), expected best of n trials, how many trials are
    needed, and which hyperparameters matter. Figures and tables go to --out and, for a sweep, onto its
    MLflow run.

    \b
    Example:
      searchsvc analyze quickstart-20261122-101500-1a2b --out report/
      searchsvc analyze --table trials.csv --mode max --out report/
    """
    from searchsvc.analyze import analyze_sweep, analyze_table

    if (sweep_id is None) == (table is None):
        raise UsageError("analyze: give either a SWEEP id or --table PATH (one of them)")
    lines = _parse_references(references)
    if table is not None:
        if mode is None:
            raise UsageError("--mode: required with --table; say whether higher (max) or lower (min) scores are better")
        report = analyze_table(table, out_dir, mode=mode, metric_name=metric_name or "score", references=lines,
                               importance=not no_importance)
    else:
        report = analyze_sweep(sweep_id, out_dir, ledger=ledger, references=lines, importance=not no_importance,
                               metric_name=metric_name)
    click.echo(report.to_json() if as_json else report.summary_text())
    click.echo(f"wrote {len(report.files)} files to {out_dir}", err=True)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--out", "path", metavar="PATH", required=True, type=click.Path(dir_okay=False),
              help="Where to write the trials table (.csv or .parquet).")
@ledger_option
def export(sweep_id: str, path: str, ledger: str | None) -> None:
    """Write a sweep's trials in the analysis' table format (one row per trial, param_<name> columns).

    \b
    Example:
      searchsvc export quickstart-20261122-101500-1a2b --out trials.csv
    """
    from analysis import write_trials
    from searchsvc.export import trials_frame
    from searchsvc.ledger import get_ledger

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    frame = trials_frame(db, sweep.sweep_id)
    written = write_trials(frame, path)
    click.echo(f"wrote {len(frame)} trials of {sweep.sweep_id} to {written}", err=True)


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
      searchsvc ui --port 5000     # then browse http://127.0.0.1:5000
    """
    from searchsvc.tracking import get_tracker

    uri = get_tracker(tracking_uri).tracking_uri
    if uri.startswith(("http://", "https://")):
        click.echo(f"The dashboard is served by the tracking server: {uri}")
        return
    click.echo(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl-C stops it)", err=True)
    sys.stdout.flush()
    os.execvp(sys.executable, [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                               "--host", host, "--port", str(port)])


def main() -> None:
    """Entry point: map searchsvc's errors to one line on stderr and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        if (code := exit_code(e)) is not None:
            click.echo(f"error: {e}", err=True)
            sys.exit(code)
        # a bug or an unreachable service: one line, the traceback on request
        if os.environ.get("SEARCHSVC_DEBUG"):
            raise
        click.echo(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                   "(set SEARCHSVC_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


# -- formatting helpers
def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _config_text(config: dict[str, object]) -> str:
    return " ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in config.items() if v is not None)


def _trial_json(t: Any) -> dict[str, Any]:
    return {"trial_index": t.trial_index, "status": t.status, "attempts": t.attempts, "config": t.config,
            "val_score": t.val_score, "test_score": t.test_score, "val_n": t.val_n, "test_n": t.test_n,
            "epochs": t.epochs, "best_epoch": t.best_epoch, "param_count": t.param_count,
            "train_seconds": t.train_seconds, "device": t.device, "message": t.message, "mlflow_run_id": t.mlflow_run_id}


def _summary_text(metric: str, o: Any) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(o.counts.items()))
    lines = [f"Sweep {o.sweep_id} {o.status} in {o.wall_seconds:.0f} s: {sum(o.counts.values())} trials ({counts})"]
    if o.best:
        lines.append(f"Best trial {o.best.trial_index}: val {metric} {_fmt(o.best.val_score)}, "
                     f"test {metric} {_fmt(o.best.test_score)}")
        lines.append(f"  {_config_text(o.best.config)}")
    lines.append(f"Ledger:    {o.ledger}")
    if o.tracking_uri:
        lines.append(f"MLflow:    {o.tracking_uri} (parent run {o.parent_run_id})")
        lines.append("Dashboard: searchsvc ui" + (f" --tracking-uri {o.tracking_uri}" if "MLFLOW_TRACKING_URI" in os.environ else ""))
    lines.append(f"Trials:    searchsvc show {o.sweep_id}")
    return "\n".join(lines)
