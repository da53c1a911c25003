"""The ledger on SQLite and on the real PostgreSQL server (127.0.0.1:5432, trust auth): typed records,
idempotent trial writes, and the lease: taken by compare-and-set, fenced writes, expiry on the database's
clock, cancel requests addressed to the holder."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from experiments.results import EpochMetrics
from searchsvc.errors import NotFoundError, UsageError
from searchsvc.status import SweepStatus, TrialStatus
from searchsvc.stores.lease import Lease, LeaseLost, Owned
from searchsvc.stores.ledger import Ledger, get_ledger
from searchsvc.stores.schema import FileClock, sweeps_table, trials_table
from searchsvc.stores.records import Node, TrialRecord, best_trial
from tests.builders import epoch, expire_now, owned_sweep, result, sweep_spec


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path) -> Ledger:
    url = f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db = get_ledger(url)
    with db._engine.begin() as connection:  # the PostgreSQL database is shared by this module's tests
        connection.execute(trials_table.delete())
        connection.execute(sweeps_table.delete())
    yield db
    db.close()


def test_trial_writes_are_idempotent_upserts_and_come_back_typed(ledger: Ledger) -> None:
    lease = owned_sweep(ledger, "s-1", trials=3)
    ledger.upsert_trials([TrialRecord("s-1", k, {"units": 8 * k}, TrialStatus.PENDING) for k in range(2)], lease)
    epochs = (EpochMetrics(1, 0.9, 0.8, 0.7, 0.5),)
    row = TrialRecord("s-1", 1, {"units": 8}, TrialStatus.OK, attempts=1, result=result(0.7, 0.65),
                      epoch_metrics=epochs, node=Node("n1", "h1"))
    ledger.upsert_trials([row], lease)
    ledger.upsert_trials([row], lease)
    trials = ledger.trials("s-1")
    assert [t.trial_index for t in trials] == [0, 1]
    assert (trials[1].status, trials[1].val_score, trials[1].config) == (TrialStatus.OK, 0.7, {"units": 8})
    assert (trials[1].result, trials[1].epoch_metrics, trials[1].node) == (result(0.7, 0.65), epochs, Node("n1", "h1"))
    assert trials[0].result is None and trials[0].node is None
    sweep = ledger.sweep("s-1")
    assert sweep.spec == sweep_spec(3) and sweep.status is SweepStatus.RUNNING and sweep.leased
    assert ledger.status_counts(sweep) == {"pending": 2, "ok": 1}  # trial 2 never started: pending, without a row
    assert ledger.unfinished(sweep) == [0, 2]


def test_sweeps_by_id_or_unique_prefix(ledger: Ledger) -> None:
    lease = owned_sweep(ledger, "quick-20261122-a")
    owned_sweep(ledger, "quick-20261122-b")
    assert ledger.sweep("quick-20261122-a").sweep_id == "quick-20261122-a"
    with pytest.raises(NotFoundError, match="several"):
        ledger.sweep("quick-")
    with pytest.raises(NotFoundError, match="not in the ledger"):
        ledger.sweep("nope")
    assert ledger.release(lease, SweepStatus.COMPLETED) is SweepStatus.COMPLETED
    sweep = ledger.sweep("quick-20261122-a")
    assert sweep.status is SweepStatus.COMPLETED and not sweep.leased and sweep.finished_at.tzinfo is not None


def test_unsupported_urls_are_usage_errors_naming_the_flag(tmp_path) -> None:
    for url in ("mysql://x/y", "not a url", "postgresql://u@h:abc/db", "sqlite:////proc/nope/x.db"):
        with pytest.raises(UsageError, match=r"^--ledger \(or \$SEARCHSVC_LEDGER\)"):
            get_ledger(url)
    assert get_ledger(None).url.endswith("ledger.db")


def test_a_missing_ledger_reads_as_empty_and_is_not_created(tmp_path) -> None:
    path = tmp_path / "nowhere" / "ledger.db"
    ledger = get_ledger(f"sqlite:///{path}", create=False)
    assert ledger.sweeps() == []
    with pytest.raises(NotFoundError):
        ledger.sweep("s")
    assert not path.parent.exists()


def test_concurrent_writers_lose_nothing(ledger: Ledger) -> None:
    """8 threads upserting at once (more than a sweep's single writer ever does): no lock errors, no lost rows."""
    from concurrent.futures import ThreadPoolExecutor

    lease = owned_sweep(ledger, "s-1", trials=400)

    def write(worker: int) -> None:
        for k in range(worker * 50, worker * 50 + 50):
            ledger.upsert_trials([TrialRecord("s-1", k, {"units": k}, TrialStatus.RUNNING)], lease)
            ledger.upsert_trials([TrialRecord("s-1", k, {"units": k}, TrialStatus.OK, attempts=1,
                                              result=result(k / 400))], lease)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    trials = ledger.trials("s-1")
    assert [t.trial_index for t in trials] == list(range(400))
    assert all(t.status == "ok" and t.val_score == t.trial_index / 400 for t in trials)


def test_best_trial_by_direction_with_ties_to_the_lowest_index() -> None:
    trials = [TrialRecord("s", k, {}, status, result=result(v) if v is not None else None) for k, (status, v) in
              enumerate([("ok", 0.5), ("ok", 0.9), ("diverged", None), ("ok", 0.9), ("error", 1.0), ("ok", 0.1)])]
    assert best_trial(trials, "max").trial_index == 1
    assert best_trial(trials, "min").trial_index == 5
    assert best_trial(trials[2:3], "max") is None


def test_the_databases_answers_equal_those_of_the_sweeps_rows(ledger: Ledger) -> None:
    """Counts, the best trial, a resume's rows and rows without epochs, from SQL: as computed from every row."""
    lease = owned_sweep(ledger, "s-1", trials=9)
    statuses = [("ok", 0.5), ("stopped", 0.9), ("diverged", None), ("ok", 0.9), ("error", None), ("ok", 0.1),
                ("cancelled", None), ("running", None)]
    ledger.upsert_trials([TrialRecord("s-1", k, {"units": k}, status, attempts=1,
                                      result=result(v, 0.5) if v is not None else None, epoch_metrics=(epoch(1),))
                          for k, (status, v) in enumerate(statuses)], lease)
    sweep, rows = ledger.sweep("s-1"), ledger.trials("s-1")
    counts = Counter(t.status for t in rows)
    counts[TrialStatus.PENDING] += 1  # trial 8 never started
    assert ledger.status_counts(sweep) == counts
    for mode in ("max", "min"):
        assert ledger.best(replace(sweep, mode=mode)) == best_trial(rows, mode)
    assert ledger.best(sweep).trial_index == 1 and ledger.best(replace(sweep, mode="min")).trial_index == 5
    assert ledger.trials("s-1", unfinished=True) == [t for t in rows if t.trial_index in ledger.unfinished(sweep)]
    assert ledger.trials("s-1", epochs=False) == [replace(t, epoch_metrics=()) for t in rows]
    assert ledger.best(ledger.sweep(owned_sweep(ledger, "s-2").sweep_id)) is None


def test_a_live_lease_is_taken_by_no_one_else_and_an_expired_one_by_exactly_one(ledger: Ledger) -> None:
    first = owned_sweep(ledger, "s-1")
    with pytest.raises(Owned, match=first.holder):
        ledger.take("s-1", Lease("s-1"))
    ledger.upsert_trials([TrialRecord("s-1", 0, {"units": 8}, TrialStatus.RUNNING, attempts=1)], first)
    expire_now(ledger, "s-1")
    second, third = Lease("s-1"), Lease("s-1")
    taken = ledger.take("s-1", second)
    assert taken.status is SweepStatus.RUNNING and taken.leased
    assert [t.status for t in ledger.trials("s-1")] == [TrialStatus.PENDING]  # what the dead driver left running
    with pytest.raises(Owned):
        ledger.take("s-1", third)


def test_a_driver_that_lost_its_lease_writes_nothing(ledger: Ledger) -> None:
    """Fencing: every write of the old holder, trial rows, the sweep's row, its end, fails and changes nothing."""
    old = owned_sweep(ledger, "s-1")
    expire_now(ledger, "s-1")
    new = Lease("s-1")
    ledger.take("s-1", new)
    before = (ledger.sweep("s-1"), ledger.trials("s-1"))
    row = TrialRecord("s-1", 0, {"units": 8}, TrialStatus.OK, attempts=1, result=result(0.9))
    for write in (lambda: ledger.upsert_trials([row], old), lambda: ledger.renew(old),
                  lambda: ledger.release(old, SweepStatus.COMPLETED), lambda: ledger.grow(old, sweep_spec(9))):
        with pytest.raises(LeaseLost, match=new.holder):
            write()
    after = (ledger.sweep("s-1"), ledger.trials("s-1"))
    assert (after[0].status, after[0].driver, after[0].trials, after[1]) == \
        (before[0].status, before[0].driver, before[0].trials, before[1])


def test_an_expired_lease_is_an_interrupted_sweep_on_the_databases_clock(ledger: Ledger) -> None:
    lease = owned_sweep(ledger, "s-1")
    ledger.upsert_trials([TrialRecord("s-1", 0, {"units": 8}, TrialStatus.RUNNING, attempts=1),
                          TrialRecord("s-1", 1, {"units": 8}, TrialStatus.OK, attempts=1, result=result(0.5))], lease)
    assert ledger.expire("s-1").status is SweepStatus.RUNNING  # a live lease: a read changes nothing
    expire_now(ledger, "s-1")
    sweep = ledger.expire("s-1")
    assert sweep.status is SweepStatus.INTERRUPTED and not sweep.leased
    assert [t.status for t in ledger.trials("s-1")] == [TrialStatus.PENDING, TrialStatus.OK]


def test_a_cancel_is_addressed_to_the_holder_and_ends_its_sweep_cancelled(ledger: Ledger) -> None:
    lease = owned_sweep(ledger, "s-1")
    assert not ledger.renew(lease)
    assert ledger.request_cancel("s-1")
    assert ledger.renew(lease) and ledger.sweep("s-1").cancel_requested
    # the request came while the records closed: the sweep ends cancelled, not completed
    assert ledger.release(lease, SweepStatus.COMPLETED) is SweepStatus.CANCELLED
    assert not ledger.request_cancel("s-1")  # nobody runs it now
    successor = Lease("s-1")
    assert not ledger.sweep("s-1").cancel_requested
    ledger.take("s-1", successor)
    assert not ledger.renew(successor)  # a new owner never sees a request addressed to another


def test_the_sqlite_clock_is_the_file_systems() -> None:
    """The time the kernel stamps on a write: what every process on the database's host reads alike."""
    import os
    import tempfile
    import time
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        clock = FileClock(Path(folder) / "clock")
        first = clock()
        assert abs(first - time.time()) < 2 and clock() >= first and os.path.exists(Path(folder) / "clock")

