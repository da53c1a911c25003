"""First use by several commands at once: the ledger's schema and MLflow's local store are each created once,
whoever comes first, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from tests.searchsvc.processes import finish, kill, ray_head, searchsvc, team_spec
from tests.searchsvc.servers import scratch_database

ROUNDS = 10
SUBMIT_ROUNDS = 4  # each a home where two submits meet: 8 searchsvc processes at once (10 rounds took 133 s)


def test_two_submits_on_a_fresh_home_both_succeed(tmp_path) -> None:
    """Each round a new home, where two submits at once create its ledger and its MLflow store together; the
    rounds run at the same time, all joined to one Ray head (started once), so that a round costs its store
    creation and a trial, not two Ray starts."""
    spec = team_spec(tmp_path / "team.yaml", trials=1, epochs=1)
    with ray_head() as (address, reach):
        processes = {(k, i): searchsvc("submit", spec, "--address", address, "--quiet", "--json",
                                       env={**reach, "SEARCHSVC_HOME": str(tmp_path / f"home-{k}")})
                     for k in range(SUBMIT_ROUNDS) for i in range(2)}
        try:
            results = {key: finish(p) for key, p in processes.items()}
        finally:
            for p in processes.values():
                kill(p)
        for (k, _), (code, out, err) in results.items():
            assert code == 0, (k, err[-3000:])
            assert json.loads(out)["status"] == "completed"


def test_three_lists_on_a_fresh_postgresql_database_all_succeed(postgres_url) -> None:
    for k in range(ROUNDS):
        with scratch_database("searchsvc_first_use") as url:
            processes = [searchsvc("list", "--json", "--ledger", url) for _ in range(3)]
            for process in processes:
                code, out, err = finish(process, timeout=120)
                assert code == 0 and json.loads(out) == [], (k, err[-2000:])
