"""CLI conventions: instant help (no heavy imports), an example per command, progress formatting."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from searchsvc.cli import cli
from searchsvc.run.progress import format_progress


def test_help_imports_no_heavy_package() -> None:
    code = ("import sys; from searchsvc.cli import cli\n"
            "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
            "heavy = sorted({'torch', 'ray', 'mlflow', 'pandas', 'sqlalchemy', 'pydantic'} & set(sys.modules))\n"
            "print(heavy); assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_an_example(command: str) -> None:
    assert "Example:" in cli.commands[command].help


def test_progress_line() -> None:
    counts = Counter({"ok": 6, "diverged": 1, "error": 1, "running": 2})
    line = format_progress(counts, 24, (7, 0.7123), "accuracy", 80.0)
    assert line.startswith("[8/24] ok 6 running 2 diverged 1 error 1")
    assert "best accuracy 0.7123 (trial 7)" in line and "1m20s" in line and "ETA 2m40s" in line


def test_while_a_sweep_runs_what_others_print_goes_to_stderr() -> None:
    """Ray, Tune and their worker processes may print; stdout carries searchsvc's data only (--json parses)."""
    code = ("import os, subprocess, sys; from searchsvc.cli.running import data_only_stdout\n"
            "with data_only_stdout():\n"
            "    print('python print'); os.write(1, b'fd write\\n'); subprocess.run(['echo', 'child process'])\n"
            "print('{\"data\": 1}')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout == '{"data": 1}\n', result.stdout
    assert all(line in result.stderr for line in ("python print", "fd write", "child process"))
