"""One owner per sweep: whoever runs resume, extend, cancel or status, from whichever host and clock, each trial
is trained and recorded once. Real processes throughout: drivers, observers under another host name
(``unshare -u``) and a shifted clock (``faketime``), SQLite and PostgreSQL ledgers, a real MLflow server."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from searchsvc.stores.ledger import get_ledger
from tests.searchsvc.processes import finish, kill, searchsvc, team_spec, wait_for
from tests.searchsvc.servers import MlflowServer, scratch_database

FINAL = ("ok", "diverged", "error")


def ledger_url(kind: str, tmp_path: Path, request) -> str:
    """A new ledger of that kind for one test: a SQLite file, or a database of its own on the local PostgreSQL."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    request.getfixturevalue("postgres_url")  # skips without a PostgreSQL
    database = scratch_database("searchsvc_owner")
    url = database.__enter__()
    request.addfinalizer(lambda: database.__exit__(None, None, None))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path) -> dict[str, str]:
    """The environment of every process of a test: its ledger, and for PostgreSQL a real MLflow server on it."""
    url = ledger_url(request.param, tmp_path, request)
    if request.param == "sqlite":
        return {"SEARCHSVC_LEDGER": url}
    server = MlflowServer(url, tmp_path).start()
    request.addfinalizer(server.kill)
    return {"SEARCHSVC_LEDGER": url, "MLFLOW_TRACKING_URI": server.url}


def only_sweep(env: dict[str, str]):
    sweeps = get_ledger(env["SEARCHSVC_LEDGER"]).sweeps()
    return sweeps[0] if len(sweeps) == 1 else None


def trials(env: dict[str, str], sweep_id: str) -> list:
    return get_ledger(env["SEARCHSVC_LEDGER"]).trials(sweep_id)


def statuses(env: dict[str, str], sweep_id: str) -> list[str]:
    return [str(t.status) for t in trials(env, sweep_id)]


def cancelled_sweep(tmp_path: Path, env: dict[str, str], trials_: int = 3) -> str:
    """A sweep cancelled before its first trial: submitted, then cancelled as soon as it is in the ledger."""
    driver = searchsvc("submit", team_spec(tmp_path / "team.yaml", trials_), "--quiet", env=env)
    try:
        sweep = wait_for(lambda: only_sweep(env), 120, "the sweep to be recorded")
        code, _, err = finish(searchsvc("cancel", sweep.sweep_id, env=env))
        assert code == 0, err
        code, _, err = finish(driver)
    finally:
        kill(driver)
    assert code == 130, err[-3000:]
    assert only_sweep(env).status == "cancelled"
    return sweep.sweep_id


def race(env: dict[str, str], *commands: list[str]) -> list[tuple[int, str, str]]:
    """Start the commands together; their results in order."""
    processes = [searchsvc(*command, "--quiet", "--json", env=env) for command in commands]
    try:
        results = [finish(p) for p in processes]
    finally:
        for p in processes:
            kill(p)
    return [(code, out, err, p.pid) for (code, out, err), p in zip(results, processes)]


def one_winner(results) -> dict:
    """Exactly one command ran the sweep; the others exit 2 naming it (its process) as the owner."""
    won = [r for r in results if r[0] == 0]
    assert len(won) == 1, [(code, err[-800:]) for code, _, err, _ in results]
    winner_pid = won[0][3]
    for code, _, err, _ in results:
        if code != 0:
            assert code == 2 and f":{winner_pid}" in err and "Traceback" not in err, err[-2000:]
    return json.loads(won[0][1])


def assert_each_trial_once(env: dict[str, str], sweep_id: str, trained: int) -> None:
    """Every trial final, trained once in this run (one attempt), and, in MLflow, one value per step of every
    metric of its run."""
    rows = trials(env, sweep_id)
    assert [t.trial_index for t in rows] == list(range(trained)) and all(t.status in FINAL for t in rows)
    assert [t.attempts for t in rows] == [1] * trained
    if "MLFLOW_TRACKING_URI" in env:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        for t in rows:
            run = client.get_run(t.mlflow_run_id)
            for key in run.data.metrics:
                steps = [m.step for m in client.get_metric_history(t.mlflow_run_id, key)]
                assert len(steps) == len(set(steps)), (t.trial_index, key, steps)


