"""The curves table beside a trials table: writing, reading, validation, and matching it to its table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import load_curves, read_curves, synthetic_curves, synthetic_trials, write_curves, write_trials
from analysis.curves import curves_path, trial_curves
from analysis.errors import DataError
from analysis.table import load_trials


@pytest.fixture(scope="module")
def sweep():
    return synthetic_curves(synthetic_trials(40, seed=4), max_epochs=8, patience=2, seed=4)


def test_written_beside_the_table_and_read_back(tmp_path, sweep):
    trials, curves = sweep
    path = write_trials(trials, tmp_path / "t.csv")
    assert read_curves(path) is None
    assert write_curves(path, curves.sample(frac=1, random_state=0)) == curves_path(path) == tmp_path / "t.curves.csv"
    back = read_curves(path)
    pd.testing.assert_frame_equal(back, load_curves(curves))  # sorted by trial and epoch, exact floats
    assert curves_path(tmp_path / "t.parquet") == tmp_path / "t.curves.csv"


def test_one_curve_per_trial_matching_the_table(sweep):
    trials, curves = sweep
    table = load_trials(trials)
    got = trial_curves(table, load_curves(curves), mode="max", max_epochs=8)
    assert [c.trial_index for c in got] == table["trial_index"].tolist()
    for c, (_, row) in zip(got, table.iterrows()):
        assert c.outcome == {"ok": "ok", "diverged": "diverged"}.get(row["status"], "error")
        if row["status"] == "ok":
            assert c.val.max() == row["val_score"] and c.seconds.sum() == pytest.approx(row["train_seconds"])
        elif row["status"] in ("error", "infra"):
            assert c.epochs == 0 and c.seconds is not None  # no epochs recorded, still counted in seconds


def test_without_seconds_compute_is_unknown(sweep):
    trials, curves = sweep
    got = trial_curves(load_trials(trials), load_curves(curves.drop(columns="seconds")), mode="max")
    assert all(c.seconds is None for c in got)
    assert "seconds" not in load_curves(curves.assign(seconds=np.nan))  # an all-empty column means unknown


BAD_CURVES = {
    "missing column": (lambda c: c.drop(columns="epoch"), "'epoch'"),
    "fractional epoch": (lambda c: c.assign(epoch=c["epoch"] + 0.5), "'epoch'"),
    "skipped epoch": (lambda c: c.assign(epoch=np.where(c["epoch"] == 2, 3, c["epoch"])), "'epoch'"),
    "repeated epoch": (lambda c: pd.concat([c, c.iloc[:1]]), "'epoch'"),
    "epoch from 0": (lambda c: c.assign(epoch=c["epoch"] - 1), "'epoch'"),
    "nan score": (lambda c: c.assign(val_score=np.where(c.index == 3, np.nan, c["val_score"])), "'val_score'"),
    "text score": (lambda c: c.assign(val_score=c["val_score"].astype(object).where(c.index != 2, "high")), "'val_score'"),
    "negative seconds": (lambda c: c.assign(seconds=-c["seconds"]), "'seconds'"),
    "some seconds missing": (lambda c: c.assign(seconds=np.where(c.index == 1, np.nan, c["seconds"])), "'seconds'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CURVES))
def test_bad_curves_raise_data_error_naming_the_column(case, sweep):
    change, column = BAD_CURVES[case]
    with pytest.raises(DataError, match=column) as info:
        load_curves(change(sweep[1]))
    assert len(str(info.value)) > 50


def test_curves_that_do_not_match_their_table(sweep):
    trials, curves = sweep
    table, ok = load_trials(trials), trials.loc[trials["status"] == "ok", "trial_index"]
    first = int(ok.iloc[0])
    cases = [
        (curves[curves["trial_index"] != first], "no epochs of the 'ok' trials"),
        (pd.concat([curves, pd.DataFrame({"trial_index": [999], "epoch": [1], "val_score": [0.5], "seconds": [1.0]})]),
         "not in the trials table"),
        (curves.assign(val_score=np.where(curves["trial_index"] == first, curves["val_score"] / 2, curves["val_score"])),
         f"trial {first}'s best val_score"),
    ]
    for bad, match in cases:
        with pytest.raises(DataError, match=match):
            trial_curves(table, load_curves(bad), mode="max")
    with pytest.raises(DataError, match="more than max_epochs"):
        trial_curves(table, load_curves(curves), mode="max", max_epochs=3)
    with pytest.raises(DataError, match="best val_score"):  # the direction matters: the best of a loss is its min
        trial_curves(table, load_curves(curves), mode="min")
