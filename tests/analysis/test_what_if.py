"""The what-if: a rule replayed on a full sweep's curves, on the sweep and in Bergstra & Bengio's experiments."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import RungBoard, TrialTable, efficiency_curve, synthetic_curves, synthetic_trials, write_curves, write_trials
from analysis.curves import load_curves, trial_curves
from analysis.errors import DataError, RuleError, UsageError
from analysis.replay import replay_rule
from analysis.stopping import Asha, Decision, Median
from analysis.table import load_trials
from analysis.what_if import FULL, analyze_what_if
from analysis.what_if_figure import write_what_if

RULES = ("asha:min_epochs=2,eta=3", {"type": "median", "min_epochs": 3})


@pytest.fixture(scope="module")
def sweep():
    return synthetic_curves(synthetic_trials(96, seed=5), max_epochs=12, patience=3, seed=5)


@pytest.fixture(scope="module")
def result(sweep):
    trials, curves = sweep
    return analyze_what_if(trials, RULES, mode="max", curves=curves, max_epochs=12)


def test_the_sweep_is_replayed_as_a_live_sweep_decides(sweep, result):
    trials, curves = sweep
    all_curves = trial_curves(load_trials(trials), load_curves(curves), mode="max")
    rng = np.random.default_rng(0)
    for outcome, rule in zip(result.sweeps, (Asha(2, 3), Median(3))):
        assert outcome.replay.trials == replay_rule(all_curves, rule, max_epochs=12, mode="max").trials
        board = RungBoard(rule, max_epochs=12, mode="max", patience=3)  # a live driver: epochs in a random order
        pending = {c.trial_index: 0 for c in all_curves}
        by_index = {c.trial_index: c for c in all_curves}
        while pending:
            k = int(rng.choice(list(pending)[:4]))  # about four trials running at a time, in index order
            curve, epoch = by_index[k], pending[k]
            if epoch < curve.epochs:
                board.record(k, epoch + 1, float(curve.val[epoch]))
                pending[k] += 1
            else:
                board.ended(k, curve.epochs, curve.outcome)
                del pending[k]
        for t in outcome.replay.trials:
            verdict = board.verdict(t.trial_index)
            assert verdict.rung == t.stop_epoch and (verdict.decision == Decision.STOP) == t.stopped
        assert outcome.replay.stopped and outcome.replay.seconds < outcome.replay.full_seconds
        assert outcome.full_best == TrialTable.from_frame(trials, mode="max").trial_index[
            np.argmax(TrialTable.from_frame(trials, mode="max").rank_val)]


def test_no_stop_without_divergence_returns_a_stopped_trial(result):
    for outcome in result.sweeps:
        assert outcome.best is not None and outcome.best.status == "ok" and outcome.best_test is not None


def test_experiments_beside_the_efficiency_curve(sweep, result):
    trials, curves = sweep
    table = TrialTable.from_frame(trials, mode="max")
    levels = efficiency_curve(table).levels
    full, *rules = result.searches
    assert [e.s for e in full] == [lvl.s for lvl in levels] and full[0].label == FULL
    seconds = curves.groupby("trial_index")["seconds"].sum().reindex(table.trial_index, fill_value=0.0).to_numpy()
    for e, lvl in zip(full, levels):
        np.testing.assert_array_equal(e.test, lvl.values)
        np.testing.assert_allclose(e.cost, seconds[: lvl.s * lvl.experiments].reshape(-1, lvl.s).sum(axis=1))
    for search in rules:
        one = search[0]  # a lone trial is never judged: experiments of one trial are the full search's
        np.testing.assert_array_equal(one.test, full[0].test)
        np.testing.assert_array_equal(one.cost, full[0].cost)
        assert one.same(full[0]).all()
        assert all(lvl.cost.sum() <= f.cost.sum() + 1e-9 for lvl, f in zip(search, full))
    rows = pd.DataFrame(result.rows())
    assert set(rows["search"]) == {FULL, "asha:min_epochs=2,eta=3", "median:min_epochs=3,min_trials=3"}
    assert (rows.loc[rows["search"] == FULL, "cost_share"] == 1).all() and rows["same_share"].between(0, 1).all()


def test_summary_files_and_json(tmp_path, result):
    lines = result.summary_lines("accuracy")
    assert len(lines) == 4 and lines[0].startswith("asha:min_epochs=2,eta=3 on the sweep's 96 trials: stops ")
    assert ("the same answer at" in lines[0]) == result.sweeps[0].same
    share = result.sweeps[0].compute_share
    assert f"{share:.0%} of the compute" in lines[0] and 0 < share < 1
    files = write_what_if(result, tmp_path, metric_name="accuracy")
    assert {p.name for p in files} == {"what_if.csv", "what_if_trials.csv", "what_if.txt", "what_if.json", "what_if.png", "what_if.svg"}
    data = json.loads((tmp_path / "what_if.json").read_text())
    assert [s["rule"] for s in data["sweeps"]] == ["asha:min_epochs=2,eta=3", "median:min_epochs=3,min_trials=3"]
    assert len(pd.read_csv(tmp_path / "what_if_trials.csv")) == 2 * 96
    assert b"asha:min_epochs=2,eta=3" in (tmp_path / "what_if.svg").read_bytes()
    assert (tmp_path / "what_if.txt").read_text().splitlines() == lines


@pytest.mark.parametrize("size", [8, 96])
def test_the_figure_is_readable(size, sweep, result):
    import warnings

    from analysis.what_if_figure import what_if_figure
    from tests.analysis.figures import assert_readable

    if size != 96:
        trials, curves = synthetic_curves(synthetic_trials(size, seed=6, failures=False), max_epochs=6, patience=2, seed=6)
        result = analyze_what_if(trials, RULES, mode="max", curves=curves, max_epochs=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = what_if_figure(result, metric_name="accuracy")
        assert_readable("what_if", fig)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].get_legend().get_texts()) == 3


def _tiny():
    """Trial 0 is better at the rung and diverges after it; trial 1 is stopped there (ASHA, eta 2, rung 1)."""
    trials = pd.DataFrame({"trial_index": [0, 1], "status": ["diverged", "ok"], "val_score": [np.nan, 0.8],
                           "test_score": [np.nan, 0.75]})
    curves = pd.DataFrame({"trial_index": [0, 0, 1, 1, 1, 1], "epoch": [1, 2, 1, 2, 3, 4],
                           "val_score": [0.9, 0.95, 0.5, 0.6, 0.7, 0.8], "seconds": 1.0})
    return trials, curves


def test_a_returned_stopped_trial_has_an_unknown_test_score_unless_its_best_epoch_was_before_the_stop():
    trials, curves = _tiny()
    outcome = analyze_what_if(trials, ["asha:min_epochs=1,eta=2"], mode="max", curves=curves, max_epochs=4).sweeps[0]
    assert outcome.best.trial_index == 1 and outcome.best.stopped and outcome.best.val_score == 0.5
    assert outcome.best_test is None and outcome.same  # the same trial, but not its full-budget result
    assert "test unknown: a stopped trial's test score at its stop is not in the curves" in _line(outcome)
    curves.loc[curves["trial_index"] == 1, "val_score"] = [0.8, 0.6, 0.7, 0.75]  # its best epoch is the first
    outcome = analyze_what_if(trials, ["asha:min_epochs=1,eta=2"], mode="max", curves=curves, max_epochs=4).sweeps[0]
    assert outcome.best.stopped and outcome.best_test == 0.75


def _line(outcome):
    from analysis.what_if import _sweep_line

    return _sweep_line(outcome, "seconds", "accuracy")


def test_refusals(tmp_path, sweep):
    trials, curves = sweep
    stopped = trials.copy()
    stopped.loc[stopped["status"] == "ok", "status"] = ["stopped"] + ["ok"] * (int((trials["status"] == "ok").sum()) - 1)
    with pytest.raises(DataError, match="itself early-terminated: 1 trial"):
        analyze_what_if(stopped, RULES, mode="max", curves=curves)
    path = write_trials(trials, tmp_path / "t.csv")
    with pytest.raises(DataError, match=r"no curves \(.*t\.curves\.csv\)"):
        analyze_what_if(path, RULES, mode="max")
    with pytest.raises(DataError, match="no curves"):
        analyze_what_if(trials, RULES, mode="max")
    write_curves(path, curves)
    assert analyze_what_if(path, ["asha:min_epochs=2"], mode="max").max_epochs == 12  # the longest curve stands for it
    for rule, field in [("asha:min_epochs=2,eta=1", "--what-if.eta"), ("asha:min_epochs=12", "--what-if.min_epochs"),
                        ("sha:min_epochs=2", "--what-if.type"), ({"type": "median", "min_epochs": "3"}, "--what-if.min_epochs")]:
        with pytest.raises(RuleError, match=f"^{field}: "):
            analyze_what_if(path, [rule], mode="max", max_epochs=12)
    with pytest.raises(UsageError, match="at least one rule"):
        analyze_what_if(path, [], mode="max")
    with pytest.raises(DataError, match="more than max_epochs"):
        analyze_what_if(path, RULES, mode="max", max_epochs=6)


def test_without_seconds_compute_is_counted_in_epochs(sweep):
    trials, curves = sweep
    result = analyze_what_if(trials, RULES[:1], mode="max", curves=curves.drop(columns="seconds"), max_epochs=12)
    assert result.cost_unit == "epochs" and result.sweeps[0].replay.seconds is None
    assert result.sweeps[0].compute_share == result.sweeps[0].replay.epochs / result.sweeps[0].replay.full_epochs
    assert result.searches[0][-1].cost.sum() <= 12 * result.searches[0][-1].s
