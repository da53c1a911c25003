"""Stopped trials in a trials table, and the analysis of a sweep that ran with early termination."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import TrialTable, analyze, best_choice, synthetic_trials
from analysis.efficiency import noise_rows
from analysis.errors import UsageError
from tests.analysis.tables import table

NAN = np.nan


def test_a_stopped_trial_ranks_by_its_score_and_loses_ties_with_ok_trials():
    frame = table([0.6, 0.6, NAN, 0.4, 0.7], [0.5, 0.9, NAN, 0.8, 0.6], status=["ok", "stopped", "diverged", "stopped", "error"])
    t = TrialTable.from_frame(frame, mode="max")
    assert (t.counts.stopped, t.counts.used, t.counts.full_budget) == (2, 4, 2)
    assert t.counts.as_dict()["stopped"] == 2 and t.stopped.tolist() == [False, True, False, True]
    assert t.val.tolist() == [0.6, 0.6, 0.4, 0.4]  # the diverged trial at the worst score, a stopped one's included
    order = np.argsort(-t.rank_val, kind="stable").tolist()
    assert order == [0, 1, 3, 2]  # ok before the stopped trial it ties with; diverged below the worst stopped trial
    assert best_choice(t).by_validation.trial_index == 0


def test_stopped_trials_weigh_in_the_noise_model_diverged_ones_do_not():
    frame = table([0.8, 0.81, NAN], [0.7, 0.72, NAN], status=["ok", "stopped", "diverged"], val_n=200, test_n=300)
    weights = noise_rows(TrialTable.from_frame(frame, mode="max"), 3)[0][0]
    assert weights[1] > weights[0] > 0 and weights[2] == 0


@pytest.fixture(scope="module")
def early():
    frame = synthetic_trials(60, seed=2)
    frame.loc[frame.index[frame["status"] == "ok"][5:25:2], "status"] = "stopped"
    return frame


def test_an_early_terminated_sweep_has_no_efficiency_curve_and_says_why(tmp_path, early):
    report = analyze(early, tmp_path, mode="max", metric_name="accuracy", importance=False)
    names = {p.name for p in report.files}
    assert not any(n.startswith(("efficiency", "expected_best", "trials_needed")) for n in names)
    assert {"best_trials.csv", "marginals.csv", "marginals.png", "summary.txt", "report.json"} <= names
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["efficiency"] == [] and data["expected_best"] == [] and data["trials_needed"] is None
    assert data["noise_aware"] is None and data["status_counts"]["stopped"] == 10
    facts = data["early_terminated"]
    assert (facts["stopped"], facts["full_budget"]) == (10, data["trials"] - 10)
    used = early[early["status"].isin(["ok", "diverged", "stopped"])]
    assert facts["train_seconds"] == pytest.approx(used["train_seconds"].sum())
    assert facts["stopped_seconds"] == pytest.approx(used.loc[used["status"] == "stopped", "train_seconds"].sum())
    text = report.summary_text()
    assert "stopped early 10" in text and "not full-budget results" in text and "would be biased" in text
    assert "Compute used:" in text and "Expected best" not in text
    assert sum(p.n for p in report.marginals[0].points) <= facts["full_budget"]  # full-budget trials only


def test_importance_on_full_budget_trials_only(tmp_path, early):
    report = analyze(early, tmp_path, mode="max", figures=False)
    full_budget = int(early["status"].isin(["ok", "diverged"]).sum())
    assert max(i.trials for i in report.importance) == full_budget
    assert f"on the {full_budget} full-budget trials only" in report.summary_text()


def test_told_or_seen(tmp_path, early):
    plain = synthetic_trials(40, seed=3)
    report = analyze(plain, tmp_path / "a", mode="max", importance=False, figures=False, early_terminated=True)
    assert report.efficiency is None and report.early.stopped == 0  # told so: nothing re-partitioned
    with pytest.raises(UsageError, match="early_terminated=False"):
        analyze(early, tmp_path / "b", mode="max", importance=False, figures=False, early_terminated=False)
    with pytest.raises(UsageError, match="early termination"):
        analyze(early, tmp_path / "c", mode="max", importance=False, figures=False, compare=[("g", "grid", plain)])
    assert not (tmp_path / "c").exists()
    report = analyze(early, tmp_path / "d", mode="max", importance=False, figures=("efficiency", "marginals"))
    assert {p.name for p in report.files} >= {"marginals.png"} and not (tmp_path / "d" / "efficiency.png").exists()
