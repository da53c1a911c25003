"""CLI conventions: instant help (no heavy imports), an example per command, progress formatting, JSON of many
rows, read commands that import no spec models."""

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


def test_progress_in_a_log_is_a_line_a_second_at_most_and_the_last_at_the_end() -> None:
    """The line counts every started trial, so a sweep of many short trials must not draw it per trial."""
    import io
    from types import SimpleNamespace

    from searchsvc.run.progress import Progress

    recorder = SimpleNamespace(trials={})
    stream = io.StringIO()
    progress = Progress(recorder, 100, "accuracy", "max", stream=stream)
    for k in range(100):
        recorder.trials[k] = SimpleNamespace(record=SimpleNamespace(trial_index=k, status="ok", val_score=k / 100))
        progress._draw(finished=True)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[1/100]") and lines[1].startswith("[100/100] ok 100"), lines


def test_rows_json_is_the_indented_json_with_a_row_a_line() -> None:
    import datetime as dt
    import json

    from searchsvc.cli.texts import rows_json, to_json

    rows = [{"trial_index": k, "config": {"units": k}, "at": dt.date(2026, 1, 1)} for k in range(3)]
    text = rows_json({"sweep_id": "s", "n": 3}, "trials", rows)
    assert json.loads(text) == json.loads(to_json({"sweep_id": "s", "n": 3, "trials": rows}))
    assert len(text.splitlines()) == 4 + 2 + len(rows)
    assert json.loads(rows_json({"sweep_id": "s"}, "trials", [])) == {"sweep_id": "s", "trials": []}


def test_status_and_list_read_a_sweep_without_validating_its_spec(tmp_path) -> None:
    """They print counts and scores, from the ledger's columns: pydantic and the spec's models are not imported."""
    from searchsvc.stores.ledger import get_ledger
    from tests.builders import owned_sweep

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    owned_sweep(get_ledger(url), "s-1")
    code = ("import sys; from searchsvc.cli import cli\n"
            f"for args in (['status', 's-1', '--ledger', {url!r}], ['list', '--ledger', {url!r}]):\n"
            "    try:\n        cli.main(args, standalone_mode=False)\n    except SystemExit: pass\n"
            "loaded = sorted({'pydantic', 'numpy', 'searchsvc.sweep.spec'} & set(sys.modules))\n"
            "print(loaded); assert not loaded, loaded")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "s-1: running, 3 trials" in result.stdout, result.stdout + result.stderr
