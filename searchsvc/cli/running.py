"""Commands that run sweeps: validate, submit, resume, extend, cancel, and logs of a sweep on a cluster."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from searchsvc.cli.group import cli, json_option, ledger_option, tracking_option
from searchsvc.errors import SearchSvcError, UsageError
from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.cli.texts import config_text, indices_text, outcome_json, outcome_text, to_json


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--show", "show_n", type=click.IntRange(min=0), default=0, help="Also print the first N trial configs.")
@click.option("--gpu-memory", metavar="SIZE", help="With --show: each trial's share of a GPU of this memory (e.g. "
              "80GiB) under gpus: auto, and how many fit on one.")
@json_option
def validate(spec_path: str, show_n: int, gpu_memory: str | None, as_json: bool) -> None:
    """Check a sweep spec and print it normalized (defaults filled in), with the first N trials' configs, their
    parameter counts and estimated training memory (the optimizer's state included); runs nothing.

    \b
    Example:
      searchsvc validate experiments/quickstart.yaml --show 5
      searchsvc validate experiments/quickstart.yaml --show 5 --gpu-memory 80GiB
    """
    from searchsvc.run.packing import gpu_share, per_gpu
    from searchsvc.sweep.costs import check_memory_limit, mib, trial_costs
    from searchsvc.sweep.data import load_data
    from searchsvc.sweep.spec import load_spec

    gpu_bytes = _bytes("--gpu-memory", gpu_memory) if gpu_memory else None
    spec = load_spec(spec_path)
    check_memory_limit(spec)
    load_data(spec)  # what submit would refuse, validate refuses with the same message
    shown = list(spec.configs(0, min(show_n, spec.trials)))
    costs = trial_costs(spec, shown)
    shares = [gpu_share(cost.memory_bytes, gpu_bytes) if gpu_bytes else None for cost in costs]
    if as_json:
        click.echo(to_json({"spec": spec.model_dump(mode="json"), "trials": [
            {"trial_index": k, "config": c, "param_count": cost.param_count, "memory_bytes": cost.memory_bytes,
             "optimizer_state_bytes": cost.optimizer_state_bytes,
             **({"gpu_share": share, "per_gpu": per_gpu(share)} if share else {})}
            for k, (c, cost, share) in enumerate(zip(shown, costs, shares))]}))
        return
    import yaml

    click.echo(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False).rstrip())
    for k, (config, cost, share) in enumerate(zip(shown, costs, shares)):
        gpu = f", {share:.2f} of a GPU ({per_gpu(share)} fit on one)" if share else ""
        click.echo(f"trial {k}: {cost.param_count:,} params, ~{mib(cost.memory_bytes)} to train (optimizer state "
                   f"{mib(cost.optimizer_state_bytes)}){gpu}: {config_text(config)}")
    click.echo(f"ok: {spec_path} is valid ({spec.trials} trials, {spec.strategy}, objective {spec.metric} ({spec.mode}))",
               err=True)


def _bytes(flag: str, text: str) -> int:
    """A size like 80GiB or 24GB, in bytes; a usage error naming ``flag`` otherwise."""
    from pydantic import ByteSize, TypeAdapter, ValidationError

    try:
        size = int(TypeAdapter(ByteSize).validate_python(text))
    except ValidationError:
        size = 0
    if size <= 0:
        raise UsageError(f"{flag}: expected a size like 80GiB or 24GB, got {text!r}")
    return size


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


def rerun_options(command: Any) -> Any:
    """The options of a command that runs a recorded sweep's driver again (resume, extend): where, the
    ledger, output, and the job's own."""
    for option in reversed((cluster_option, address_option, ledger_option,
                            click.option("-q", "--quiet", is_flag=True, help="No progress display."),
                            json_option, job_options, click.pass_context)):
        command = option(command)
    return command


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
    from searchsvc.run.driver import Job
    from searchsvc.run.driver import submit as run_sweep
    from searchsvc.sweep.spec import load_spec

    spec = load_spec(spec_path)
    if cluster is not None:
        _refuse_both(address)
        from searchsvc.run.jobs import submit_sweep

        submitted = submit_sweep(spec, spec_path, cluster, _explicit_stores(ctx, ledger, tracking_uri),
                                 data_on_cluster=data_on_cluster, no_mlflow=no_mlflow, quiet=quiet or as_json)
        _report_submitted(submitted, as_json)
        return
    job = Job(job_id, job_cluster) if job_id else None
    with data_only_stdout():
        outcome = run_sweep(spec, ledger=ledger, tracker=tracking_uri, address=address, quiet=quiet or as_json,
                            track=not no_mlflow, sweep_id=sweep_id, job=job)
    _report_outcome(outcome, spec.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@rerun_options
def resume(ctx: click.Context, sweep_id: str, cluster: str | None, address: str | None, ledger: str | None,
           quiet: bool, as_json: bool, job_id: str | None, job_cluster: str | None) -> None:
    """Finish a sweep after its driver died or was cancelled: trials without a final result run again
    with their recorded configs, in their existing MLflow runs; finished trials are not rerun. First,
    MLflow gets the trials it missed (it was down). A sweep submitted to a cluster resumes there.

    \b
    Example:
      searchsvc resume quickstart-20261122-101500-1a2b
    """
    from searchsvc.run.driver import resume as resume_sweep

    if _goes_to_cluster(ctx, ["resume"]):
        return
    with data_only_stdout():
        outcome = resume_sweep(sweep_id, ledger=ledger, address=address, quiet=quiet or as_json,
                               job=_job(job_id, job_cluster))
    _report_outcome(outcome, outcome.metric, as_json)


@cli.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--add", "n", metavar="N", type=click.IntRange(min=1), required=True, help="How many trials to add.")
@rerun_options
def extend(ctx: click.Context, sweep_id: str, n: int, cluster: str | None, address: str | None, ledger: str | None,
           quiet: bool, as_json: bool, job_id: str | None, job_cluster: str | None) -> None:
    """Add N trials to a finished sweep: trials S..S+N-1, with the configs a sweep of S+N would have had.
    A sweep submitted to a cluster is extended there.

    \b
    Example:
      searchsvc extend quickstart-20261122-101500-1a2b --add 100
    """
    from searchsvc.run.driver import extend as extend_sweep

    if _goes_to_cluster(ctx, ["extend", "--add", str(n)]):
        return
    with data_only_stdout():
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
    from searchsvc.stores.ledger import get_ledger

    db = get_ledger(ledger, create=False)
    sweep = db.expire(sweep_id)
    if not sweep.leased or not db.request_cancel(sweep.sweep_id):
        raise UsageError(f"sweep {sweep.sweep_id} is not running (status {db.sweep(sweep.sweep_id).status}); nothing "
                         "to cancel")
    if sweep.job_id and sweep.cluster:
        from searchsvc.run import jobs

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

    from searchsvc.run import jobs
    from searchsvc.stores.ledger import get_ledger

    sweep = get_ledger(ledger, create=False).sweep(sweep_id)
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


@contextlib.contextmanager
def data_only_stdout() -> Iterator[None]:
    """While a sweep runs, whatever Ray, Tune, their worker processes or a library print goes to stderr, so
    stdout carries searchsvc's own data only (``--json`` stays parseable)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)  # processes started meanwhile (Ray's) inherit it too
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _refuse_both(address: str | None) -> None:
    if address is not None:
        raise UsageError("--cluster and --address: give one; --cluster runs the driver on the cluster (Jobs API), "
                         "--address runs it here, joined to the cluster")


def _explicit_stores(ctx: click.Context, ledger: str | None, tracking_uri: str | None) -> Any:
    """The stores named on the command line, which a cluster's driver is told to use; what this machine's
    environment says is how *it* reaches them, and the cluster's nodes have their own settings."""
    from searchsvc.run.jobs import JobStores

    explicit = click.core.ParameterSource.COMMANDLINE
    return JobStores(ledger if ledger and ctx.get_parameter_source("ledger") == explicit else None,
                     tracking_uri if tracking_uri and ctx.get_parameter_source("tracking_uri") == explicit else None)


def _goes_to_cluster(ctx: click.Context, command: list[str]) -> bool:
    """``resume``/``extend`` (``command``) of a sweep on a cluster (``--cluster``, or the one it was submitted
    to): submit its driver there as a job; ``False`` when the driver runs here (``--address``, or a job's)."""
    options = ctx.params
    if options["job_id"] is not None or options["address"] is not None:
        _refuse_both(options["address"] if options["cluster"] else None)
        return False
    from searchsvc.stores.lease import Owned
    from searchsvc.stores.ledger import get_ledger

    sweep = get_ledger(options["ledger"], create=False).expire(options["sweep_id"])
    cluster = options["cluster"] or sweep.cluster
    if cluster is None:
        return False
    if sweep.leased:
        raise Owned(sweep)
    from searchsvc.run.jobs import continue_sweep

    submitted = continue_sweep(sweep.sweep_id, command, cluster, _explicit_stores(ctx, options["ledger"], None),
                               quiet=options["quiet"] or options["as_json"])
    _report_submitted(submitted, options["as_json"])
    return True


def _job(job_id: str | None, job_cluster: str | None) -> Any:
    from searchsvc.run.driver import Job

    return Job(job_id, job_cluster) if job_id else None


def _report_submitted(submitted: Any, as_json: bool) -> None:
    if as_json:
        click.echo(to_json({"sweep_id": submitted.sweep_id, "job_id": submitted.job_id, "cluster": submitted.cluster,
                            "dashboard": submitted.job_page}))
        return
    click.echo(f"Sweep {submitted.sweep_id} runs on {submitted.cluster} as job {submitted.job_id}")
    click.echo(f"Dashboard: {submitted.job_page}")
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
    if outcome.status == SweepStatus.CANCELLED:
        click.echo(f"cancelled; resume with: searchsvc resume {outcome.sweep_id}", err=True)
        sys.exit(130)
    if not any(TrialStatus(s).usable for s in outcome.counts):
        raise SearchSvcError(f"no trial finished; see `searchsvc show {outcome.sweep_id}` for the errors")
