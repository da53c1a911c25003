"""Input that is refused up front: exit 2, one line naming the field (or flag) and the fix, nothing written."""

from __future__ import annotations

import json
import time

import pytest

from tests.searchsvc.processes import team_spec

NAN_CASES = {
    "lr: .nan": ("  lr: {type: log_uniform, low: 1.0e-3, high: 1.0e-2}", "  lr: .nan", "space.lr"),
    "dropout: .nan": ("  optimizer: adam", "  optimizer: adam\n  dropout: .nan", "space.dropout"),
    "uniform low: .nan": ("  optimizer: adam", "  optimizer: adam\n  dropout: {type: uniform, low: .nan, high: 0.5}",
                          "space.dropout"),
    "lr high: .inf": ("high: 1.0e-2", "high: .inf", "space.lr"),
    "grad_clip: .nan": ("patience: 2}", "patience: 2, grad_clip: .nan}", "training.grad_clip"),
}


def refused(code: int, err: str, field: str, home) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {field}"), err
    assert "Traceback" not in err
    written = {p.name for p in home.iterdir()} if home.exists() else set()
    assert written <= {"datasets"}, written


@pytest.mark.parametrize("case", NAN_CASES, ids=list(NAN_CASES))
@pytest.mark.parametrize("command", ["validate", "submit"])
def test_nan_and_infinite_numbers_in_a_spec_are_refused_naming_the_field(case, command, run, tmp_path,
                                                                         searchsvc_home) -> None:
    old, new, field = NAN_CASES[case]
    spec = team_spec(tmp_path / "team.yaml", trials=2, epochs=2)
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, new))
    code, _, err = run(command, spec)
    refused(code, err, field, searchsvc_home)


def test_validate_builds_only_the_configs_it_shows(run, tmp_path) -> None:
    """Ten million trials validate as fast as one (the data set, generated at first use, is made beforehand)."""
    assert run("validate", team_spec(tmp_path / "one.yaml", trials=1, epochs=2))[0] == 0
    spec = team_spec(tmp_path / "team.yaml", trials=10_000_000, epochs=2)
    started = time.monotonic()
    code, out, err = run("validate", spec, "--show", "1", "--json")
    assert code == 0, err
    assert time.monotonic() - started < 2.0
    assert [t["trial_index"] for t in json.loads(out)["trials"]] == [0]


@pytest.mark.parametrize("url, flag", [
    ("postgresql://u@h:abc/db", "--ledger"),
    ("sqlite:////proc/nope/x.db", "--ledger"),
    ("mysql://u@h/db", "--ledger"),
])
def test_a_malformed_ledger_url_is_one_line_naming_the_flag(url, flag, run, tmp_path, searchsvc_home) -> None:
    code, _, err = run("submit", team_spec(tmp_path / "team.yaml", 1, 1), flag, url)
    refused(code, err, flag, searchsvc_home)
    code, _, err = run("list", flag, url)
    if url.startswith("sqlite"):  # a ledger that is not there yet: a read command says so, and creates nothing
        assert code == 0 and "/proc/nope/x.db" in err
    else:
        refused(code, err, flag, searchsvc_home)


@pytest.mark.parametrize("uri", ["http://h:abc", "mlflow-server:5000"])
def test_a_malformed_tracking_uri_is_one_line_naming_the_flag(uri, run, tmp_path, searchsvc_home) -> None:
    code, _, err = run("submit", team_spec(tmp_path / "team.yaml", 1, 1), "--tracking-uri", uri)
    refused(code, err, "--tracking-uri", searchsvc_home)


def recorded(tmp_path, text: str) -> str:
    """A completed sweep of ``text``'s spec in the default ledger (written as a driver writes it)."""
    import datetime as dt

    from searchsvc.stores.ledger import get_ledger
    from searchsvc.sweep.spec import parse_spec

    import sqlalchemy as sa

    spec = parse_spec(text)
    ledger = get_ledger()
    table = sa.Table("sweeps", sa.MetaData(), autoload_with=ledger._engine)
    with ledger._engine.begin() as db:
        db.execute(table.insert().values(sweep_id="old-1", name=spec.name, spec=spec.model_dump(mode="json"),
                                         trials=spec.trials, metric=spec.metric, mode=spec.mode, status="completed",
                                         created_at=dt.datetime.now(dt.timezone.utc)))
    return "old-1"


def test_extend_obeys_the_cap_on_trials(run, tmp_path) -> None:
    sweep_id = recorded(tmp_path, team_spec(tmp_path / "team.yaml", 2, 1).read_text())
    code, _, err = run("extend", sweep_id, "--add", "20000000")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--add" in err and "10000000" in err.replace(",", ""), err


def test_extend_of_a_grid_is_refused_saying_why(run, tmp_path) -> None:
    text = team_spec(tmp_path / "team.yaml", 2, 1).read_text().replace("seed: 3", "seed: 3\nstrategy: grid").replace(
        "  lr: {type: log_uniform, low: 1.0e-3, high: 1.0e-2}", "  lr: {type: choice, values: [0.001, 0.01]}").replace(
        "  units: {type: log_int, low: 8, high: 16}", "  units: 8")
    sweep_id = recorded(tmp_path, text)
    code, _, err = run("extend", sweep_id, "--add", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "grid" in err and "Traceback" not in err, err
