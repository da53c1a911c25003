"""The worker: a bundle's trials in order, each reported once; code errors retried with the same config, then
reported with their traceback; out of memory left to Tune for re-queueing (a fake training function)."""

from __future__ import annotations

import pytest

from searchsvc.run.protocol import Bundle, FinalReport, from_tune
from searchsvc.run.worker import WorkerSettings, is_infra_failure, run_bundle, run_trial
from searchsvc.stores.records import Node
from tests.builders import sweep_spec

SPEC = sweep_spec(10)
SETTINGS = WorkerSettings(SPEC, threads=1)
NODE = Node("node-1", "host-1")


def bundle(indices: list[int], gpus: float = 0.0) -> dict:
    return Bundle(tuple(indices), gpus).to_tune()


@pytest.fixture
def reports(monkeypatch):
    sent: list = []
    monkeypatch.setattr("ray.tune.report", lambda metrics: sent.append(from_tune(metrics)))
    return sent


def test_code_errors_are_retried_then_reported_with_their_traceback(monkeypatch, reports) -> None:
    calls = []

    def broken(*args, **kwargs):
        calls.append(kwargs["device"])
        raise ValueError("bad config")

    monkeypatch.setattr("experiments.trainable.train_trial", broken)
    run_bundle(bundle([0]), data=None, settings=SETTINGS)
    assert calls == ["cpu"] * 3  # the first try and max_retries=2 retries, same config
    (last,) = reports
    assert isinstance(last, FinalReport) and last.result is None and last.attempts == 3
    assert (last.trial_index, last.next_index) == (0, None) and last.node.host
    assert "ValueError: bad config" in last.error and "Traceback" in last.error


def test_a_bundle_reports_each_trial_once_and_names_the_next(monkeypatch, reports) -> None:
    devices, configs = [], []
    monkeypatch.setattr("experiments.trainable.train_trial",
                        lambda config, *a, device, **k: devices.append(device) or configs.append(config.units) or "r")
    recorded = {7: {**SPEC.config(7), "units": 99}}  # trial 7 ran before: its recorded config, not the spec's
    run_bundle(Bundle((4, 7, 9), 0.25, recorded).to_tune(), data=None, settings=SETTINGS)
    assert [(r.trial_index, r.next_index, r.attempts, r.result) for r in reports] == \
        [(4, 7, 1, "r"), (7, 9, 1, "r"), (9, None, 1, "r")]
    assert devices == ["cuda"] * 3  # a bundle given a GPU share trains on the GPU
    assert configs == [SPEC.config(4)["units"], 99, SPEC.config(9)["units"]]


def test_out_of_memory_goes_to_tune_for_requeueing(monkeypatch, reports) -> None:
    monkeypatch.setattr("experiments.trainable.train_trial", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        run_trial(0, {"units": 8}, None, SETTINGS, reports.append, NODE)
    assert reports == []
    assert is_infra_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_infra_failure(ValueError("shape mismatch"))
