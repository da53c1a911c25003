"""The bundle searcher: factoring's bundle sizes, the cluster's capacity when each bundle starts, and a failed
bundle's unfinished trials given back until the restart limit."""

from __future__ import annotations

from searchsvc.run.bundles import BundleSearcher, TrialQueue
from searchsvc.run.cluster import Capacity
from searchsvc.run.protocol import Bundle, FinalReport, to_tune
from searchsvc.stores.records import Node

NODE = Node("node-1", "host-1")


def searcher(indices, capacity, size, max_restarts, **kw) -> BundleSearcher:
    indices = list(indices)
    return BundleSearcher(TrialQueue(indices, len(indices)), capacity, size, max_restarts, **kw)


def bundle(indices: list[int], gpus: float = 0.0) -> dict:
    return Bundle(tuple(indices), gpus).to_tune()


def slots(n: int, gpu_share: float = 0.0):
    return lambda: Capacity(gpu_share, n)


def final(k: int) -> dict:
    return to_tune(FinalReport(k, 1, (), None, "boom", NODE))


def test_factoring_hands_out_large_bundles_first_and_single_trials_at_the_end() -> None:
    scheduler = searcher(range(128), slots(2), size=None, max_restarts=10)
    sizes = []
    while (config := scheduler.suggest(f"t{len(sizes)}")) != BundleSearcher.FINISHED:
        if config is None:  # both slots busy: the oldest bundle ends
            done = next(iter(scheduler.bundles))
            for k in scheduler.bundles[done]:
                scheduler.on_trial_result(done, final(k))
            scheduler.on_trial_complete(done)
            continue
        sizes.append(len(Bundle.from_tune(config).trial_indices))
    assert sizes[:4] == [32, 24, 18, 14] and sizes[-4:] == [1, 1, 1, 1] and sum(sizes) == 128
    assert not scheduler.bundles and not len(scheduler.pending)
    fixed = searcher(range(10), slots(3), size=4, max_restarts=10)
    assert [len(Bundle.from_tune(fixed.suggest(str(i))).trial_indices) for i in range(3)] == [4, 4, 2]


def test_bundles_follow_the_clusters_capacity_when_they_start() -> None:
    """GPU workers that join a running sweep: later bundles get a GPU share, and more run at once."""
    capacity = [Capacity(0.0, 1)]
    scheduler = searcher(range(8), lambda: capacity[0], size=1, max_restarts=10)
    assert scheduler.suggest("a") == bundle([0])
    assert scheduler.suggest("b") is None  # one at a time
    capacity[0] = Capacity(0.25, 4)
    assert [scheduler.suggest(x) for x in "bcd"] == [bundle([k], 0.25) for k in (1, 2, 3)]
    assert scheduler.suggest("e") is None


def test_a_failed_bundle_gives_back_its_unfinished_trials_until_the_restart_limit() -> None:
    gave_up = []
    scheduler = searcher(range(3), slots(1), size=3, max_restarts=1, on_give_up=gave_up.append)
    assert scheduler.suggest("a") == bundle([0, 1, 2])
    assert scheduler.suggest("b") is None  # nothing pending, but bundle a may give trials back
    scheduler.on_trial_result("a", final(0))
    scheduler.on_trial_complete("a", error=True)  # the worker died in trial 1
    assert scheduler.suggest("c") == bundle([1, 2]) and scheduler.restarts[1] == 1
    scheduler.on_trial_complete("c", error=True)  # ...and again: more than max_restarts
    assert scheduler.given_up == {1} and gave_up == [1]
    assert scheduler.suggest("d") == bundle([2])
    scheduler.on_trial_result("d", final(2))
    scheduler.on_trial_complete("d")
    assert scheduler.suggest("e") == BundleSearcher.FINISHED
