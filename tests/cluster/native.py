"""The cluster of docker-compose.yml, started natively on this machine: each service runs its compose
command with its compose flags; only this machine's addresses replace the compose network's (a port
that is free here for each fixed port, 127.0.0.1 for service names, the local PostgreSQL), and the
two Ray nodes, which share one host here, get the flags that keep them apart (``NATIVE_ONLY``).

``docker-compose config`` (Debian's docker-compose, which parses a compose file without an engine)
resolves the file with ``.env.example``, so what starts here is what compose would start.
"""

from __future__ import annotations

import copy
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from contextlib import suppress

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: what the native start adds to compose's commands: two Ray nodes on one host need their own ports and
#: temporary folders (in compose each node is a container of its own)
NATIVE_ONLY = {"--temp-dir", "--node-manager-port", "--object-manager-port", "--min-worker-port", "--max-worker-port",
               "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--metrics-export-port",
               "--runtime-env-agent-port", "--node-ip-address"}
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@functools.cache
def compose_config() -> dict:
    """docker-compose.yml as compose resolves it, with the settings of .env.example (read once: ~10 s)."""
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        raise RuntimeError("docker-compose is not installed (Debian package docker-compose); .ci/run installs it")
    result = subprocess.run([docker_compose, "-f", str(ROOT / "docker-compose.yml"), "--env-file",
                             str(ROOT / ".env.example"), "config"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"docker-compose config refused docker-compose.yml:\n{result.stderr}")
    return yaml.safe_load(result.stdout)


def flags(command: list[str]) -> dict[str, str | None]:
    """``--name=value`` and bare ``--name`` arguments of a command, by name."""
    return {part.split("=", 1)[0]: (part.split("=", 1)[1] if "=" in part else None)
            for part in command if part.startswith("--")}


def native(command: list[str], values: dict[str, str], extra: dict[str, str]) -> list[str]:
    """Compose's ``command`` with this machine's ``values`` of some of its flags, and ``extra`` flags."""
    out = [str(BIN / command[0])]
    for part in command[1:]:
        name = part.split("=", 1)[0]
        out.append(f"{name}={values[name]}" if name in values else part)
    return out + [f"{name}={value}" for name, value in extra.items()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def answers(url: str, token: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        urllib.request.urlopen(request, timeout=2).close()
        return True
    except OSError:
        return False


@dataclass
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, stdout=open(self.log, "ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(OSError, ValueError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            with suppress(OSError, ValueError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class NativeCluster:
    """PostgreSQL (this machine's), an MLflow server, a Ray head and one Ray worker node, 1 CPU each."""

    root: Path
    database: str = field(default_factory=lambda: f"searchsvc_cluster_{secrets.token_hex(4)}")
    gcs_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    mlflow_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def client_env(self) -> dict[str, str]:
        """What a user's machine sets to reach this cluster and its stores (and a short lease, which the drivers it
        submits take: a killed driver's sweep is noticed within seconds)."""
        return {**os.environ, "SEARCHSVC_LEDGER": self.ledger, "MLFLOW_TRACKING_URI": self.tracking_uri,
                "RAY_AUTH_TOKEN": self.token, "SEARCHSVC_LEASE_S": "15"}

    @property
    def ledger(self) -> str:
        return f"postgresql://searchsvc:change-me@127.0.0.1:5432/{self.database}"

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def jobs_api(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def plan(self) -> dict[str, Service]:
        """Each service's native command and environment, from the compose file."""
        services = copy.deepcopy(compose_config()["services"])
        local = {"@postgres:5432/searchsvc": f"@127.0.0.1:5432/{self.database}", "http://mlflow:5000": self.tracking_uri}
        plan = {}
        for name, values, extra in (
            ("mlflow", {"--host": "127.0.0.1", "--port": str(self.mlflow_port),
                        "--artifacts-destination": str(self.root / "mlartifacts")}, {}),
            ("ray-head", {"--port": str(self.gcs_port), "--dashboard-host": "127.0.0.1",
                          "--dashboard-port": str(self.dashboard_port), "--num-cpus": "1"}, self._node_flags("head")),
            ("ray-worker", {"--address": self.gcs, "--num-cpus": "1"}, self._node_flags("worker")),
        ):
            service = services[name]
            command = [_localised(part, local) for part in service["command"]]
            env = {k: _localised(str(v), local) for k, v in (service.get("environment") or {}).items()}
            env["SEARCHSVC_HOME"] = str(self.root / f"home-{name}")
            env["RAY_AUTH_TOKEN"] = self.token
            plan[name] = Service(name, native(command, values, extra),
                                 {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
                                 self.root / f"{name}.log")
        return plan

    @property
    def ray_root(self) -> Path:
        """Short: Ray's socket paths under it must stay within 107 bytes."""
        if not hasattr(self, "_ray_root"):
            import tempfile

            self._ray_root = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
        return self._ray_root

    def _node_flags(self, node: str) -> dict[str, str]:
        # worker ports below the ephemeral range (32768+), where free_port() finds the others; apart per node
        low = 20000 + self.gcs_port % 100 * 100 + (50 if node == "worker" else 0)
        return {"--temp-dir": str(self.ray_root / node), "--node-ip-address": "127.0.0.1",
                "--node-manager-port": str(free_port()), "--object-manager-port": str(free_port()),
                "--dashboard-agent-listen-port": str(free_port()), "--dashboard-agent-grpc-port": str(free_port()),
                "--metrics-export-port": str(free_port()), "--runtime-env-agent-port": str(free_port()),
                "--min-worker-port": str(low), "--max-worker-port": str(low + 49)}

    def start(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'searchsvc'").fetchone():
                admin.execute("CREATE ROLE searchsvc LOGIN")
            admin.execute(f'CREATE DATABASE "{self.database}" OWNER searchsvc')
        self.services = self.plan()
        self.services["mlflow"].start()
        self.services["ray-head"].start()
        self._wait(lambda: answers(f"{self.tracking_uri}/health"), "the MLflow server", "mlflow")
        self._wait(lambda: answers(f"{self.jobs_api}/api/version", self.token), "the Ray head's Jobs API", "ray-head")
        self.start_worker()

    def start_worker(self) -> None:
        self.services["ray-worker"].start()
        self._wait(lambda: self.alive_nodes() == 2, "the worker node to join", "ray-worker")

    def _wait(self, ready, what: str, service: str) -> None:
        process = self.services[service].process
        wait_for(lambda: ready() or process.poll() is not None, 120, what)
        if process.poll() is not None:
            raise RuntimeError(f"{service} exited ({process.returncode}) before {what} answered")

    def job_status(self, job_id: str) -> str:
        """What the Jobs API says of a job (asked over HTTP, as this test process holds no Ray settings)."""
        return self._get(f"/api/jobs/{job_id}")["status"]

    def alive_nodes(self) -> int:
        try:
            summary = self._get("/nodes?view=summary")["data"]["summary"]
        except (OSError, KeyError, ValueError):
            return 0
        return sum(1 for node in summary if node.get("raylet", {}).get("state") == "ALIVE")

    def _get(self, path: str) -> dict:
        import json

        request = urllib.request.Request(self.jobs_api + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.load(r)

    def raylet_pid(self, node: str) -> int:
        """The pid of a node's raylet (its command line names the node's temporary folder)."""
        temp = str(self.ray_root / node)
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            with suppress(OSError, ValueError):
                command = path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "raylet" in command.split(" ")[0] and temp in command:
                    return int(path.parent.name)
        raise LookupError(f"no raylet of {node} runs")

    def stop(self) -> None:
        for name in ("ray-worker", "ray-head", "mlflow"):
            if name in self.services:
                self.services[name].stop()
        _kill_processes_naming(str(self.ray_root))
        shutil.rmtree(self.ray_root, ignore_errors=True)
        import psycopg

        with suppress(Exception), psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{service.log_tail()}" for name, service in self.services.items())


def _localised(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def _kill_processes_naming(text: str) -> None:
    """What the nodes left running (Ray's daemons name their node's folder on their command lines)."""
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        with suppress(OSError, ValueError):
            if text in path.read_bytes().decode(errors="replace") and int(path.parent.name) != os.getpid():
                os.kill(int(path.parent.name), signal.SIGKILL)


def submitted(result: subprocess.CompletedProcess) -> dict:
    """What ``searchsvc submit --cluster … --json`` printed."""
    import json

    return json.loads(result.stdout)
