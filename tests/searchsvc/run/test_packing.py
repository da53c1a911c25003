"""Trials packed on a GPU by their memory (CPU-side, with fake cluster resources and fake estimates): each
trial's share, how many run at once (bounded by the cores too), a bundle's share, a trial that ran out of GPU
memory re-queued with a larger share and recorded once, and validate's GPU column."""

from __future__ import annotations

import json

import pytest

from searchsvc.run.bundles import BundleSearcher, TrialQueue
from searchsvc.run.cluster import Cluster
from searchsvc.run.packing import CUDA_CONTEXT_BYTES, gpu_share, per_gpu
from searchsvc.run.protocol import Bundle, FinalReport, to_tune
from searchsvc.run.recorder import TrialRecorder
from searchsvc.status import TrialStatus
from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.records import Node
from searchsvc.sweep.spec import parse_spec
from tests.builders import SPEC, owned_sweep, result, sweep_spec, tune_trial

GiB, MiB = 2**30, 2**20


def test_a_share_holds_the_cuda_context_and_the_estimate_with_headroom() -> None:
    assert gpu_share(40 * MiB, 141 * GiB) == 0.01 and per_gpu(0.01) == 100  # a small LSTM on an H200
    assert gpu_share(4 * GiB, 80 * GiB) == pytest.approx(0.07)  # (0.5 + 5) / 80, up to a hundredth
    assert gpu_share(4 * GiB, 80 * GiB, grown=1) == pytest.approx(0.14)  # after running out of memory once
    assert gpu_share(100 * GiB, 80 * GiB) == 1.0 and gpu_share(0, 80 * GiB) > CUDA_CONTEXT_BYTES / (80 * GiB)


@pytest.mark.parametrize("cpus, gpus, memory, need, share, slots", [
    (16, 1, 141 * GiB, 40 * MiB, 0.01, 16),  # the node's cores bound it: each trial's loop drives its GPU work
    (64, 1, 80 * GiB, 4 * GiB, 0.07, 14),  # the GPU's memory bounds it
    (64, 4, 80 * GiB, 4 * GiB, 0.07, 57),  # four GPUs (Ray places the trials on them)
])
def test_concurrency_follows_the_trials_memory_and_the_nodes_cores(cpus, gpus, memory, need, share, slots) -> None:
    cluster = Cluster(sweep_spec(), address="head:6380")
    cluster.resources = lambda: {"CPU": float(cpus), "GPU": float(gpus)}
    cluster.gpu_memory = lambda: memory
    capacity = cluster.capacity(lambda: need)
    assert (capacity.gpu_share, capacity.slots) == (pytest.approx(share), slots)
    cluster.gpu_memory = lambda: None  # a GPU whose memory is not known: a quarter of it
    assert cluster.capacity(lambda: need).gpu_share == 0.25


def test_a_bundle_asks_the_share_of_its_largest_trial_and_grows_after_running_out() -> None:
    needs = {0: 1 * GiB, 1: 8 * GiB, 2: 1 * GiB, 3: 1 * GiB}
    cluster = Cluster(sweep_spec(), address="head:6380")
    cluster.resources = lambda: {"CPU": 64.0, "GPU": 1.0}
    cluster.gpu_memory = lambda: 80 * GiB
    searcher = BundleSearcher(TrialQueue(range(4), 4), cluster.capacity, size=2, max_restarts=3,
                              gpu_need=needs.__getitem__)
    first = Bundle.from_tune(searcher.suggest("a"))
    assert first.trial_indices == (0, 1) and first.gpus == gpu_share(8 * GiB, 80 * GiB)
    searcher.grow(2)
    second = Bundle.from_tune(searcher.suggest("b"))
    assert second.trial_indices == (2, 3) and second.gpus == gpu_share(1 * GiB, 80 * GiB, grown=1)


def test_a_trial_that_ran_out_of_gpu_memory_is_requeued_with_a_larger_share_and_recorded_once(tmp_path) -> None:
    """The worker's CUDA out-of-memory error ends its bundle (infra); the recorder tells the searcher, which
    hands the trial out again at twice the share; it then finishes, one row, one attempt more."""
    spec = parse_spec(SPEC.format(trials=2) + "resources: {gpus: auto}\n")
    cluster = Cluster(spec, address="head:6380")
    cluster.resources = lambda: {"CPU": 8.0, "GPU": 1.0}
    cluster.gpu_memory = lambda: 80 * GiB
    searcher = BundleSearcher(TrialQueue(range(2), 2), cluster.capacity, size=1, max_restarts=3,
                              gpu_need=lambda k: 4 * GiB)
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    lease = owned_sweep(ledger, "s", trials=2)
    recorder = TrialRecorder(ledger, None, None, lease, spec, {}, on_lease_lost=lambda lost: None,
                             on_out_of_memory=searcher.grow)
    error = tmp_path / "error.txt"
    error.write_text("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    first = Bundle.from_tune(searcher.suggest("a"))
    recorder.on_trial_start(0, [], tune_trial("a", [0], str(error)))
    searcher.on_trial_complete("a", error=True)
    recorder.on_trial_error(0, [], tune_trial("a", [0], str(error)))
    again = Bundle.from_tune(searcher.suggest("b"))
    assert again.trial_indices == (0,) and again.gpus == 2 * first.gpus == pytest.approx(0.14)
    retry = tune_trial("b", [0])
    recorder.on_trial_start(0, [], retry)
    recorder.on_trial_result(0, [], retry, to_tune(FinalReport(0, 1, (), result(0.5), None, Node(None, "h"))))
    recording = recorder.close()
    (row,) = ledger.trials("s")
    assert (row.status, row.attempts, recording.out_of_memory) == (TrialStatus.OK, 2, 1)


def test_validate_shows_each_trials_share_of_a_gpu(run) -> None:
    from pathlib import Path

    quickstart = Path(__file__).resolve().parents[3] / "experiments" / "quickstart.yaml"
    code, out, err = run("validate", quickstart, "--show", "2", "--gpu-memory", "80GiB", "--json")
    assert code == 0, err
    shown = json.loads(out)["trials"]
    assert [t["gpu_share"] for t in shown] == [gpu_share(t["memory_bytes"], 80 * GiB) for t in shown]
    assert all(t["per_gpu"] == per_gpu(t["gpu_share"]) for t in shown)
    code, out, _ = run("validate", quickstart, "--show", "1", "--gpu-memory", "80GiB")
    assert "of a GPU (" in out and "fit on one)" in out
    code, _, err = run("validate", quickstart, "--gpu-memory", "lots")
    assert code == 2 and err.startswith("error: --gpu-memory:")
