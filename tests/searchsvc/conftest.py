"""Helpers for driving the CLI in-process, and a tiny sweep spec that trains in seconds."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from searchsvc.cli import main

TINY = """\
name: tiny
seed: 11
trials: 6
dataset: {{name: mnist1d, samples: 400}}
training: {{max_epochs: 2, patience: 2}}
max_concurrent: {concurrent}
bundle: {bundle}
space:
  units: {{type: log_int, low: 4, high: 16}}
  layers: {{type: int, low: 1, high: 2}}
  dropout_placement: {{type: choice, values: [none, input, between, output]}}
  dropout: {{type: uniform, low: 0.0, high: 0.5}}
  optimizer: {{type: choice, values: [sgd, adam]}}
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
  momentum: {{type: uniform, low: 0.5, high: 0.9, when: {{optimizer: sgd}}}}
  batch_size: 64
"""


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
def ray_session():
    """Tests that start Ray share one embedded instance per module and shut it down after."""
    yield
    import ray

    ray.shutdown()