def test_two_resumes_then_two_extends_then_resume_against_extend_each_train_once(stores, tmp_path) -> None:
    sweep_id = cancelled_sweep(tmp_path, stores, trials_=2)
    outcome = one_winner(race(stores, ["resume", sweep_id], ["resume", sweep_id]))
    assert outcome["status"] == "completed" and outcome["counts"] == {"ok": 2}
    assert_each_trial_once(stores, sweep_id, 2)
    if "MLFLOW_TRACKING_URI" not in stores:
        return  # the extends race the same way on both ledgers: once, with MLflow, is enough
    outcome = one_winner(race(stores, ["extend", sweep_id, "--add", "1"], ["extend", sweep_id, "--add", "1"]))
    assert outcome["counts"] == {"ok": 3}
    assert_each_trial_once(stores, sweep_id, 3)
    outcome = one_winner(race(stores, ["resume", sweep_id], ["extend", sweep_id, "--add", "1"]))
    assert outcome["status"] == "completed"
    assert len(trials(stores, sweep_id)) in (3, 4)


@pytest.mark.parametrize("ledger", ["sqlite", "postgresql"])
def test_a_live_sweep_seen_from_a_host_with_a_skewed_clock_stays_running(ledger, tmp_path, request) -> None:
    env = {"SEARCHSVC_LEDGER": ledger_url(ledger, tmp_path, request)}
    driver = searchsvc("submit", team_spec(tmp_path / "team.yaml", trials=8, epochs=30), "--quiet", "--no-mlflow",
                       env=env)
    try:
        sweep = wait_for(lambda: (s := only_sweep(env)) and "running" in statuses(env, s.sweep_id) and s, 120,
                         "a trial to run")
        for clock in ("+120s", "-120s"):
            code, out, err = finish(searchsvc("status", sweep.sweep_id, "--json", env=env, host="elsewhere",
                                              clock=clock))
            assert code == 0 and json.loads(out)["status"] == "running", (clock, err)
            code, _, err = finish(searchsvc("resume", sweep.sweep_id, env=env, host="elsewhere", clock=clock))
            assert code == 2 and f":{driver.pid}" in err, (clock, err)
        assert driver.poll() is None, "the sweep ended before every observer had seen it run"
        code, out, err = finish(driver)
    finally:
        kill(driver)
    assert code == 0, err[-3000:]
    assert only_sweep(env).status == "completed"
    assert_each_trial_once(env, sweep.sweep_id, 8)


def test_a_driver_whose_lease_was_taken_writes_nothing_more_and_exits_non_zero(tmp_path) -> None:
    """Its heartbeat stopped (SIGSTOP) until its lease expired, a resume took the sweep; woken (SIGCONT) while
    the new owner is held still, it writes nothing into the ledger or MLflow, and exits non-zero naming the new
    owner, who then completes the sweep with each trial once."""
    env = {"SEARCHSVC_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}", "SEARCHSVC_LEASE_S": "6"}
    first = searchsvc("submit", team_spec(tmp_path / "team.yaml", trials=3, epochs=30), "--quiet", env=env)
    second = None
    try:
        sweep = wait_for(lambda: (s := only_sweep(env)) and "running" in statuses(env, s.sweep_id) and s, 120,
                         "a trial to run")
        os.kill(first.pid, signal.SIGSTOP)
        wait_for(lambda: json.loads(finish(searchsvc("status", sweep.sweep_id, "--json", env=env))[1])["status"]
                 == "interrupted", 60, "the lease to expire")
        second = searchsvc("resume", sweep.sweep_id, "--quiet", env=env)
        wait_for(lambda: "running" in statuses(env, sweep.sweep_id) and f":{second.pid}" in only_sweep(env).driver,
                 120, "the resume to own the sweep and run a trial")
        os.kill(second.pid, signal.SIGSTOP)
        before = records(env, sweep)
        os.kill(first.pid, signal.SIGCONT)
        code, _, err = finish(first, timeout=120)
        assert code not in (0, 130) and f":{second.pid}" in err, err[-3000:]
        assert records(env, sweep) == before
        os.kill(second.pid, signal.SIGCONT)
        code, _, err = finish(second)
        assert code == 0, err[-3000:]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGCONT)
                kill(process)
    assert only_sweep(env).status == "completed"
    rows = trials(env, sweep.sweep_id)
    assert [t.trial_index for t in rows] == [0, 1, 2] and all(t.status == "ok" for t in rows)


