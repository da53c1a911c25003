"""A real `mlflow server` on loopback, backed by PostgreSQL, that a test can kill and start again."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.cluster.native import free_port


class MlflowServer:
    def __init__(self, backend: str, root: Path, workers: int | None = 1) -> None:
        """``workers``: the server's worker processes; None for MLflow's default."""
        self.backend = backend.replace("postgresql://", "postgresql+psycopg://")
        self.root, self.port, self.workers = root, free_port(), workers
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        log = open(self.root / "mlflow-server.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--backend-store-uri", self.backend, "--artifacts-destination", str(self.root / "artifacts"),
             *(["--workers", str(self.workers)] if self.workers else [])], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # as docker-compose.yml runs it
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.5)
        self.kill()
        raise RuntimeError("mlflow server did not come up:\n" + (self.root / "mlflow-server.log").read_text()[-3000:])

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost machine: nothing is closed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), dropped after: its URL."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
