"""A sweep's driver submitted to a Ray cluster through the Jobs API: it runs on the cluster, and this
process returns once the driver has recorded the sweep (seconds), so the laptop may go away.

The job carries the spec, and a user's data file unless it is read from a path the cluster sees
(``--data-on-cluster``), in its ``working_dir`` (at most ``UPLOAD_LIMIT_BYTES``, what Ray lets a job
upload). Its entrypoint is the same ``searchsvc`` command with ``--address auto`` and the job's
identity. The driver records into the stores the cluster's nodes are configured with
(``SEARCHSVC_LEDGER`` and ``MLFLOW_TRACKING_URI`` in their environment, as docker-compose.yml sets
them), or into those named on this command line (``--ledger``, ``--tracking-uri``), which must be
servers both reach. A new sweep's job id is its sweep id.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchsvc.errors import SearchSvcError, UsageError
from searchsvc.stores.locations import CONNECT_TIMEOUT_S

#: the most a job may upload (spec and data): Ray's limit on a working_dir package (its gRPC message size)
UPLOAD_LIMIT_BYTES = 500 * 2**20
#: seconds to wait for a submitted driver to record its sweep
ACCEPT_TIMEOUT_S = 180.0
#: seconds to wait for the job agent of a head that has just started
AGENT_WAIT_S = 60.0
#: where an uploaded data file lies in the job's working_dir
UPLOAD_DIR = "data"
#: what a driver submitted through the Jobs API prints once its sweep is recorded (the client waits for it)
ACCEPTED = "searchsvc: accepted sweep"


@dataclass(frozen=True)
class Submitted:
    sweep_id: str
    job_id: str
    cluster: str

    @property
    def job_page(self) -> str:
        """The job's page on the Ray dashboard."""
        return f"{self.cluster.rstrip('/')}/#/jobs/{self.job_id}"


def client(cluster: str) -> Any:
    """A Jobs API client of ``cluster`` (``http://HEAD:8265``); a SearchSvcError within seconds if it is not there
    or refuses this machine. A cluster with Ray's token authentication wants its token: ``RAY_AUTH_TOKEN``."""
    if not cluster.startswith(("http://", "https://")):
        raise UsageError(f"--cluster: expected the Ray dashboard's address, like http://HEAD:8265, got {cluster!r}")
    if os.environ.get("RAY_AUTH_TOKEN"):
        os.environ.setdefault("RAY_AUTH_MODE", "token")  # before Ray reads its settings
    token = os.environ.get("RAY_AUTH_TOKEN")
    request = urllib.request.Request(f"{cluster.rstrip('/')}/api/version",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S).close()
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise SearchSvcError(f"Ray: the Jobs API at {cluster} refused this machine (HTTP {e.code}): the cluster "
                                 "wants its token; set RAY_AUTH_TOKEN to it (`ray get-auth-token` on the head; with "
                                 "docker-compose.yml, RAY_AUTH_TOKEN of .env)") from e
        raise SearchSvcError(f"Ray: the Jobs API at {cluster} answered HTTP {e.code}; is that the Ray dashboard's "
                             "address (port 8265)?") from e
    except OSError as e:
        reason = getattr(e, "reason", None) or e
        raise SearchSvcError(f"Ray: the Jobs API at {cluster} does not answer ({reason}); check that the cluster's "
                             "head runs with its dashboard (`ray start --head --dashboard-host=…`, port 8265) and "
                             "that this machine reaches it") from e
    import logging

    from ray.job_submission import JobSubmissionClient

    logging.getLogger("ray.dashboard").setLevel(logging.WARNING)  # no "uploading package" chatter on stderr
    return JobSubmissionClient(cluster)


