"""`searchsvc ui` as a real process: MLflow's UI on searchsvc's own store, without its GenAI job runner, and
nothing of it left once `searchsvc ui` is stopped by Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from searchsvc.cli.analysis import UI_STOP_S
from tests.cluster.native import free_port
from tests.searchsvc.processes import kill, wait_for


@pytest.mark.parametrize("stop, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_ui_serves_searchsvcs_store_and_stopping_it_stops_every_process_it_started(searchsvc_home, stop,
                                                                                   code) -> None:
    from searchsvc.home import default_tracking_uri
    from searchsvc.stores.tracking import get_tracker

    get_tracker(default_tracking_uri()).experiment_id("tiny")  # a sweep's experiment in searchsvc's store
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "searchsvc", "ui", "--port", str(port)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, start_new_session=True,
                          env={**os.environ, "SEARCHSVC_HOME": str(searchsvc_home)})
    try:
        wait_for(lambda: ui.poll() is not None or _answers(f"http://127.0.0.1:{port}/health"), 120, "the MLflow UI")
        assert ui.poll() is None, ui.stderr.read()
        assert b"mlflow" in urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().lower()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10",
                                      timeout=5).read().decode()
        assert '"tiny"' in body
        started = _descendants(ui.pid)
        assert started, "searchsvc ui started no process"
        assert not [command for command in started.values() if "huey" in command]  # no job runner
        ui.send_signal(stop)
        assert ui.wait(UI_STOP_S + 30) == code
        wait_for(lambda: not _running(started), 5, "the UI's processes to end")
        assert not _answers(f"http://127.0.0.1:{port}/health")
    finally:
        kill(ui)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


def _stat(pid: str) -> list[str] | None:
    """Fields 3 on of /proc/PID/stat (state, ppid, pgrp, ...), None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _descendants(root: int) -> dict[tuple[str, str], str]:
    """Every process below ``root``: (pid, start time) → its command line."""
    parents = {p.name: fields[1] for p in Path("/proc").glob("[0-9]*") if (fields := _stat(p.name))}
    found, frontier = {}, {str(root)}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        for pid in frontier:
            if (fields := _stat(pid)) is not None:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found[(pid, fields[19])] = command
    return found


def _running(processes: dict[tuple[str, str], str]) -> list[str]:
    """Those of ``processes`` still running: the same pid and start time, not a zombie."""
    return [command for (pid, start), command in processes.items()
            if (fields := _stat(pid)) is not None and fields[19] == start and fields[0] != "Z"]
