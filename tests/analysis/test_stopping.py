"""Early-termination rules and their engine: parsing, rungs, decisions, and the one-worker guarantee."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analysis.curves import Curve
from analysis.errors import AnalysisError, RuleError, UsageError
from analysis.replay import replay_rule
from analysis.rung_board import RungBoard
from analysis.stopping import Asha, Decision, Median, as_mapping, parse_rule, spec_text
from tests.analysis.tables import stopping_sweeps as sweeps


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source, rule", [
    ("asha:min_epochs=2,eta=3", Asha(2, 3)),
    (" asha : min_epochs = 2 , eta = 4 ", Asha(2, 4)),
    ("asha:min_epochs=1", Asha(1, 3)),
    ({"type": "asha", "min_epochs": 2, "eta": 3}, Asha(2, 3)),
    ("median:min_epochs=3", Median(3, 3)),
    ({"type": "median", "min_epochs": 3, "min_trials": 5}, Median(3, 5)),
    (Median(4), Median(4)),
])
def test_parse_rule(source, rule):
    assert parse_rule(source, max_epochs=10) == rule
    assert parse_rule(spec_text(rule)) == rule and parse_rule(as_mapping(rule)) == rule


BAD_RULES = {
    "unknown type": ("hyperband:min_epochs=2", "early_terminate.type", "hyperband"),
    "no type": ({"min_epochs": 2}, "early_terminate.type", "nothing"),
    "unknown key": ("asha:min_epochs=2,rate=3", "early_terminate.rate", "min_epochs, eta"),
    "median has no eta": ({"type": "median", "min_epochs": 2, "eta": 3}, "early_terminate.eta", "min_trials"),
    "missing min_epochs": ("asha:eta=3", "early_terminate.min_epochs", "missing"),
    "eta 1": ("asha:min_epochs=2,eta=1", "early_terminate.eta", "≥ 2"),
    "min_epochs 0": ({"type": "median", "min_epochs": 0}, "early_terminate.min_epochs", "≥ 1"),
    "min_trials 0": ("median:min_epochs=2,min_trials=0", "early_terminate.min_trials", "≥ 1"),
    "fraction": ("asha:min_epochs=2.5", "early_terminate.min_epochs", "'2.5'"),
    "float": ({"type": "asha", "min_epochs": 2.0}, "early_terminate.min_epochs", "2.0"),
    "bool": ({"type": "asha", "min_epochs": True}, "early_terminate.min_epochs", "True"),
    "no value": ("asha:min_epochs", "early_terminate", "key=value"),
    "twice": ("asha:min_epochs=2,min_epochs=3", "early_terminate.min_epochs", "twice"),
    "min_epochs past max_epochs": ("asha:min_epochs=12", "early_terminate.min_epochs", "max_epochs (10)"),
    "min_epochs at max_epochs": ("median:min_epochs=10", "early_terminate.min_epochs", "got 10"),
    "not a mapping": (["asha"], "early_terminate", "mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_bad_rules_name_the_field(case):
    source, field, detail = BAD_RULES[case]
    with pytest.raises(RuleError) as info:
        parse_rule(source, max_epochs=10)
    message = str(info.value)
    assert isinstance(info.value, AnalysisError) and "\n" not in message
    assert message.startswith(field + ":") and detail in message, message


def test_where_names_the_input():
    with pytest.raises(RuleError, match=r"^--what-if\.eta: "):
        parse_rule("asha:min_epochs=2,eta=0", where="--what-if")


# --- rungs and decisions ----------------------------------------------------------------------


def test_rungs_lie_below_max_epochs():
    assert Asha(2, 3).rungs(20) == (2, 6, 18) and Asha(2, 3).rungs(18) == (2, 6) and Asha(1, 2).rungs(9) == (1, 2, 4, 8)
    assert Median(3).rungs(6) == (3, 4, 5)


def test_asha_keeps_the_top_one_over_eta_with_ties_in_favour():
    asha = Asha(1, 3)
    assert asha.keeps(0.0, [0.9]) and asha.keeps(0.0, [])  # m < eta: too few results to cut
    assert not asha.keeps(0.5, [0.4, 0.9]) and asha.keeps(0.9, [0.4, 0.9])  # m = 3: only the best (ties kept)
    assert asha.keeps(0.5, [0.1, 0.2, 0.3, 0.4, 0.9]) and not asha.keeps(0.35, [0.1, 0.2, 0.3, 0.4, 0.9])  # m = 6: top 2


def test_median_needs_min_trials_and_takes_the_middle_two():
    median = Median(1, min_trials=3)
    assert median.keeps(0.0, [0.5, 0.9])  # two standings: too few
    assert not median.keeps(0.4, [0.1, 0.5, 0.9]) and median.keeps(0.5, [0.1, 0.5, 0.9])
    assert not median.keeps(0.49, [0.1, 0.5, 0.6, 0.9]) and median.keeps(0.55, [0.1, 0.5, 0.6, 0.9])
    assert median.keeps(0.0, [-math.inf, -math.inf, 0.5])  # diverged trials stand at −∞


# --- the engine against a one-worker run written out -------------------------------------------


def one_worker(curves, rule, max_epochs, mode):
    """The sweep with one worker in trial-index order, written directly: (stop rung or None) per trial."""
    sign = 1.0 if mode == "max" else -1.0
    done, stops = [], []
    for curve in curves:
        best = np.maximum.accumulate(sign * np.asarray(curve.val, float)) if curve.epochs else np.array([])
        end, stop = curve.epochs, None
        for rung in rule.rungs(max_epochs):
            if rung > end:
                break
            population = sorted(s for s in (_standing(d, rung, rule) for d in done) if s is not None)
            if not rule.keeps(best[rung - 1], population) and not (curve.outcome == "ok" and end == rung):
                end, stop = rung, rung
                break
        done.append((best, end, stop, curve.outcome))
        stops.append(stop)
    return stops


def _standing(done, rung, rule):
    best, end, stop, outcome = done
    if end >= rung:
        return best[rung - 1]
    if not rule.carry_forward:
        return None
    if stop is None and outcome == "diverged":
        return -math.inf
    return None if (stop is None and outcome == "error") or end == 0 else best[end - 1]


@settings(max_examples=80, deadline=None)
@given(sweeps())
def test_replay_is_the_one_worker_run(args):
    curves, rule, max_epochs, mode, _ = args
    replayed = replay_rule(curves, rule, max_epochs=max_epochs, mode=mode)
    assert [t.stop_epoch for t in replayed.trials] == one_worker(curves, rule, max_epochs, mode)
    sign = 1.0 if mode == "max" else -1.0
    for t, c in zip(replayed.trials, curves):
        assert t.epochs == (t.stop_epoch or c.epochs) and t.seconds == pytest.approx(1.5 * t.epochs)
        if t.stopped:  # it records its best validation score up to the rung, reached first at best_epoch
            assert sign * t.val_score == max(sign * c.val[: t.stop_epoch]) and c.val[t.best_epoch - 1] == t.val_score
            assert t.stop_epoch in rule.rungs(max_epochs)
    assert replayed.trials[0].status == curves[0].outcome  # the first trial is never judged against anything


@st.composite
def interleavings(draw):
    """A sweep and an order of arrival: each trial's epochs in order, then its end, trials interleaved at
    random, with some epochs reported twice (a retried attempt)."""
    curves, rule, max_epochs, mode, patience = draw(sweeps())
    queues = [[("record", c.trial_index, e + 1, v) for e, v in enumerate(c.val)] + [("ended", c.trial_index, c.epochs, c.outcome)]
              for c in curves]
    events = []
    while any(queues):
        k = draw(st.sampled_from([i for i, q in enumerate(queues) if q]))
        events.append(queues[k].pop(0))
        if events[-1][0] == "record" and draw(st.integers(0, 9)) == 0:
            events.append(events[-1])
    return curves, rule, max_epochs, mode, patience, events


@settings(max_examples=60, deadline=None)
@given(interleavings())
def test_decisions_do_not_depend_on_the_order_of_arrival(args):
    curves, rule, max_epochs, mode, patience, events = args
    expected = replay_rule(curves, rule, max_epochs=max_epochs, mode=mode)
    board = RungBoard(rule, max_epochs=max_epochs, mode=mode, patience=patience)
    given_ = {}  # (trial, rung) → the first decision other than WAIT: it must never change
    for kind, k, epoch, x in events:
        if kind == "record":
            assert board.record(k, epoch, x)
        else:
            board.ended(k, epoch, x)
        for rung in board.rungs:  # the trial that reported: a decision once given stands
            try:
                d = board.decision(k, rung)
            except UsageError:
                continue  # it never trains to that rung
            if d != Decision.WAIT:
                assert given_.setdefault((k, rung), d) == d
    for t in expected.trials:
        verdict = board.verdict(t.trial_index)
        assert (verdict.decision == Decision.STOP) == t.stopped
        assert verdict.rung == t.stop_epoch and verdict.value == t.val_score if t.stopped else verdict.decision == Decision.CONTINUE


@settings(max_examples=40, deadline=None)
@given(sweeps(), st.data())
def test_a_board_restored_from_finished_trials_decides_the_same(args, data):
    curves, rule, max_epochs, mode, _ = args
    expected = replay_rule(curves, rule, max_epochs=max_epochs, mode=mode)
    finished = data.draw(st.sets(st.sampled_from(range(len(curves)))))
    board = RungBoard(rule, max_epochs=max_epochs, mode=mode)  # after a kill: what the ledger holds
    for k in sorted(finished, reverse=True):
        t = expected.trials[k]
        if t.stopped:
            board.record_curve(k, curves[k].val[: t.stop_epoch], outcome="stopped")
        else:
            board.record_curve(k, curves[k].val, outcome=curves[k].outcome)
    for k in range(len(curves)):  # the rest run again from their first epoch
        if k not in finished:
            board.record_curve(k, curves[k].val, outcome=curves[k].outcome)
    assert [board.verdict(k).rung for k in range(len(curves))] == [t.stop_epoch for t in expected.trials]


@settings(max_examples=50, deadline=None)
@given(sweeps())
def test_without_divergence_a_stopped_trial_is_never_the_returned_best(args):
    curves, rule, max_epochs, mode, _ = args
    curves = [Curve(c.trial_index, c.val, c.seconds, "ok") for c in curves if c.epochs]
    assume(curves)
    replayed = replay_rule(curves, rule, max_epochs=max_epochs, mode=mode)
    sign = 1.0 if mode == "max" else -1.0
    best = replayed.best
    assert best.status == "ok"
    assert all(sign * t.val_score < sign * best.val_score for t in replayed.stopped)  # strictly better, no tie


# --- patience and the live driver's calls -------------------------------------------------------


def test_a_stop_where_the_trial_ends_by_patience_is_void():
    rule = Asha(2, 2)  # rungs 2, 4 for max_epochs 6
    curves = [Curve(0, np.array([0.5, 0.9, 0.9, 0.9]), None, "ok"), Curve(1, np.array([0.4, 0.5]), None, "ok")]
    t = replay_rule(curves, rule, max_epochs=6, mode="max").trials[1]
    assert (t.status, t.epochs, t.val_score) == ("ok", 2, 0.5)  # ended at epoch 2 by itself: not "stopped"
    board = RungBoard(rule, max_epochs=6, mode="max", patience=1)
    board.record_curve(0, [0.5, 0.9, 0.9])
    board.record_curve(1, [0.5, 0.4])  # no better score for 1 epoch: the trainable ends it at 2
    assert board.verdict(1).decision == Decision.CONTINUE and board.decision(1, 2) == Decision.CONTINUE
    board.record(1, 3, 0.6)  # it did not end there after all (patience is not the trainable's): a stop
    assert board.verdict(1) == board.verdict(1) and board.verdict(1).decision == Decision.STOP
    assert (board.verdict(1).rung, board.verdict(1).value, board.verdict(1).best_epoch) == (2, 0.5, 1)


def test_waits_for_earlier_trials_and_keeps_the_result_as_of_the_rung():
    board = RungBoard(Asha(1, 2), max_epochs=4, mode="min")  # rungs 1, 2
    board.record(1, 1, 0.7)
    board.record(1, 2, 0.6)
    assert board.verdict(1).decision == Decision.WAIT and board.verdict(1).rung == 1
    assert board.decision(1, 2) == Decision.WAIT
    board.record(0, 1, 0.5)  # lower is better: trial 1 (0.7) is not in the top half of {0.5, 0.7}
    verdict = board.verdict(1)
    assert (verdict.decision, verdict.rung, verdict.value, verdict.best_epoch) == (Decision.STOP, 1, 0.7, 1)
    assert board.record(1, 3, 0.1)  # speculative epochs after the stop are ignored
    with pytest.raises(UsageError, match="never trains to rung 2"):
        board.decision(1, 2)


def test_a_retried_epoch_keeps_the_first_value():
    board = RungBoard(Median(1), max_epochs=3, mode="max")
    assert board.record(0, 1, 0.5) and board.record(0, 1, 0.5)
    assert not board.record(0, 1, 0.6)


@pytest.mark.parametrize("call, match", [
    (lambda b: b.record(0, 2, 0.5), "gap"),
    (lambda b: b.record(0, 5, 0.5), "max_epochs"),
    (lambda b: b.record(0, 1, math.nan), "finite"),
    (lambda b: b.record(-1, 1, 0.5), "trial index"),
    (lambda b: (b.record(0, 1, 0.5), b.ended(0, 1), b.record(0, 2, 0.5)), "ended after epoch 1"),
    (lambda b: (b.record(0, 1, 0.5), b.ended(0, 1), b.ended(0, 1, "error")), "already ended"),
    (lambda b: b.ended(0, 0, "ok"), "needs one"),
    (lambda b: (b.record(0, 1, 0.5), b.ended(0, 3)), "recorded 1 epochs"),
    (lambda b: (b.record(0, 1, 0.5), b.ended(0, 1, "stopped")), "rung"),
    (lambda b: b.ended(0, 0, "pruned"), "outcome"),
    (lambda b: b.decision(0, 3), "not a rung"),
])
def test_bad_calls_raise_usage_errors(call, match):
    with pytest.raises(UsageError, match=match):
        call(RungBoard(Asha(2, 2), max_epochs=4, mode="max"))


def test_a_board_checks_its_rule_and_arguments():
    with pytest.raises(RuleError, match="min_epochs"):
        RungBoard(Asha(4, 2), max_epochs=4, mode="max")
    with pytest.raises(UsageError, match="mode"):
        RungBoard(Asha(1, 2), max_epochs=4, mode="maximize")
    with pytest.raises(UsageError, match="patience"):
        RungBoard(Asha(1, 2), max_epochs=4, mode="max", patience=0)