def submit(command: list[str], cluster: str, sweep_id: str, job_id: str, *, env: dict[str, str],
           files: dict[str, Path] | None = None, spec_document: dict[str, Any] | None = None,
           quiet: bool = False) -> Submitted:
    """Run ``searchsvc COMMAND… --address auto`` as the job ``job_id``; return once its driver recorded the sweep.
    ``files``: copied into the job's working_dir under their names; ``spec_document``: written there as spec.yaml."""
    import yaml

    jobs = client(cluster)
    with tempfile.TemporaryDirectory(prefix="searchsvc-job-") as tmp:
        for name, source in (files or {}).items():
            target = Path(tmp) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        if spec_document is not None:
            (Path(tmp) / "spec.yaml").write_text(yaml.safe_dump(spec_document, sort_keys=False))
        entrypoint = shlex.join(["searchsvc", *command, "--address", "auto", "--as-job", job_id,
                                 "--job-cluster", cluster])
        deadline = time.monotonic() + AGENT_WAIT_S
        while True:
            try:
                jobs.submit_job(entrypoint=entrypoint, submission_id=job_id,
                                runtime_env={"working_dir": tmp, "env_vars": {**env, **_lease_setting()}})
                break
            except (RuntimeError, ValueError) as e:
                if "No available agent" not in str(e):
                    raise SearchSvcError(f"Ray: the cluster at {cluster} refused the job: {e}") from e
                if time.monotonic() >= deadline:
                    raise SearchSvcError(f"Ray: the cluster at {cluster} has no job agent to run the job after "
                                         f"{AGENT_WAIT_S:.0f} s; see the head's logs/dashboard_agent.log (a port it "
                                         "could not bind? --dashboard-agent-listen-port, 52365 by default)") from e
                time.sleep(2.0)  # a head that has just started
    submitted = Submitted(sweep_id, job_id, cluster)
    _wait_accepted(jobs, submitted, quiet)
    return submitted


def _lease_setting() -> dict[str, str]:
    """The submitter's lease length, if set, for the driver it submits (searchsvc.stores.lease)."""
    seconds = os.environ.get("SEARCHSVC_LEASE_S")
    return {"SEARCHSVC_LEASE_S": seconds} if seconds else {}


def upload_files(spec: Any, raw_path: str | None, data_on_cluster: bool) -> tuple[dict[str, Path], dict[str, Any]]:
    """The files a sweep's job uploads, and its spec as the job's driver reads it (the data file's path in
    the working_dir, or the path as written when the cluster reads it itself)."""
    document = spec.model_dump(mode="json")
    path = getattr(spec.dataset, "path", None)
    if path is None:
        return {}, document
    if data_on_cluster:
        if raw_path is None or not Path(raw_path).is_absolute():
            raise UsageError(f"dataset.path: with --data-on-cluster the cluster reads the file itself, so give its "
                             f"absolute path on the cluster's head node, got {raw_path!r}")
        document["dataset"]["path"] = raw_path
        return {}, document
    size = Path(path).stat().st_size
    if size > UPLOAD_LIMIT_BYTES:
        raise UsageError(f"dataset.path: {path} is {size / 2**20:.0f} MiB, above the {UPLOAD_LIMIT_BYTES / 2**20:.0f} "
                         "MiB a Ray job can upload; put it where the cluster's head node reads it (a shared volume) "
                         "and submit with --data-on-cluster, the spec naming that absolute path")
    name = f"{UPLOAD_DIR}/{Path(path).name}"
    document["dataset"]["path"] = name
    return {name: Path(path)}, document


def _wait_accepted(jobs: Any, submitted: Submitted, quiet: bool) -> None:
    """Wait until the job's driver says it recorded the sweep, or fail with what the job printed."""
    from ray.job_submission import JobStatus

    marker = f"{ACCEPTED} "
    deadline = time.monotonic() + ACCEPT_TIMEOUT_S
    said = False
    while time.monotonic() < deadline:
        info = jobs.get_job_info(submitted.job_id)
        logs = jobs.get_job_logs(submitted.job_id)
        if marker in logs:
            return
        if info.status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.SUCCEEDED):
            raise _job_error(submitted, info, logs)
        if not said and not quiet:
            import sys

            print(f"searchsvc: job {submitted.job_id} submitted to {submitted.cluster}; waiting for its driver to "
                  "record the sweep …", file=sys.stderr)
            said = True
        time.sleep(0.5)
    raise SearchSvcError(f"Ray: the job {submitted.job_id} has not started its driver within {ACCEPT_TIMEOUT_S:.0f} "
                         f"s (status {jobs.get_job_status(submitted.job_id)}); see {submitted.job_page}, or stop it "
                         f"with `ray job stop --address {submitted.cluster} {submitted.job_id}`")


