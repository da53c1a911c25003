"""Early termination through the real parts: a live ASHA sweep decides as one worker in trial-index order would,
at concurrency 1 and 2 and across a killed driver and a resume, and exactly as the what-if replayed on the
same sweep run in full decides; bad rules are refused naming the field."""

from __future__ import annotations

import json
import os
import signal

import pytest

from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.records import best_trial
from tests.searchsvc.processes import kill, searchsvc, team_spec, wait_for

pytestmark = pytest.mark.usefixtures("ray_session")

RULE = "asha:min_epochs=1,eta=3"
EARLY = {"type": "asha", "min_epochs": 1, "eta": 3}


def spec(tmp_path, concurrent: int, bundle: int | str = "auto", early: bool = True):
    """The team's sweep (tests.searchsvc.processes), 10 trials of 9 epochs, run by ``concurrent`` workers."""
    import yaml

    document = yaml.safe_load(team_spec(tmp_path / "team.yaml", trials=10, epochs=9).read_text())
    document.update(name="early", seed=4, max_concurrent=concurrent, bundle=bundle,
                    space={**document["space"], "optimizer": {"type": "choice", "values": ["sgd", "adam"]}},
                    **({"early_terminate": EARLY} if early else {}))
    path = tmp_path / f"early-{concurrent}-{bundle}-{early}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def outcomes(sweep_id: str) -> list[tuple]:
    """What the ledger records of each trial: its status, its stop epoch and its scores."""
    return [(t.trial_index, str(t.status), t.result.stop_epoch, t.val_score, t.test_score, t.result.epochs)
            for t in get_ledger().trials(sweep_id)]


def test_a_live_sweep_decides_as_one_worker_and_as_the_what_if_of_the_full_sweep(run, tmp_path) -> None:
    runs = {}
    for label, concurrent, bundle in (("one worker", 1, 1), ("two workers", 2, "auto")):
        code, out, err = run("submit", spec(tmp_path, concurrent, bundle), "--json", "-q")
        assert code == 0, err
        runs[label] = json.loads(out)["sweep_id"]
    # killed mid-way (after three trials), then resumed by a new driver
    env = {"SEARCHSVC_LEASE_S": "3"}
    driver = searchsvc("submit", spec(tmp_path, 2, "auto"), "-q", env=env)
    try:
        sweep_id = wait_for(lambda: next((s.sweep_id for s in get_ledger().sweeps() if s.sweep_id not in runs.values()
                                          and sum(t.status.final for t in get_ledger().trials(s.sweep_id)) >= 3), None),
                            180, "three trials of the third sweep to end")
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        kill(driver)
    assert sum(t.status.final for t in get_ledger().trials(sweep_id)) < 10
    wait_for(lambda: not get_ledger().sweep(sweep_id).leased, 30, "the killed driver's lease to expire")
    code, _, err = run("resume", sweep_id, "-q")
    assert code == 0, err
    runs["killed and resumed"] = sweep_id

    recorded = {label: outcomes(sweep_id) for label, sweep_id in runs.items()}
    assert recorded["one worker"] == recorded["two workers"] == recorded["killed and resumed"]
    stopped = {k: stop for k, status, stop, *_ in recorded["one worker"] if status == "stopped"}
    assert stopped and len(stopped) < 10

    code, out, err = run("submit", spec(tmp_path, 2, early=False), "--json", "-q")
    assert code == 0, err
    full = json.loads(out)["sweep_id"]
    code, out, err = run("analyze", full, "--out", tmp_path / "what-if", "--no-importance", "--what-if", RULE, "--json")
    assert code == 0, err
    (replayed,) = json.loads(out)["what_if"]["sweeps"]
    assert {t["trial_index"]: t["stop_epoch"] for t in replayed["stopped"]} == stopped
    live_best = best_trial(get_ledger().trials(runs["one worker"]), "max")
    assert replayed["best"]["trial_index"] == live_best.trial_index, replayed
    code, _, err = run("analyze", runs["one worker"], "--what-if", RULE, "--out", tmp_path / "cut")
    assert code == 2 and "ran with early_terminate" in err and len(err.strip().splitlines()) == 1, err


def test_bad_rules_are_refused_naming_the_field(run, tmp_path) -> None:
    base = spec(tmp_path, 1, early=False).read_text()
    for block, field in (("{type: asha, min_epochs: 1, eta: 1}", "early_terminate.eta"),
                         ("{type: asha, min_epochs: 12}", "early_terminate.min_epochs"),
                         ("{type: hyperband, min_epochs: 2}", "early_terminate.type")):
        path = tmp_path / "bad.yaml"
        path.write_text(base + f"early_terminate: {block}\n")
        for command in ("validate", "submit"):
            code, _, err = run(command, path)
            assert code == 2 and err.startswith(f"error: {field}:") and len(err.strip().splitlines()) == 1, err
    table = tmp_path / "t.csv"
    table.write_text("trial_index,status,val_score,test_score\n0,ok,0.5,0.4\n1,ok,0.6,0.5\n")
    code, _, err = run("analyze", "--table", table, "--mode", "max", "--what-if", RULE, "--out", tmp_path / "o")
    assert code == 2 and "no curves" in err, err
    code, _, err = run("analyze", "--table", table, "--mode", "max", "--what-if", "asha:min_epochs=1,eta=1",
                       "--out", tmp_path / "o")
    assert code == 2 and "--what-if.eta" in err, err
