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
from searchsvc.texts import best_line, config_text, indices_text, outcome_json, outcome_text, sweep_line, to_json, \
    trial_json, trial_line

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
    """Check a sweep spec and print it normalized (defaults filled in), with the first N trials' configs, their
    parameter counts and estimated training memory (the optimizer's state included); runs nothing.

    \b
    Example:
      searchsvc validate experiments/quickstart.yaml --show 5
    """
    from searchsvc.costs import check_memory_limit, mib, trial_costs
    from searchsvc.sampling import trial_params_range
    from searchsvc.spec import load_spec

    spec = load_spec(spec_path)
    configs = trial_params_range(spec.space, spec.strategy, spec.seed, 0, spec.trials, spec.grid_points)
    check_memory_limit(spec, configs)
    shown = configs[:show_n]
    costs = trial_costs(spec, shown)
    if as_json:
        click.echo(to_json({"spec": spec.model_dump(mode="json"), "trials": [
            {"trial_index": k, "config": c, "param_count": cost.param_count, "memory_bytes": cost.memory_bytes,
             "optimizer_state_bytes": cost.optimizer_state_bytes} for k, (c, cost) in enumerate(zip(shown, costs))]}))
        return
    import yaml

    click.echo(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False).rstrip())
    for k, (config, cost) in enumerate(zip(shown, costs)):
        click.echo(f"trial {k}: {cost.param_count:,} params, ~{mib(cost.memory_bytes)} to train (optimizer state "
                   f"{mib(cost.optimizer_state_bytes)}): {config_text(config)}")
    click.echo(f"ok: {spec_path} is valid ({spec.trials} trials, {spec.strategy}, objective {spec.metric} ({spec.mode}))",
               err=True)


cluster_option = click.option("--cluster", metavar="URL", envvar="SEARCHSVC_CLUSTER",
                              help="Run the driver on a Ray cluster through its Jobs API (http://HEAD:8265); "
                                   "returns once the cluster's driver has recorded the sweep.")
address_option = click.option("--address", metavar="HOST:PORT",
                              help="Run the driver here, joined to the Ray cluster whose head listens there (or "
                                   "auto, on a node of a cluster); default: an embedded local Ray.")


def job_options(command: Any) -> Any:
    """The identity of a driver that runs as a Ray job (set by the Jobs submission, not by users)."""
    command = click.option("--as-job", "job_id", hidden=True)(command)
    return click.option("--job-cluster", hidden=True)(command)


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@cluster_option
@address_option
@click.option("--data-on-cluster", is_flag=True,
              help="With --cluster: the cluster reads the spec's data file at its absolute path there, instead of "
                   "the file being uploaded with the job.")