def records(env: dict[str, str], sweep) -> tuple:
    """What the ledger and MLflow hold of a sweep: its row, its trial rows, and its runs with their metrics."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(sweep.tracking_uri)
    parent = client.get_run(sweep.mlflow_run_id)
    runs = client.search_runs([parent.info.experiment_id], max_results=1000)
    history = {(r.info.run_id, key): len(client.get_metric_history(r.info.run_id, key))
               for r in runs for key in r.data.metrics}
    row = get_ledger(env["SEARCHSVC_LEDGER"]).sweep(sweep.sweep_id)
    return (row.status, row.heartbeat_at), trials(env, sweep.sweep_id), \
        sorted((r.info.run_id, r.info.status, r.info.end_time) for r in runs), history


@pytest.mark.parametrize("when", ["before the first trial", "as a resume starts", "mid-run", "during the close"])
def test_a_cancel_stops_the_sweep_whenever_it_comes(when, tmp_path) -> None:
    env = {"SEARCHSVC_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}"}
    if when == "as a resume starts":
        sweep_id = cancelled_sweep(tmp_path, env)
        driver = searchsvc("resume", sweep_id, "--quiet", env=env)
    else:
        driver = searchsvc("submit", team_spec(tmp_path / "team.yaml", trials=3, epochs=4), "--quiet", env=env)
    try:
        sweep = wait_for(lambda: (s := only_sweep(env)) and s.status == "running" and s, 120, "the sweep to run")
        held = when in ("as a resume starts", "during the close")
        if when == "mid-run":
            wait_for(lambda: statuses(env, sweep.sweep_id)[:1] == ["ok"], 120, "the first trial to finish")
        elif when == "during the close":
            wait_for(lambda: statuses(env, sweep.sweep_id) == ["ok"] * 3, 180, "every trial to finish")
        if held:  # the driver held still where the cancel must land: as it has just taken the sweep, or closing it
            os.kill(driver.pid, signal.SIGSTOP)
            assert only_sweep(env).status == "running", "the driver closed the sweep before it could be held"
        code, _, err = finish(searchsvc("cancel", sweep.sweep_id, env=env))
        assert code == 0, err
        if held:
            os.kill(driver.pid, signal.SIGCONT)
        code, _, err = finish(driver)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGCONT)
        kill(driver)
    assert code == 130, err[-3000:]
    assert only_sweep(env).status == "cancelled"
    if when == "mid-run":  # an unfinished sweep: extend runs what it left too, and says completed only then
        code, out, err = finish(searchsvc("extend", sweep.sweep_id, "--add", "1", "--json", "--quiet", env=env))
        assert code == 0, err[-3000:]
        assert json.loads(out)["status"] == "completed" and statuses(env, sweep.sweep_id) == ["ok"] * 4


def recorded_sweep(env: dict[str, str], tmp_path: Path, trials_: int, **columns: object) -> str:
    """A sweep row as a driver left it (no trial rows unless written after), through the ledger's own tables."""
    import datetime as dt

    import sqlalchemy as sa

    from searchsvc.sweep.spec import load_spec

    spec = load_spec(team_spec(tmp_path / "team.yaml", trials_, epochs=2))
    ledger = get_ledger(env["SEARCHSVC_LEDGER"])
    stamp = dt.datetime.now(dt.timezone.utc)
    row = {"sweep_id": "team-1", "name": "team", "spec": spec.model_dump(mode="json"), "trials": trials_,
           "metric": "accuracy", "mode": "max", "status": "running", "created_at": stamp, **columns}
    table = sa.Table("sweeps", sa.MetaData(), autoload_with=ledger._engine)
    with ledger._engine.begin() as db:
        db.execute(table.insert().values(**row))
    return "team-1"


