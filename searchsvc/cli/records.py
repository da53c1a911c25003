"""Commands that read a sweep's records, from any machine that reaches the ledger: list, status, show."""

from __future__ import annotations

import sys

import click

from searchsvc.cli.group import cli, json_option, ledger_option
from searchsvc.status import SweepStatus
from searchsvc.cli.texts import best_line, rows_json, sweep_line, to_json, trial_json, trial_line


@cli.command("list")
@ledger_option
@json_option
def list_sweeps(ledger: str | None, as_json: bool) -> None:
    """List the sweeps in the ledger.

    \b
    Example:
      searchsvc list --json
    """
    from searchsvc.stores.ledger import get_ledger

    db = get_ledger(ledger, create=False)
    rows = [{"sweep_id": s.sweep_id, "name": s.name, "status": str(s.status), "trials": s.trials,
             "finished": sum(n for st, n in db.status_counts(s).items() if st.has_result),
             "created_at": s.created_at.isoformat(timespec="seconds"), "job_id": s.job_id, "cluster": s.cluster}
            for s in db.sweeps()]
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        where = "" if db.exists else f" (no ledger at {db.display_url} yet)"
        click.echo(f"no sweeps yet{where}; run: searchsvc submit experiments/quickstart.yaml", err=True)
    for r in rows:
        click.echo(f"{r['sweep_id']:<44} {r['status']:<11} {r['finished']:>6}/{r['trials']:<6} {r['created_at']}")


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("-w", "--watch", is_flag=True, help="Follow it until it stops running (exit 0 once completed).")
@click.option("--interval", metavar="SECONDS", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="With --watch: seconds between looks.")
@ledger_option
@json_option
def status(sweep_id: str, watch: bool, interval: float, ledger: str | None, as_json: bool) -> None:
    """Counts of trials by status, and the best trial so far, from any machine that reaches the ledger.
    A sweep whose driver died (anywhere) is reported interrupted; `resume` finishes it.

    \b
    Example:
      searchsvc status quickstart-20261122-101500-1a2b --watch
    """
    import time

    from searchsvc.stores.ledger import get_ledger

    db = get_ledger(ledger, create=False)
    sweep = db.sweep(sweep_id)
    live = watch and not as_json and sys.stdout.isatty()
    shown = None
    while True:
        sweep = db.expire(sweep.sweep_id)  # a lease that expired: the sweep is interrupted, on every machine alike
        counts = db.status_counts(sweep)
        best = db.best(sweep)
        if as_json:
            text = to_json({"sweep_id": sweep.sweep_id, "status": str(sweep.status), "trials": sweep.trials,
                            "counts": dict(counts), "driver": sweep.driver, "job_id": sweep.job_id,
                            "cluster": sweep.cluster, "heartbeat_at": sweep.heartbeat_at,
                            "lease_left_s": sweep.lease_left_s, "best": trial_json(best) if best else None})
        else:
            text = sweep_line(sweep, counts) + (f"\n{best_line(best, sweep.metric)}" if best else "")
        if live:
            click.echo("\x1b[2J\x1b[H" + text)
        elif text != shown:
            click.echo(text)
        shown = text
        if not watch or sweep.status != SweepStatus.RUNNING:
            break
        time.sleep(interval)
    if watch and sweep.status != SweepStatus.COMPLETED:
        sys.exit(130 if sweep.status == SweepStatus.CANCELLED else 1)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@ledger_option
@json_option
def show(sweep_id: str, ledger: str | None, as_json: bool) -> None:
    """Every trial of a sweep: index, status, config, scores (and, with --json, everything recorded).

    \b
    Example:
      searchsvc show quickstart-20261122-101500-1a2b --json > trials.json
    """
    from searchsvc.stores.ledger import get_ledger

    db = get_ledger(ledger, create=False)
    sweep = db.sweep(sweep_id)
    trials = db.trials(sweep.sweep_id, epochs=False)
    not_started = sweep.trials - len(trials)
    if as_json:
        click.echo(rows_json({"sweep_id": sweep.sweep_id, "name": sweep.name, "status": str(sweep.status),
                              "metric": sweep.metric, "mode": sweep.mode, "mlflow_run_id": sweep.mlflow_run_id,
                              "job_id": sweep.job_id, "cluster": sweep.cluster, "not_started": not_started},
                             "trials", [trial_json(t) for t in trials]))
        return
    click.echo(f"{sweep.sweep_id} ({sweep.status}); objective {sweep.metric} ({sweep.mode})")
    click.echo(f"{'trial':>5}  {'status':<9} {'val':>8} {'test':>8} {'epochs':>6}  config")
    for t in trials:
        click.echo(trial_line(t))
    if not_started:
        click.echo(f"({not_started:,} more trials have not started: pending)")
