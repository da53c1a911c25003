"""The driver's side of early termination, without Ray: trials reporting in any order are recorded as a
one-worker run in trial-index order records them; one that ends while its decision waits is held, then
recorded stopped at its rung with the scores it had there."""

from __future__ import annotations

import itertools

from experiments.results import EpochMetrics, RungScore
from searchsvc.run.protocol import FinalReport
from searchsvc.run.stopping import LiveStopping
from searchsvc.stores.records import Node
from searchsvc.sweep.spec import parse_spec
from tests.builders import SPEC, result

CURVES = {0: [0.5, 0.6, 0.7, 0.8], 1: [0.2, 0.25, 0.3, 0.35], 2: [0.6, 0.9, 0.95, 0.97], 3: [0.1, 0.4, 0.5, 0.9]}


def spec():
    text = SPEC.format(trials=4).replace("training: {max_epochs: 2, patience: 2}", "training: {max_epochs: 4, patience: 4}")
    return parse_spec(text + "early_terminate: {type: asha, min_epochs: 1, eta: 2}\n")


def final(k: int) -> FinalReport:
    """Trial k's end after its 4 epochs, with its scores as of each rung (1 and 2)."""
    curve = CURVES[k]
    rungs = tuple(RungScore(r, max(range(r), key=lambda e: curve[e]) + 1, max(curve[:r]), 0.01 * k + r) for r in (1, 2))
    return FinalReport(k, 1, (), result(max(curve), 0.5, epochs=4, best_epoch=4), None, Node(None, "h"), rungs=rungs)


def record(order: list[tuple[str, int, int]]) -> dict[int, tuple]:
    """Feed ('epoch', k, e) and ('end', k, 0) events; what gets recorded of each trial."""
    stopping, recorded = LiveStopping(spec()), {}
    for kind, k, e in order:
        if kind == "epoch":
            stopping.epochs(k, [EpochMetrics(e, 1.0, 1.0, CURVES[k][e - 1], 0.1)])
        else:
            stopping.ended(k, final(k))
        for j, report in stopping.decided():
            r = report.result
            recorded[j] = (r.status, r.stop_epoch, r.val_score, r.test_score)
    return recorded


def one_worker() -> list[tuple[str, int, int]]:
    return [event for k in CURVES for event in [*(("epoch", k, e) for e in range(1, 5)), ("end", k, 0)]]


def test_any_arrival_order_records_what_one_worker_in_index_order_records() -> None:
    expected = record(one_worker())
    assert expected[1] == ("stopped", 1, 0.2, 1.01)  # below trial 0 at rung 1: stopped there, its rung-1 scores
    assert expected[0][0] == "ok" and expected[2][0] == "ok"
    per_trial = {k: [e for e in one_worker() if e[1] == k] for k in CURVES}
    for order in itertools.permutations(CURVES):  # trials run one after another, in every order of arrival
        assert record([e for k in order for e in per_trial[k]]) == expected, order
    interleaved = [e for step in itertools.zip_longest(*per_trial.values()) for e in step if e]
    assert record(interleaved) == expected


def test_a_trial_that_ends_while_its_decision_waits_is_held() -> None:
    stopping = LiveStopping(spec())
    for e in range(1, 5):
        stopping.epochs(1, [EpochMetrics(e, 1.0, 1.0, CURVES[1][e - 1], 0.1)])
    stopping.ended(1, final(1))
    assert stopping.decided() == [] and 1 in stopping.held  # trial 0 has not reached rung 1 yet
    assert stopping.logged_up_to(1) == 1  # its recorded curve surely keeps its first epoch only, so far
    stopping.epochs(0, [EpochMetrics(1, 1.0, 1.0, CURVES[0][0], 0.1)])
    ((k, report),) = stopping.decided()
    assert (k, report.result.status, report.result.stop_epoch, report.result.epochs) == (1, "stopped", 1, 1)