def _job_error(submitted: Submitted, info: Any, logs: str) -> SearchSvcError:
    """The driver's own error line (and its exit code: 2 for invalid input), else the job's message."""
    errors = [line for line in logs.splitlines() if line.startswith("error: ")]
    if errors:
        error = UsageError if info.driver_exit_code == 2 else SearchSvcError
        return error(f"the job's driver on {submitted.cluster}: {errors[-1].removeprefix('error: ')}")
    tail = "\n".join(logs.strip().splitlines()[-5:])
    return SearchSvcError(f"Ray: the job {submitted.job_id} ended {info.status} before its driver recorded the "
                          f"sweep: {info.message or ''}\n{tail}".rstrip())


def logs(cluster: str, job_id: str) -> str:
    return client(cluster).get_job_logs(job_id)


def status(cluster: str, job_id: str) -> str:
    return str(client(cluster).get_job_status(job_id))


def stop(cluster: str, job_id: str) -> bool:
    """Stop the job (SIGTERM to its driver, which cancels the sweep); whether it was still running."""
    return client(cluster).stop_job(job_id)


@dataclass(frozen=True)
class JobStores:
    """The stores named on the command line for a cluster's driver (``None``: the cluster's nodes' own settings,
    ``SEARCHSVC_LEDGER`` and ``MLFLOW_TRACKING_URI``, as docker-compose.yml sets them)."""

    ledger: str | None = None
    tracking_uri: str | None = None

    def check(self) -> None:
        """Servers, answering (from here, at least); nothing is written."""
        from searchsvc.stores.schema import check_database
        from searchsvc.stores.locations import LedgerLocation, TrackingLocation
        from searchsvc.stores.tracking import check_server

        if self.ledger is not None:
            location = LedgerLocation.parse(self.ledger)
            location.check_cluster_use()
            check_database(location)
        if self.tracking_uri is not None:
            tracking = TrackingLocation.parse(self.tracking_uri)
            tracking.check_cluster_use()
            check_server(tracking)

    def env(self) -> dict[str, str]:
        """The job's environment that names them."""
        return {name: value for name, value in (("SEARCHSVC_LEDGER", self.ledger),
                                                ("MLFLOW_TRACKING_URI", self.tracking_uri)) if value is not None}


def submit_sweep(spec: Any, spec_path: str, cluster: str, stores: JobStores, *, data_on_cluster: bool,
                 no_mlflow: bool, quiet: bool) -> Submitted:
    """Submit a new sweep of ``spec`` (read from ``spec_path``) to ``cluster``; its job id is its sweep id."""
    from experiments.datasets import load_dataset
    from searchsvc.sweep.spec import new_sweep_id

    stores.check()
    files, document = upload_files(spec, _raw_data_path(spec_path), data_on_cluster)
    if files:
        load_dataset(spec.dataset)  # a broken data file is refused here, before anything is sent
    sweep_id = new_sweep_id(spec.name)
    command = ["submit", "spec.yaml", "--sweep-id", sweep_id, *(["--no-mlflow"] if no_mlflow else [])]
    return submit(command, cluster, sweep_id, sweep_id, env=stores.env(), files=files, spec_document=document,
                  quiet=quiet)


def continue_sweep(sweep_id: str, command: list[str], cluster: str, stores: JobStores, *,
                   quiet: bool) -> Submitted:
    """``resume`` or ``extend`` a sweep with its driver on ``cluster``, as a job of its own."""
    import secrets

    stores.check()
    job_id = f"{sweep_id}-{command[0]}-{secrets.token_hex(2)}"
    return submit([*command, sweep_id], cluster, sweep_id, job_id, env=stores.env(), quiet=quiet)


def _raw_data_path(spec_path: str) -> str | None:
    """The spec's ``dataset.path`` as written (before it is made relative to the spec's folder)."""
    import yaml

    document = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
    path = (document.get("dataset") or {}).get("path") if isinstance(document, dict) else None
    return str(path) if path is not None else None
