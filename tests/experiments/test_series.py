"""experiments.series and experiments.table: chronological splits, standardisation, windows, streams, bad data."""

import numpy as np
import pandas as pd
import pytest

from experiments.datasets import clear_dataset_cache, load_dataset
from experiments.splits import Dataset
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.series import SeriesData, StreamDataset, cut_windows, stream_order
from experiments.settings import Series
from tests.experiments.bad_data import bad_series as _bad


def _csv(tmp_path, frame, name="table.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _two_series(n_a=40, n_b=30):
    """Series 'a' and 'b', interleaved and shuffled in time; value = 1000·series + step, label = step % 3 == 0."""
    rows = [("a", t, 1000 + t, 2.0 * t, int(t % 3 == 0)) for t in range(n_a)]
    rows += [("b", t, 2000 + t, -1.0 * t, int(t % 3 == 0)) for t in range(n_b)]
    frame = pd.DataFrame(rows, columns=["store", "day", "value", "other", "label"])
    return frame.sample(frac=1.0, random_state=0)


def test_one_series_splits_in_time_and_standardises_on_the_training_part(tmp_path):
    values = np.arange(100, dtype=float) ** 1.5
    path = _csv(tmp_path, pd.DataFrame({"t": np.arange(100), "v": values}))
    data = load_dataset(Series(path=path, target="v", time="t", window=5, val_fraction=0.2, test_fraction=0.1))
    assert isinstance(data, SeriesData) and data.ids == ("",) and data.task == "regression"
    assert [data.train.rows(), data.val.rows(), data.test.rows()] == [[70], [20], [10]]
    train = values[:70]
    assert data.feature_mean[0] == pytest.approx(train.mean()) and data.feature_std[0] == pytest.approx(train.std())
    standard = (values - train.mean()) / train.std()
    np.testing.assert_allclose(np.concatenate([data.train.inputs[0][:, 0], data.val.inputs[0][:, 0],
                                               data.test.inputs[0][:, 0]]), standard, rtol=1e-6)
    np.testing.assert_allclose(data.val.targets[0], standard[70:90], rtol=1e-6)
    assert data.max_window == 9  # the test part: 10 rows, horizon 1


def test_windows_are_cut_within_each_part_with_stride_and_horizon(tmp_path):
    path = _csv(tmp_path, pd.DataFrame({"v": np.arange(50.0)}))
    data = load_dataset(Series(path=path, target="v", window=4, stride=3, horizon=2, val_fraction=0.2, test_fraction=0.2))
    trial = data.for_trial(LSTMConfig())
    assert type(trial) is Dataset and (trial.timesteps, trial.features, trial.n_outputs) == (4, 1, 1)
    raw = lambda a: np.round(a * data.feature_std[0] + data.feature_mean[0]).astype(int)  # noqa: E731
    # training part: rows 0..29; windows end at 3, 6, ..., 27 (target 2 steps on, inside the part)
    np.testing.assert_array_equal(raw(trial.x_train[:, :, 0]), [np.arange(s, s + 4) for s in range(0, 25, 3)])
    np.testing.assert_array_equal(raw(trial.y_train), np.arange(3, 28, 3) + 2)
    np.testing.assert_array_equal(raw(trial.x_val[:, 0, 0]), [30, 33])  # validation part: rows 30..39
    np.testing.assert_array_equal(raw(trial.y_test), [45, 48])  # test part: rows 40..49
    wider = data.for_trial(LSTMConfig(window=6))
    assert wider.timesteps == 6 and data.for_trial(LSTMConfig(window=6)) is wider  # cached
    with pytest.raises(DataError, match=r"^dataset.window: .* at most 8 steps"):
        data.for_trial(LSTMConfig(window=9))


def test_several_series_by_id_sorted_by_time_none_crossing_another(tmp_path):
    path = _csv(tmp_path, _two_series())
    settings = Series(path=path, target="value", features=("value", "other"), id="store", time="day", window=3)
    data = load_dataset(settings)
    assert data.ids == ("a", "b") and data.features == 2
    raw = data.train.inputs[0][:, 0] * data.feature_std[0] + data.feature_mean[0]
    np.testing.assert_allclose(raw, 1000 + np.arange(28), rtol=1e-6)  # 'a': 40 rows, 6 validate, 6 test
    trial = data.for_trial(LSTMConfig())
    firsts = trial.x_train[:, 0, 0] * data.feature_std[0] + data.feature_mean[0]
    lasts = trial.x_train[:, -1, 0] * data.feature_std[0] + data.feature_mean[0]
    assert np.all(np.round(lasts - firsts) == 2)  # every window within one series
    assert len(trial.y_train) == (28 - 3) + (22 - 3)  # 'b': 30 rows, round(4.5) = 4 validate, 4 test


def test_classification_labels_at_the_window_end_plus_horizon(tmp_path):
    path = _csv(tmp_path, _two_series())
    settings = Series(path=path, target="label", features=("other",), id="store", time="day", task="classification",
                      window=4, horizon=0)
    data = load_dataset(settings)
    assert (data.n_classes, data.target_std) == (2, 1.0)
    trial = data.for_trial(LSTMConfig())
    step = np.round(trial.x_train[:, -1, 0] * data.feature_std[0] + data.feature_mean[0])
    np.testing.assert_array_equal(trial.y_train, (np.abs(step) % 3 == 0).astype(int))  # 'a': 2t, 'b': -t
    assert trial.y_train.dtype == np.int64


def test_parquet_reads_as_csv_does(tmp_path):
    frame = _two_series()
    frame.to_parquet(tmp_path / "t.parquet")
    settings = dict(target="value", id="store", time="day", window=3)
    from_parquet = load_dataset(Series(path=tmp_path / "t.parquet", **settings)).for_trial(LSTMConfig())
    from_csv = load_dataset(Series(path=_csv(tmp_path, frame), **settings)).for_trial(LSTMConfig())
    np.testing.assert_array_equal(from_parquet.x_val, from_csv.x_val)


def test_stateful_windows_are_consecutive_streams(tmp_path):
    path = _csv(tmp_path, _two_series(43, 30))
    data = load_dataset(Series(path=path, target="value", id="store", time="day", window=3, stride=1))
    trial = data.for_trial(LSTMConfig(stateful=True, batch_size=4))
    assert isinstance(trial, StreamDataset) and trial.streams_train == 4
    steps = np.round(trial.x_train[:, :, 0] * data.feature_std[0] + data.feature_mean[0]).astype(int)
    # training parts: 'a' 31 rows → 10 windows (stride 3, horizon 1), 'b' 22 rows → 7; 4 streams of 5, 4, 4, 4
    assert len(steps) == 17
    batches = [steps[t * 4 : (t + 1) * 4] for t in range(5)]
    assert [len(b) for b in batches] == [4, 4, 4, 4, 1]
    for t in range(4):
        for i in range(len(batches[t + 1])):
            continues = batches[t + 1][i, 0] == batches[t][i, -1] + 1
            assert continues or trial.keep_train[(t + 1) * 4 + i] == 0  # continues, or starts series 'b'
    assert trial.keep_train.sum() == 17 - 2 and not trial.keep_train.flags.writeable
    assert sorted(steps[trial.keep_train == 0][:, 0]) == [1000, 2000]  # the first window of each series
    assert trial.streams_val == min(4, len(trial.y_val))


@pytest.mark.parametrize("n, streams", [(1, 1), (7, 1), (7, 7), (10, 3), (17, 4), (12, 4)])
def test_stream_order_is_a_permutation_with_consecutive_streams(n, streams):
    order = stream_order(n, streams)
    assert sorted(order) == list(range(n))
    stream_of_row = np.arange(n) % streams
    for i in range(streams):
        windows = order[stream_of_row == i]
        assert np.all(np.diff(windows) == 1)


def test_cut_windows_on_a_part_too_short_gives_none():
    x, y = cut_windows(np.zeros((3, 2)), np.zeros(3), window=3, stride=1, horizon=1)
    assert x.shape == (0, 3, 2) and y.shape == (0,)


def test_an_edited_file_is_read_again(tmp_path):
    path = _csv(tmp_path, pd.DataFrame({"v": np.arange(40.0)}))
    first = load_dataset(Series(path=path, target="v", window=2))
    assert load_dataset(Series(path=path, target="v", window=2)) is first
    _csv(tmp_path, pd.DataFrame({"v": np.arange(60.0)}))
    assert load_dataset(Series(path=path, target="v", window=2)).train.rows() == [42]
    clear_dataset_cache()


@pytest.mark.parametrize(
    "case, field, column, says",
    [
        ("missing_file", "dataset.path", None, "no file"),
        ("unknown_suffix", "dataset.path", None, "expected a table named *.csv"),
        ("not_utf8", "dataset.path", None, "cannot read"),
        ("empty_file", "dataset.path", None, "is empty"),
        ("no_rows", "dataset.path", None, "no rows"),
        ("missing_feature", "dataset.features", "z", "is not in"),
        ("missing_target", "dataset.target", "Y", "is not in"),
        ("text_feature", "dataset.features", "x", "not numeric"),
        ("text_target", "dataset.target", "y", "not numeric"),
        ("missing_value", "dataset.target", "y", "missing or infinite"),
        ("too_few_rows", "dataset.window", "y", "too few for one window"),
        ("horizon_past_the_end", "dataset.horizon", "y", "past the end"),
        ("constant_feature", "dataset.features", "x", "constant"),
        ("constant_target", "dataset.target", "y", "constant"),
        ("one_class", "dataset.target", "label", "one class only"),
        ("fractional_labels", "dataset.target", "label", "must be integers"),
        ("negative_labels", "dataset.target", "label", "0..K-1"),
        ("repeated_time", "dataset.time", "t", "twice"),
        ("missing_id", "dataset.id", "id", "is empty"),
    ],
)
def test_bad_data_is_a_data_error_naming_the_file_and_the_column(tmp_path, case, field, column, says):
    path, settings = _bad(tmp_path, case)
    with pytest.raises(DataError) as err:
        load_dataset(Series(path=path, **settings))
    message = str(err.value)
    assert message.startswith(field + ":"), message
    assert str(path) in message, message
    assert column is None or repr(column) in message, message
    assert says in message, message


def test_the_table_of_a_series_names_where_the_window_does_not_fit(tmp_path):
    path, settings = _bad(tmp_path, "too_few_rows")
    with pytest.raises(DataError, match=r"the validation part of series 'b' has 2 rows of 'y'.*at most 1 steps"):
        load_dataset(Series(path=path, **settings))


def test_settings_refuse_inconsistent_series():
    with pytest.raises(ValueError, match="horizon"):
        Series(path="t.csv", target="y", window=3, horizon=0)
    with pytest.raises(ValueError, match="features: a classification names its input columns"):
        Series(path="t.csv", target="y", window=3, task="classification")
    with pytest.raises(ValueError, match="'x' is listed twice"):
        Series(path="t.csv", target="y", window=3, features=("x", "x"))
    with pytest.raises(ValueError, match="id: column 'y'"):
        Series(path="t.csv", target="y", window=3, id="y")
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction"):
        Series(path="t.csv", target="y", window=3, val_fraction=0.5, test_fraction=0.5)


def test_check_config_names_a_window_too_long_without_cutting_windows(tmp_path):
    from experiments.checks import check_config
    from experiments.series import _LAYOUTS

    data = load_dataset(Series(path=_csv(tmp_path, pd.DataFrame({"v": np.arange(50.0)})), target="v", window=4))
    check_config(data, LSTMConfig(window=7))  # validation and test: 8 rows each, horizon 1
    with pytest.raises(DataError, match=r"^dataset.window: .*window of 8 steps.*at most 7 steps"):
        check_config(data, LSTMConfig(window=8, stateful=True))
    assert data not in _LAYOUTS
