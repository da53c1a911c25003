"""Real `searchsvc` processes for the tests of a team's concurrent use: start them (optionally under another host
name and a shifted clock), and wait on the ledger's state with a deadline."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: a sweep of short trials, one at a time, each long enough to act on while it runs
TEAM = """\
name: team
seed: 3
trials: {trials}
dataset: {{name: mnist1d, samples: 600}}
training: {{max_epochs: {epochs}, patience: {epochs}}}
max_concurrent: 1
bundle: 1
space:
  units: {{type: log_int, low: 8, high: 16}}
  optimizer: adam
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
"""


def team_spec(path: Path, trials: int = 3, epochs: int = 6) -> Path:
    path.write_text(TEAM.format(trials=trials, epochs=epochs))
    return path


def searchsvc(*args: str, env: dict[str, str] | None = None, host: str | None = None, clock: str | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
    """``searchsvc ARGS`` in a process group of its own; ``host``: under another host name (a UTS namespace of its
    own, ``unshare -u``); ``clock``: with its clock shifted (``faketime``, e.g. ``+120s``)."""
    command = [sys.executable, "-m", "searchsvc", *map(str, args)]
    if clock is not None:
        command = [_needed("faketime"), "-f", clock, *command]
    if host is not None:
        # a UTS namespace of its own: root may make one, anyone else in a user namespace of their own (-r)
        own = ["-u"] if os.geteuid() == 0 else ["-r", "-u"]
        command = [_needed("unshare"), *own, "sh", "-c", f'hostname {host} && exec "$@"', "sh", *command]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                            start_new_session=True, env={**os.environ, **(env or {})})


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    """Wait for the process; (exit code, stdout, stderr). Killed with its group if it overruns."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{process.args} did not end within {timeout} s:\n{err[-3000:]}")
    return process.returncode, out, err


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``predicate`` until it returns something true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _needed(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed (.ci/run installs it: Debian's {program} package)")
    return found


@contextlib.contextmanager
def ray_head(cpus: int = 2) -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on loopback (``ray start --head --block``, ports free here, a short temp dir of its own, its
    own token): its address and the environment that reaches it; stopped with every process it started."""
    import secrets

    from tests.cluster.native import _kill_processes_naming, free_port

    root = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))  # Ray's socket paths must stay within 107 bytes
    port = free_port()
    ports = {flag: str(free_port()) for flag in ("--node-manager-port", "--object-manager-port",
                                                 "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                                                 "--metrics-export-port", "--runtime-env-agent-port")}
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}",
               f"--num-cpus={cpus}", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={root}",
               "--node-ip-address=127.0.0.1", *(f"{flag}={value}" for flag, value in ports.items())]
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    head = subprocess.Popen(command, stdout=open(root / "head.log", "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, **env})
    address = f"127.0.0.1:{port}"
    try:
        wait_for(lambda: head.poll() is not None or _answers(address), 60, "the Ray head to start")
        assert head.poll() is None, (root / "head.log").read_text()[-3000:]
        yield address, env
    finally:
        kill(head)
        _kill_processes_naming(str(root))
        shutil.rmtree(root, ignore_errors=True)


def _answers(address: str) -> bool:
    import socket

    host, port = address.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False
