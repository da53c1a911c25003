"""The trials table: reading, writing, validation messages, and the rules for diverged/error/infra."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import TrialTable, load_trials, write_trials
from analysis.errors import DataError, UsageError
from tests.analysis.tables import table


def test_roundtrip_csv_and_parquet(tmp_path, synthetic):
    for suffix in (".csv", ".parquet"):
        path = write_trials(synthetic, tmp_path / f"trials{suffix}")
        back = load_trials(path)
        assert len(back) == len(synthetic)
        np.testing.assert_allclose(back["val_score"].to_numpy(), synthetic["val_score"].to_numpy(), equal_nan=True)
        assert back["param_dropout"].isna().sum() == synthetic["param_dropout"].isna().sum()
        assert TrialTable.from_frame(path, mode="max").counts == TrialTable.from_frame(synthetic, mode="max").counts


def test_diverged_at_worst_ok_score_and_failures_left_out():
    frame = table(
        [0.5, np.nan, 0.9, 0.2, 0.7],
        [0.4, np.nan, 0.8, 0.3, 0.6],
        status=["ok", "diverged", "ok", "error", "infra"],
    )
    t = TrialTable.from_frame(frame, mode="max")
    assert (t.counts.ok, t.counts.diverged, t.counts.error, t.counts.infra, t.counts.used) == (2, 1, 1, 1, 3)
    assert t.trial_index.tolist() == [0, 1, 2]
    assert t.val.tolist() == [0.5, 0.5, 0.9] and t.test.tolist() == [0.4, 0.4, 0.8]
    t = TrialTable.from_frame(frame, mode="min")  # for a loss the worst is the largest
    assert t.val.tolist() == [0.5, 0.9, 0.9] and t.test.tolist() == [0.4, 0.8, 0.8]
    assert t.oriented_val.tolist() == [-0.5, -0.9, -0.9]


def test_rows_sorted_by_trial_index_and_status_case_insensitive():
    frame = table([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], status=["OK", " ok", "Diverged"])
    frame["trial_index"] = [5, 2, 9]
    t = TrialTable.from_frame(frame, mode="max")
    assert t.trial_index.tolist() == [2, 5, 9] and t.status.tolist() == ["ok", "ok", "diverged"]


def test_all_empty_size_columns_mean_unknown_sizes():
    frame = table([0.1, 0.2], [0.1, 0.2], val_n=[np.nan, np.nan], test_n=[np.nan, np.nan])
    assert not TrialTable.from_frame(frame, mode="max").has_set_sizes


def test_diverged_without_sizes_gets_the_median_size():
    frame = table([0.5, np.nan, 0.6], [0.5, np.nan, 0.6], status=["ok", "diverged", "ok"], val_n=[100, np.nan, 300], test_n=[50, np.nan, 50])
    t = TrialTable.from_frame(frame, mode="max")
    assert t.val_n.tolist() == [100, 200, 300] and t.test_n.tolist() == [50, 50, 50]


BAD_TABLES = {
    "missing column": (lambda f: f.drop(columns="test_score"), "'test_score'"),
    "empty": (lambda f: f.iloc[:0], "'trial_index'"),
    "duplicate index": (lambda f: f.assign(trial_index=[0, 0, 1]), "'trial_index'"),
    "missing index": (lambda f: f.assign(trial_index=[0, None, 1]), "'trial_index'"),
    "fractional index": (lambda f: f.assign(trial_index=[0, 1.5, 2]), "'trial_index'"),
    "unknown status": (lambda f: f.assign(status=["ok", "running", "ok"]), "'status'"),
    "missing status": (lambda f: f.assign(status=["ok", None, "ok"]), "'status'"),
    "text score": (lambda f: f.assign(val_score=["0.5", "high", "0.7"]), "'val_score'"),
    "bool score": (lambda f: f.assign(test_score=[True, False, True]), "'test_score'"),
    "nan ok score": (lambda f: f.assign(test_score=[0.5, np.nan, 0.7]), "'test_score'"),
    "no usable trial": (lambda f: f.assign(status=["error", "infra", "error"]), "'status'"),
    "only diverged": (lambda f: f.assign(status=["diverged"] * 3), "'status'"),
    "one size column": (lambda f: f.assign(val_n=100), "'test_n'"),
    "size below 2": (lambda f: f.assign(val_n=[100, 1, 100], test_n=100), "'val_n'"),
    "fractional size": (lambda f: f.assign(val_n=100, test_n=[100, 100.5, 100]), "'test_n'"),
    "missing size of ok trial": (lambda f: f.assign(val_n=[100, np.nan, 100], test_n=100), "'val_n'"),
    "score outside [0,1] with sizes": (lambda f: f.assign(val_score=[0.5, 1.5, 0.7], val_n=100, test_n=100), "'val_score'"),
    "negative train_seconds": (lambda f: f.assign(train_seconds=[1.0, -2.0, 3.0]), "'train_seconds'"),
    "text train_seconds": (lambda f: f.assign(train_seconds=["1", "x", "3"]), "'train_seconds'"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_bad_tables_raise_data_error_naming_the_column(case):
    change, column = BAD_TABLES[case]
    frame = change(table([0.5, 0.6, 0.7], [0.5, 0.6, 0.7]))
    with pytest.raises(DataError, match=column) as info:
        load_trials(frame)
    assert len(str(info.value)) > 40  # says what was expected / how to fix, not just the name


def test_scores_outside_unit_interval_are_fine_without_sizes():
    t = TrialTable.from_frame(table([12.5, 3.0], [11.0, 4.0]), mode="min")
    assert t.val.tolist() == [12.5, 3.0]


def test_bad_paths_and_mode(tmp_path):
    with pytest.raises(DataError, match="suffix"):
        load_trials(tmp_path / "trials.json")
    with pytest.raises(DataError, match="no such file"):
        load_trials(tmp_path / "absent.csv")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="broken.parquet"):
        load_trials(tmp_path / "broken.parquet")
    with pytest.raises(UsageError, match="mode"):
        TrialTable.from_frame(table([0.5], [0.5]), mode="maximize")


def test_load_does_not_modify_the_callers_frame():
    frame = table([0.5, 0.6], [0.5, 0.6], status=["OK", "ok"], val_n=[np.nan, np.nan], test_n=[np.nan, np.nan])
    before = frame.copy()
    load_trials(frame)
    pd.testing.assert_frame_equal(frame, before)
