"""The ledger on SQLite and on the real PostgreSQL server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import pytest

from experiments.results import EpochMetrics, TrialResult
from searchsvc.errors import NotFoundError, UsageError
from searchsvc.stores.ledger import Ledger, SweepRecord, TrialRecord, get_ledger, now, sweeps_table, trials_table
from searchsvc.run.reports import Node


def scored(val: float | None, test: float | None = None, **kw) -> TrialResult:
    """An ok trial's result with these scores."""
    values = dict(status="ok", val_score=val, test_score=test, val_n=640, test_n=1000, epochs=3, best_epoch=2,
                  param_count=99, memory_estimate_bytes=1, train_seconds=1.5, cpu_seconds=1.4,
                  samples_per_second=100.0)
    return TrialResult(**{**values, **kw})

@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path) -> Ledger:
    url = f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db = get_ledger(url)
    with db._engine.begin() as connection:  # the PostgreSQL database is shared by this module's tests
        connection.execute(trials_table.delete())
        connection.execute(sweeps_table.delete())
    yield db
    db.close()


def sweep(sweep_id: str = "s-1") -> SweepRecord:
    return SweepRecord(sweep_id, "s", {"trials": 3}, 3, "accuracy", "max", "running", now())


def test_trial_writes_are_idempotent_upserts(ledger: Ledger) -> None:
    ledger.create_sweep(sweep())
    ledger.upsert_trials([TrialRecord("s-1", k, {"units": 8 * k}, "pending") for k in range(3)])
    epochs = (EpochMetrics(1, 0.9, 0.8, 0.7, 0.5),)
    ledger.upsert_trials([TrialRecord("s-1", 1, {"units": 8}, "ok", attempts=1, result=scored(0.7, 0.65),
                                      epoch_metrics=epochs, node=Node("n1", "h1"))])
    ledger.upsert_trials([TrialRecord("s-1", 1, {"units": 8}, "ok", attempts=1, result=scored(0.7, 0.65),
                                      epoch_metrics=epochs, node=Node("n1", "h1"))])
    trials = ledger.trials("s-1")
    assert [t.trial_index for t in trials] == [0, 1, 2]
    assert (trials[1].status, trials[1].val_score, trials[1].config) == ("ok", 0.7, {"units": 8})
    assert (trials[1].result, trials[1].epoch_metrics, trials[1].node) == (scored(0.7, 0.65), epochs, Node("n1", "h1"))
    assert trials[0].result is None and trials[0].node is None
    assert ledger.status_counts("s-1") == {"pending": 2, "ok": 1}


def test_sweeps_by_id_or_unique_prefix(ledger: Ledger) -> None:
    ledger.create_sweep(sweep("quick-20261122-a"))
    ledger.create_sweep(sweep("quick-20261122-b"))
    assert ledger.sweep("quick-20261122-a").sweep_id == "quick-20261122-a"
    with pytest.raises(NotFoundError, match="several"):
        ledger.sweep("quick-")
    with pytest.raises(NotFoundError, match="not in the ledger"):
        ledger.sweep("nope")
    ledger.update_sweep("quick-20261122-a", status="completed", finished_at=now())
    assert ledger.sweep("quick-20261122-a").status == "completed"
    assert ledger.sweep("quick-20261122-a").finished_at.tzinfo is not None


def test_unsupported_urls_are_usage_errors(tmp_path) -> None:
    with pytest.raises(UsageError, match="ledger"):
        get_ledger("mysql://x/y")
    with pytest.raises(UsageError, match="ledger"):
        get_ledger("not a url")
    assert get_ledger(None).url.endswith("ledger.db")


def test_concurrent_writers_lose_nothing(ledger: Ledger) -> None:
    """8 threads upserting at once (more than a sweep's single writer ever does): no lock errors, no lost rows."""
    from concurrent.futures import ThreadPoolExecutor

    ledger.create_sweep(sweep())

    def write(worker: int) -> None:
        for k in range(worker * 50, worker * 50 + 50):
            ledger.upsert_trials([TrialRecord("s-1", k, {"units": k}, "running")])
            ledger.upsert_trials([TrialRecord("s-1", k, {"units": k}, "ok", attempts=1, result=scored(k / 400))])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    trials = ledger.trials("s-1")
    assert [t.trial_index for t in trials] == list(range(400))
    assert all(t.status == "ok" and t.val_score == t.trial_index / 400 for t in trials)


def test_best_trial_by_direction_with_ties_to_the_lowest_index() -> None:
    from searchsvc.stores.ledger import best_trial

    trials = [TrialRecord("s", k, {}, status, result=scored(v) if v is not None else None) for k, (status, v) in
              enumerate([("ok", 0.5), ("ok", 0.9), ("diverged", None), ("ok", 0.9), ("error", 1.0), ("ok", 0.1)])]
    assert best_trial(trials, "max").trial_index == 1
    assert best_trial(trials, "min").trial_index == 5
    assert best_trial(trials[2:3], "max") is None
