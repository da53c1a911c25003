"""Multi-label targets and static inputs in a user's .npz and in a table of series: shapes, standardisation
with the training part's statistics, the cost from the headers, and every bad file refused naming it."""

import numpy as np
import pandas as pd
import pytest

from experiments.cost import DataShape, data_shape, trial_cost
from experiments.datasets import load_dataset
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.settings import NpzFile, Series
from tests.experiments.bad_data import N
from tests.experiments.bad_data import arrays as _arrays
from tests.experiments.bad_data import bad_npz as _bad_npz
from tests.experiments.bad_data import npz as _npz
from tests.experiments.bad_data import table as _table



def test_a_multilabel_npz_with_static_inputs(tmp_path):
    arrays = _arrays()
    data = load_dataset(NpzFile(path=_npz(tmp_path, **arrays), val_fraction=0.2, test_fraction=0.2))
    assert (data.multilabel, data.n_labels, data.n_classes, data.n_outputs, data.static_features) == (True, 3, 0, 3, 2)
    assert data.y_train.dtype == np.float32 and data.y_train.shape == (24, 3) and data.static_test.shape == (8, 2)
    assert data.source == str(tmp_path / "ml.npz")
    # rows follow their samples: X[:, 0, 0] identifies a sample; static is standardised with the training part's
    ids = {split: [int(np.argmin(np.abs(arrays["X"][:, 0, 0] - v))) for v in getattr(data, f"x_{split}")[:, 0, 0]]
           for split in ("train", "val", "test")}
    train = arrays["static"][ids["train"]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), arrays["y"][ids[split]])
        np.testing.assert_allclose(getattr(data, f"static_{split}"), (arrays["static"][ids[split]] - mean) / std,
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.static_train.mean(axis=0), 0, atol=1e-6)
    assert data_shape(NpzFile(path=tmp_path / "ml.npz")) == DataShape(6, 2, 3, 2)


def test_static_inputs_beside_single_labels_and_no_static(tmp_path):
    arrays = _arrays()
    single = load_dataset(NpzFile(path=_npz(tmp_path, "one.npz", X=arrays["X"], y=np.arange(N) % 3,
                                            static=arrays["static"])))
    assert (single.multilabel, single.n_classes, single.static_features) == (False, 3, 2)
    plain = load_dataset(NpzFile(path=_npz(tmp_path, "plain.npz", X=arrays["X"], y=np.arange(N) % 3)))
    assert plain.static_train is None and plain.static_features == 0
    assert data_shape(NpzFile(path=tmp_path / "one.npz")) == DataShape(6, 2, 3, 2)


@pytest.mark.parametrize("case, field, says", [
    ("labels_not_01", "dataset y", "column 1 holds 2 at sample 0; a multi-label target holds 0 or 1"),
    ("labels_fraction", "dataset y", "holds 0.5"),
    ("static_count", "dataset static", "has 37 samples but X and y have 40"),
    ("static_nan", "dataset static", "1 of 80 values are NaN or infinite (as float32), the first at index (7, 1)"),
    ("static_1d", "dataset static", "static = static[:, None]"),
    ("static_text", "dataset static", "numeric dtype"),
    ("static_constant", "dataset static", "column 0 is constant (1) over the training part"),
    ("constant_label", "dataset y", "column 2 is 0 in all 28 samples of the training part, so it cannot be learnt"),
    ("one_column", "dataset y", "expected 1 dimension (samples,), or (samples, labels)"),
])
def test_bad_multilabel_or_static_npz_names_the_array_and_the_file(tmp_path, case, field, says):
    path = _bad_npz(tmp_path, case)
    with pytest.raises(DataError) as err:
        load_dataset(NpzFile(path=path))
    message = str(err.value)
    assert message.startswith(field + ":") and says in message and str(path) in message, message
    assert "\n" not in message


def test_a_series_of_several_label_columns_with_a_static_column(tmp_path):
    settings = _table(tmp_path)
    data = load_dataset(settings)
    assert (data.multilabel, data.n_labels, data.n_outputs, data.static_features) == (True, 2, 2, 1)
    sizes = np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(data.static[:, 0], (sizes - sizes.mean()) / sizes.std(), rtol=1e-6)  # equal parts
    for stateful in (False, True):
        trial = data.for_trial(LSTMConfig(stateful=stateful, batch_size=4))
        assert trial.y_train.shape[1] == 2 and trial.y_train.dtype == np.float32 and trial.n_labels == 2
        assert trial.static_train.shape == (len(trial.y_train), 1)
        raw = trial.static_val[:, 0] * sizes.std() + sizes.mean()
        shop_of = {1.0: 0, 4.0: 1, 9.0: 2}
        sales = trial.x_val[:, -1, 0] * data.feature_std[0] + data.feature_mean[0]  # sin(day/3) * size
        for size, s in zip(np.round(raw), sales):
            assert abs(s) <= size + 1e-6 and size in shop_of  # each window reads its own shop's size
    assert data_shape(settings) == DataShape(5, 1, 2, 1)
    assert trial_cost(LSTMConfig(units=4), settings).param_count == 4 * 4 * (1 + 4 + 2) + (4 + 1 + 1) * 2


@pytest.mark.parametrize("change, field, says", [
    ({"size": (61, 5.0)}, "dataset.static", "column 'size' varies within series 'b' (4 at data row 61, 5 at data "
                                            "row 62); a static column holds one value per series"),
    ({"promo": (10, 3)}, "dataset.target", "column 'promo' holds 3 at data row 11; a multi-label target holds 0 or 1"),
    ({"size": (5, None)}, "dataset.static", "column 'size' has 1 missing or infinite value(s)"),
])
def test_bad_multilabel_series_names_the_column_and_the_file(tmp_path, change, field, says):
    settings = _table(tmp_path, **change)
    with pytest.raises(DataError) as err:
        load_dataset(settings)
    message = str(err.value)
    assert message.startswith(field + ":") and says in message and str(settings.path) in message, message


def test_a_series_label_constant_in_the_training_part_is_refused(tmp_path):
    settings = _table(tmp_path)
    frame = pd.read_csv(settings.path)
    frame.loc[frame["day"] < 42, "holiday"] = 0  # only in the validation and test parts
    frame.to_csv(settings.path, index=False)
    with pytest.raises(DataError, match=r"^dataset.target: column 'holiday' is 0 in all 126 samples of the training "
                                        r"part, so it cannot be learnt"):
        load_dataset(settings)


def test_series_settings_refuse_what_cannot_be_multilabel_or_static(tmp_path):
    with pytest.raises(ValueError, match="target: a list of target columns is a multi-label classification"):
        Series(path="s.csv", target=("a", "b"), features=("c",), window=3)  # task regression
    with pytest.raises(ValueError, match="two or more"):
        Series(path="s.csv", target=("a",), features=("c",), task="classification", window=3)
    with pytest.raises(ValueError, match="static: column 'c' is also the target, a feature"):
        Series(path="s.csv", target="a", features=("c",), static=("c",), window=3)