def test_on_the_drivers_own_host_a_stale_lease_is_not_kept_alive_by_a_pid(tmp_path) -> None:
    """A driver recorded as this host and pid 1 (which runs: a reused pid) whose last sign of life is 3 h old."""
    import datetime as dt
    import socket

    env = {"SEARCHSVC_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}"}
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    sweep_id = recorded_sweep(env, tmp_path, 1, driver=f"{socket.gethostname()}:1", heartbeat_at=old)
    code, out, err = finish(searchsvc("status", sweep_id, "--json", env=env))
    assert code == 0 and json.loads(out)["status"] == "interrupted", err
    code, _, err = finish(searchsvc("cancel", sweep_id, env=env))
    assert code == 2 and "not running" in err


def test_a_sweep_whose_trial_rows_were_never_written_is_resumed_whole(tmp_path) -> None:
    """The driver died between writing the sweep's row and its trials' rows: resume runs every trial, and no
    command ever reads the sweep as completed with trials missing."""
    import datetime as dt

    env = {"SEARCHSVC_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}"}
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    sweep_id = recorded_sweep(env, tmp_path, 2, status="interrupted", heartbeat_at=old)
    code, out, _ = finish(searchsvc("list", "--json", env=env))
    assert json.loads(out)[0]["status"] != "completed"
    code, out, err = finish(searchsvc("resume", sweep_id, "--json", "--quiet", env=env))
    assert code == 0, err[-3000:]
    assert json.loads(out)["counts"] == {"ok": 2} and statuses(env, sweep_id) == ["ok", "ok"]


def test_status_writes_no_store_of_a_sweep_recorded_elsewhere(tmp_path) -> None:
    """A sweep recorded on another machine into its local MLflow store: a status here creates no store at that
    path, and warns of nothing."""
    import datetime as dt

    env = {"SEARCHSVC_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}"}
    elsewhere = tmp_path / "the-other-machine" / "mlflow.db"
    sweep_id = recorded_sweep(env, tmp_path, 1, status="running", tracking_uri=f"sqlite:///{elsewhere}",
                              mlflow_run_id="0123456789abcdef", heartbeat_at=dt.datetime.now(dt.timezone.utc)
                              - dt.timedelta(hours=1))
    for command in (["status", sweep_id], ["show", sweep_id], ["list"]):
        code, _, err = finish(searchsvc(*command, env=env))
        assert code == 0 and not err.strip(), (command, err)
    assert not elsewhere.parent.exists()


def test_a_relative_data_path_is_recorded_against_the_spec_file_and_resumes_from_anywhere(tmp_path) -> None:
    import numpy as np

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    rng = np.random.default_rng(0)
    np.savez(project / "data.npz", X=rng.normal(size=(240, 10, 2)).astype("float32"), y=rng.integers(0, 2, 240))
    (project / "spec.yaml").write_text(team_spec(tmp_path / "t.yaml", 2, 2).read_text().replace(
        "{name: mnist1d, samples: 600}", "{name: npz, path: data.npz}"))
    env = {"SEARCHSVC_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}"}
    driver = searchsvc("submit", "project/spec.yaml", "--quiet", env=env, cwd=tmp_path)
    try:
        sweep = wait_for(lambda: only_sweep(env), 120, "the sweep to be recorded")
        assert str(sweep.spec.dataset.path) == str(project / "data.npz")
        code, _, err = finish(searchsvc("cancel", sweep.sweep_id, env=env))
        finish(driver)
    finally:
        kill(driver)
    code, out, err = finish(searchsvc("resume", sweep.sweep_id, "--quiet", "--json", env=env, cwd=elsewhere))
    assert code == 0, err[-3000:]
    assert statuses(env, sweep.sweep_id) == ["ok", "ok"]
