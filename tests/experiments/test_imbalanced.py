"""Imbalanced classification: one digit against the rest, class weights, the new objectives, per-epoch rates."""

from dataclasses import asdict

import numpy as np
import pytest

from experiments.checks import check_metric, check_objective, check_params
from experiments.datasets import load_dataset
from experiments.splits import Dataset
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.results import EpochMetrics
from experiments.settings import MNIST1D, Adding, NpzFile, Series, TrainingSettings
from experiments.trainable import balanced_class_weights, train_trial

ONE_EPOCH = TrainingSettings(max_epochs=1)


@pytest.fixture(scope="module")
def threes():
    return load_dataset(MNIST1D(samples=500, positive_class=3))


def test_one_digit_against_the_rest_keeps_the_inputs(threes):
    ten = load_dataset(MNIST1D(samples=500))
    assert (threes.n_classes, threes.n_outputs, threes.task) == (2, 2, "classification")
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(threes, f"x_{split}"), getattr(ten, f"x_{split}"))
        np.testing.assert_array_equal(getattr(threes, f"y_{split}"), getattr(ten, f"y_{split}") == 3)
    assert 0.05 < threes.y_train.mean() < 0.2
    assert load_dataset(MNIST1D(samples=500, positive_class=3)) is threes


def test_one_against_the_rest_shares_the_cached_file(tmp_path):
    from experiments.datasets import clear_dataset_cache

    clear_dataset_cache()
    load_dataset(MNIST1D(samples=200), tmp_path)
    load_dataset(MNIST1D(samples=200, positive_class=1), tmp_path)
    assert len(list(tmp_path.glob("mnist1d-*.npz"))) == 1


def test_balanced_weights_are_n_over_k_count():
    labels = np.array([0, 0, 0, 1, 2, 2])
    np.testing.assert_allclose(balanced_class_weights(labels, 4), [6 / 9, 6 / 3, 6 / 6, 0.0])  # class 3 absent
    sklearn = pytest.importorskip("sklearn.utils.class_weight")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    np.testing.assert_allclose(balanced_class_weights(y, 5), sklearn.compute_class_weight("balanced", classes=np.arange(5), y=y),
                               rtol=1e-6)


@pytest.mark.parametrize("metric", ["balanced_accuracy", "macro_f1", "auroc"])
def test_new_objectives_train_and_binary_epochs_log_sensitivity_and_specificity(threes, metric):
    seen = []
    config = LSTMConfig(units=8, class_weight="balanced", batch_size=64, lr=1e-2)
    result = train_trial(config, threes, TrainingSettings(max_epochs=2), metric, 0, on_epoch=seen.append)
    assert result.status == "ok" and 0 <= result.val_score <= 1 and 0 <= result.test_score <= 1
    for epoch in seen:
        assert 0 <= epoch.val_sensitivity <= 1 and 0 <= epoch.val_specificity <= 1 and epoch.note is None


def test_class_weights_change_training(threes):
    def run(weight):
        return train_trial(LSTMConfig(units=8, class_weight=weight, batch_size=64), threes, ONE_EPOCH, "loss", 0)

    balanced, plain = run("balanced"), run("none")
    assert balanced.val_score != plain.val_score


def test_a_ten_class_epoch_reports_the_fields_it_always_did():
    data = load_dataset(MNIST1D(samples=200))
    seen = []
    train_trial(LSTMConfig(units=4, batch_size=64), data, ONE_EPOCH, "macro_f1", 0, on_epoch=seen.append)
    assert {k for k, v in asdict(seen[0]).items() if v is not None} == {"epoch", "train_loss", "val_loss",
                                                                        "val_score", "seconds"}
    assert seen[0].val_sensitivity is None


def _binary(y_val, y_test):
    rng = np.random.default_rng(0)
    x = lambda n: rng.normal(size=(n, 5, 1)).astype(np.float32)  # noqa: E731
    y_train = np.arange(40) % 2
    return Dataset("toy", "classification", 2, x(40), y_train, x(len(y_val)), np.asarray(y_val), x(len(y_test)),
                   np.asarray(y_test))


def test_no_positives_in_validation_leaves_sensitivity_undefined_with_the_reason():
    seen = []
    result = train_trial(LSTMConfig(units=4), _binary([0] * 6, [0, 1]), ONE_EPOCH, "balanced_accuracy", 0,
                         on_epoch=seen.append)
    assert result.status == "ok" and 0 <= result.val_score <= 1
    assert seen[0].val_sensitivity is None and seen[0].val_specificity is not None
    assert seen[0].note == "sensitivity undefined: the validation split has no positives (class 1)"


@pytest.mark.parametrize("y_val, y_test, split", [([0] * 6, [0, 1], "validation"), ([0, 1], [1, 1, 1], "test")])
def test_auroc_on_a_split_of_one_class_is_a_data_error_before_training(y_val, y_test, split):
    with pytest.raises(DataError, match=rf"^dataset: the {split} split of 'toy' holds class \d only"):
        train_trial(LSTMConfig(units=4), _binary(y_val, y_test), ONE_EPOCH, "auroc", 0)
    check_objective(_binary([0, 1], [0, 1]), "auroc")  # both classes: fine


def test_auroc_on_more_than_two_classes_is_refused(tmp_path):
    assert "set dataset.positive_class" in check_metric(MNIST1D(), "auroc")
    assert check_metric(MNIST1D(positive_class=0), "auroc") is None
    assert check_metric(MNIST1D(), "balanced_accuracy") is None
    path = tmp_path / "three.npz"
    np.savez(path, X=np.zeros((30, 4, 1)), y=np.arange(30) % 3)
    with pytest.raises(DataError, match="^objective.metric: auroc is defined for two classes.*has 3"):
        check_objective(load_dataset(NpzFile(path=path)), "auroc")


def test_check_params_refuses_what_a_data_set_cannot_take():
    series = Series(path="s.csv", target="v", window=5)
    assert check_params(series, ["units", "window", "stateful"]) is None
    assert check_params(MNIST1D(), ["units", "class_weight"]) is None
    assert check_params(MNIST1D(), ["window"]).startswith("space.window: sets the window length of a time series")
    assert check_params(Adding(), ["stateful"]).startswith("space.stateful:")
    assert check_params(Adding(), ["class_weight"]).startswith("space.class_weight: weights the classes")
    assert check_params(series, ["class_weight"]).startswith("space.class_weight:")


def test_class_weight_on_a_regression_is_refused():
    data = load_dataset(Adding(length=5, train=20, val=10, test=10))
    with pytest.raises(ValueError, match="class_weight"):
        train_trial(LSTMConfig(class_weight="balanced"), data, ONE_EPOCH, "mse", 0)


def test_epoch_metrics_keep_their_positional_fields():
    e = EpochMetrics(1, 0.5, 0.4, 0.3, 0.1)
    assert asdict(e) == {"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "val_score": 0.3, "seconds": 0.1,
                         "val_sensitivity": None, "val_specificity": None, "note": None}
