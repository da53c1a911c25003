"""Fixtures for driving the CLI in-process, and a tiny sweep spec that trains in seconds."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from searchsvc.cli import main
from tests.builders import TINY
from tests.searchsvc.servers import MlflowServer


@pytest.fixture
def run(monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """``run("submit", path, ...)`` → (exit code, stdout, stderr), through the real entry point."""

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["searchsvc", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def tiny_spec(tmp_path) -> Callable[..., Path]:
    def write(concurrent: int = 2, text: str = TINY, bundle: int | str = "auto") -> Path:
        path = tmp_path / f"tiny-{concurrent}-{bundle}.yaml"
        path.write_text(text.format(concurrent=concurrent, bundle=bundle))
        return path

    return write


@pytest.fixture(scope="module")
def mlflow_server(postgres_url, tmp_path_factory) -> str:
    """A real `mlflow server` on loopback, on a PostgreSQL database of its own, for a module's tests: its URL."""
    server = MlflowServer(postgres_url, tmp_path_factory.mktemp("mlflow")).start()
    yield server.url
    server.kill()


@pytest.fixture(scope="module")
def ray_session():
    """Tests that start Ray share one embedded instance per module and shut it down after."""
    yield
    import ray

    ray.shutdown()