@ledger_option
@tracking_option
@click.option("--no-mlflow", is_flag=True, help="Record in the ledger only.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@json_option
@click.option("--sweep-id", hidden=True)
@job_options
@click.pass_context
def submit(ctx: click.Context, spec_path: str, cluster: str | None, address: str | None, data_on_cluster: bool,
           ledger: str | None, tracking_uri: str | None, no_mlflow: bool, quiet: bool, as_json: bool,
           sweep_id: str | None, job_id: str | None, job_cluster: str | None) -> None:
    """Run a sweep: S i.i.d. trials of the spec on Ray Tune; record them in the ledger and MLflow.

    \b
    Example:
      searchsvc submit experiments/quickstart.yaml
      searchsvc submit sweep.yaml --cluster http://head:8265     # on a cluster; returns at once
      searchsvc submit sweep.yaml --address head:6380            # on a cluster, driver here
    """
    from searchsvc.driver import Job
    from searchsvc.driver import submit as run_sweep
    from searchsvc.spec import load_spec

    spec = load_spec(spec_path)
    if cluster is not None:
        _refuse_both(address)
        from searchsvc.jobs import submit_sweep

        submitted = submit_sweep(spec, spec_path, cluster, _explicit_stores(ctx, ledger, tracking_uri),
                                 data_on_cluster=data_on_cluster, no_mlflow=no_mlflow, quiet=quiet or as_json)
        _report_submitted(submitted, as_json)
        return
    job = Job(job_id, job_cluster) if job_id else None
    if not quiet and not as_json:
        click.echo(f"searchsvc: {spec.name}: {spec.trials} trials on {address or 'a local Ray'} ...", err=True)
    outcome = run_sweep(spec, ledger=ledger, tracker=tracking_uri, address=address, quiet=quiet or as_json,
                        track=not no_mlflow, sweep_id=sweep_id, job=job)
    _report_outcome(outcome, spec.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@cluster_option
@address_option
@ledger_option
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@json_option
@job_options
@click.pass_context
def resume(ctx: click.Context, sweep_id: str, cluster: str | None, address: str | None, ledger: str | None,
           quiet: bool, as_json: bool, job_id: str | None, job_cluster: str | None) -> None:
    """Finish a sweep after its driver died or was cancelled: trials without a final result run again
    with their recorded configs, in their existing MLflow runs; finished trials are not rerun. First,
    MLflow gets the trials it missed (it was down). A sweep submitted to a cluster resumes there.

    \b
    Example:
      searchsvc resume quickstart-20261122-101500-1a2b
    """
    from searchsvc.driver import resume as resume_sweep

    if _goes_to_cluster(ctx, sweep_id, cluster, address, ledger, job_id, ["resume"], quiet or as_json, as_json):
        return
    outcome = resume_sweep(sweep_id, ledger=ledger, address=address, quiet=quiet or as_json, job=_job(job_id, job_cluster))
    _report_outcome(outcome, outcome.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--add", "n", metavar="N", type=click.IntRange(min=1), required=True, help="How many trials to add.")
@cluster_option
@address_option
@ledger_option
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@json_option
@job_options
@click.pass_context
def extend(ctx: click.Context, sweep_id: str, n: int, cluster: str | None, address: str | None, ledger: str | None,
           quiet: bool, as_json: bool, job_id: str | None, job_cluster: str | None) -> None:
    """Add N trials to a finished sweep: trials S..S+N-1, with the configs a sweep of S+N would have had.
    A sweep submitted to a cluster is extended there.

    \b
    Example:
      searchsvc extend quickstart-20261122-101500-1a2b --add 100
    """
    from searchsvc.driver import extend as extend_sweep

    if _goes_to_cluster(ctx, sweep_id, cluster, address, ledger, job_id, ["extend", "--add", str(n)],
                        quiet or as_json, as_json):
        return
    outcome = extend_sweep(sweep_id, n, ledger=ledger, address=address, quiet=quiet or as_json,
                           job=_job(job_id, job_cluster))
    _report_outcome(outcome, outcome.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@ledger_option
def cancel(sweep_id: str, ledger: str | None) -> None:
    """Stop a running sweep, from any machine that reaches the ledger (like Ctrl-C in its terminal): running
    trials are recorded as cancelled and the sweep stays resumable. A sweep on a cluster: its job is stopped.

    \b
    Example:
      searchsvc cancel quickstart-20261122-101500-1a2b
    """
    from searchsvc.ledger import get_ledger
    from searchsvc.liveness import driver_alive, request_cancel
    from searchsvc.reconcile import reconcile
    from searchsvc.tracking import get_tracker

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    sweep = reconcile(db, get_tracker(sweep.tracking_uri) if sweep.tracking_uri else None, sweep)
    if not driver_alive(sweep):
        raise UsageError(f"sweep {sweep.sweep_id} is not running (status {sweep.status}); nothing to cancel")
    request_cancel(db, sweep)
    if sweep.job_id and sweep.cluster:
        from searchsvc import jobs

        try:
            jobs.stop(sweep.cluster, sweep.job_id)
        except SearchSvcError as e:
            click.echo(f"warning: {e}; the driver reads the request from the ledger instead", err=True)
    click.echo(f"asked the driver of {sweep.sweep_id} ({sweep.driver}) to stop; `searchsvc status {sweep.sweep_id}` "
               "shows when it has", err=True)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--cluster", metavar="URL", envvar="SEARCHSVC_CLUSTER",
              help="The Jobs API address (default: the one the sweep was submitted to).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the job ends.")
@ledger_option
def logs(sweep_id: str, cluster: str | None, follow: bool, ledger: str | None) -> None:
    """Print the output of a sweep's driver that runs (or ran) on a cluster.

    \b
    Example:
      searchsvc logs quickstart-20261122-101500-1a2b --follow
    """
    import time

    from searchsvc import jobs
    from searchsvc.ledger import get_ledger

    sweep = get_ledger(ledger).sweep(sweep_id)
    if not sweep.job_id:
        raise UsageError(f"sweep {sweep.sweep_id} was not submitted to a cluster (--cluster): its driver's output "
                         "went to the terminal that ran it")
    address = cluster or sweep.cluster
    shown = 0
    while True:
        text = jobs.logs(address, sweep.job_id)
        click.echo(text[shown:], nl=False)
        shown = len(text)
        if not follow or jobs.status(address, sweep.job_id) in ("SUCCEEDED", "FAILED", "STOPPED"):
            return
        time.sleep(1.0)


def _refuse_both(address: str | None) -> None:
    if address is not None:
        raise UsageError("--cluster and --address: give one; --cluster runs the driver on the cluster (Jobs API), "
                         "--address runs it here, joined to the cluster")


def _explicit_stores(ctx: click.Context, ledger: str | None, tracking_uri: str | None) -> dict[str, str]:
    """The stores named on the command line, which a cluster's driver is told to use; what this machine's
    environment says is how *it* reaches them, and the cluster's nodes have their own settings."""
    explicit = click.core.ParameterSource.COMMANDLINE
    stores = {}
    if ledger and ctx.get_parameter_source("ledger") == explicit:
        stores["SEARCHSVC_LEDGER"] = ledger
    if tracking_uri and ctx.get_parameter_source("tracking_uri") == explicit:
        stores["MLFLOW_TRACKING_URI"] = tracking_uri
    return stores


def _goes_to_cluster(ctx: click.Context, sweep_id: str, cluster: str | None, address: str | None, ledger: str | None,
                     job_id: str | None, command: list[str], quiet: bool, as_json: bool) -> bool:
    """``resume``/``extend`` of a sweep on a cluster (``--cluster``, or the one it was submitted to): submit
    the driver there as a job; ``False`` when the driver runs here."""
    if job_id is not None or address is not None:
        _refuse_both(address if cluster else None)
        return False
    from searchsvc.ledger import get_ledger

    sweep = get_ledger(ledger).sweep(sweep_id)
    cluster = cluster or sweep.cluster
    if cluster is None:
        return False
    from searchsvc.jobs import continue_sweep

    submitted = continue_sweep(sweep.sweep_id, command, cluster, _explicit_stores(ctx, ledger, None), quiet=quiet)
    _report_submitted(submitted, as_json)
    return True


def _job(job_id: str | None, job_cluster: str | None) -> Any:
    from searchsvc.driver import Job

    return Job(job_id, job_cluster) if job_id else None


def _report_submitted(submitted: Any, as_json: bool) -> None:
    if as_json:
        click.echo(to_json({"sweep_id": submitted.sweep_id, "job_id": submitted.job_id, "cluster": submitted.cluster,
                            "dashboard": submitted.dashboard}))
        return
    click.echo(f"Sweep {submitted.sweep_id} runs on {submitted.cluster} as job {submitted.job_id}")
    click.echo(f"Dashboard: {submitted.dashboard}")
    click.echo(f"Follow:    searchsvc status {submitted.sweep_id} --watch")
    click.echo(f"Output:    searchsvc logs {submitted.sweep_id} --follow")


def _report_outcome(outcome: Any, metric: str, as_json: bool) -> None:
    click.echo(to_json(outcome_json(outcome)) if as_json else outcome_text(metric, outcome))
    if outcome.mlflow_missing or outcome.mlflow_error:
        missed = f"{len(outcome.mlflow_missing)} trials ({indices_text(outcome.mlflow_missing)})" \
            if outcome.mlflow_missing else "the sweep's run"
        click.echo(f"warning: MLflow at {outcome.tracking_uri} missed {missed}: {outcome.mlflow_error}; the ledger "
                   f"has them: `searchsvc resume {outcome.sweep_id}` writes them once MLflow answers", err=True)
    if outcome.ledger_lost or outcome.ledger_error:
        lost = f"{len(outcome.ledger_lost)} trial records ({indices_text(outcome.ledger_lost)})" \
            if outcome.ledger_lost else "the sweep's record"
        raise SearchSvcError(f"the ledger {outcome.ledger} did not take {lost}: {outcome.ledger_error}; it does not "
                             f"hold all that ran: mend the database, then `searchsvc resume {outcome.sweep_id}`")
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
    from searchsvc.status import TrialStatus

    db = get_ledger(ledger)
    rows = [{"sweep_id": s.sweep_id, "name": s.name, "status": str(s.status), "trials": s.trials,
             "finished": sum(n for st, n in db.status_counts(s.sweep_id).items() if TrialStatus(st).has_result),
             "created_at": s.created_at.isoformat(timespec="seconds"), "job_id": s.job_id, "cluster": s.cluster}
            for s in db.sweeps()]
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo("no sweeps yet; run: searchsvc submit experiments/quickstart.yaml", err=True)
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

    from searchsvc.ledger import best_trial, get_ledger
    from searchsvc.reconcile import reconcile
    from searchsvc.tracking import get_tracker

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    tracker = get_tracker(sweep.tracking_uri) if sweep.tracking_uri else None
    live = watch and not as_json and sys.stdout.isatty()
    shown = None
    while True:
        sweep = reconcile(db, tracker, db.sweep(sweep.sweep_id))
        counts = db.status_counts(sweep.sweep_id)
        best = best_trial(db.trials(sweep.sweep_id), sweep.mode)
        if as_json:
            text = to_json({"sweep_id": sweep.sweep_id, "status": str(sweep.status), "trials": sweep.trials,
                            "counts": dict(counts), "driver": sweep.driver, "job_id": sweep.job_id,
                            "cluster": sweep.cluster, "heartbeat_at": sweep.heartbeat_at,
                            "best": trial_json(best) if best else None})
        else:
            text = sweep_line(sweep, counts) + (f"\n{best_line(best, sweep.metric)}" if best else "")
        if live:
            click.echo("\x1b[2J\x1b[H" + text)
        elif text != shown:
            click.echo(text)
        shown = text
        if not watch or sweep.status != "running":
            break
        time.sleep(interval)
    if watch and sweep.status != "completed":
        sys.exit(130 if sweep.status == "cancelled" else 1)


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
    from searchsvc.ledger import get_ledger

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    trials = db.trials(sweep.sweep_id)
    if as_json:
        click.echo(to_json({"sweep_id": sweep.sweep_id, "name": sweep.name, "status": str(sweep.status),
                            "metric": sweep.metric, "mode": sweep.mode, "mlflow_run_id": sweep.mlflow_run_id,
                            "job_id": sweep.job_id, "cluster": sweep.cluster,
                            "trials": [trial_json(t) for t in trials]}))
        return
    click.echo(f"{sweep.sweep_id} ({sweep.status}); objective {sweep.metric} ({sweep.mode})")
    click.echo(f"{'trial':>5}  {'status':<9} {'val':>8} {'test':>8} {'epochs':>6}  config")
    for t in trials:
        click.echo(trial_line(t))


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
@click.option("--no-importance", is_flag=True, help="Skip fANOVA (the slow part).")
@ledger_option
@json_option
def analyze(sweep_id: str | None, table: str | None, out_dir: str, mode: str | None, metric_name: str | None,
            references: tuple[str, ...], compared: tuple[str, ...], no_importance: bool, ledger: str | None,
            as_json: bool) -> None:
    """Random-search efficiency (Bergstra & Bengio 2012), expected best of n trials, how many trials are
    needed, and which hyperparameters matter; with --compare, random search against grid and Sobol searches
    of the same space. Figures and tables go to --out and, for a sweep, onto its MLflow run.

    \b
    Example:
      searchsvc analyze quickstart-20261122-101500-1a2b --out report/
      searchsvc analyze --table trials.csv --mode max --out report/
      searchsvc analyze --table random.csv --mode max --compare grid=grid.csv --compare sobol=sobol.csv
    """
    from searchsvc.analyze import analyze_sweep, analyze_table

    if (sweep_id is None) == (table is None):
        raise UsageError("analyze: give either a SWEEP id or --table PATH (one of them)")
    lines = _parse_references(references)
    compare = _parse_compared(compared)
    if table is not None:
        if mode is None:
            raise UsageError("--mode: required with --table; say whether higher (max) or lower (min) scores are better")
        report = analyze_table(table, out_dir, mode=mode, metric_name=metric_name or "score", references=lines,
                               importance=not no_importance, compare=compare, ledger=ledger)
    else:
        report = analyze_sweep(sweep_id, out_dir, ledger=ledger, references=lines, importance=not no_importance,
                               metric_name=metric_name, compare=compare)
    click.echo(report.to_json() if as_json else report.summary_text())  # the summary names the files
    if as_json:
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
