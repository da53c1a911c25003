"""Training on multi-label targets and static inputs: every objective, per-epoch rates, pos_weight, the
static input's effect, the cost against the built model, and what the checks refuse before training."""

import dataclasses

import numpy as np
import pytest

from experiments.checks import check_config, check_metric, check_objective, check_params
from experiments.cost import trial_cost
from experiments.datasets import load_dataset
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.losses import balanced_pos_weights
from experiments.settings import MNIST1D, NpzFile, Series, TrainingSettings
from experiments.splits import Dataset
from experiments.trainable import train_trial

TWO_EPOCHS = TrainingSettings(max_epochs=2, patience=None)


def _static_labels(n=240, seed=0):
    """Labels 0 and 1 follow the static input's sign, label 2 the sequence's mean: neither alone tells all."""
    rng = np.random.default_rng(seed)
    static = rng.normal(size=(n, 2))
    x = rng.normal(size=(n, 8, 1)) + rng.choice([-1.0, 1.0], size=(n, 1, 1))
    y = np.stack([static[:, 0] > 0, static[:, 1] > 0.8, x.mean(axis=(1, 2)) > 0], axis=1).astype(np.int64)
    return x, y, static


@pytest.fixture(scope="module")
def multilabel(tmp_path_factory):
    path = tmp_path_factory.mktemp("ml") / "ml.npz"
    x, y, static = _static_labels()
    np.savez(path, X=x, y=y, static=static)
    settings = NpzFile(path=path, val_fraction=0.25, test_fraction=0.25)
    return settings, load_dataset(settings)


@pytest.mark.parametrize("metric", ["subset_accuracy", "micro_f1", "macro_f1", "macro_auroc", "loss"])
def test_every_multilabel_objective_trains_and_epochs_report_mean_rates(multilabel, metric):
    _, data = multilabel
    seen = []
    result = train_trial(LSTMConfig(units=8, lr=1e-2), data, TWO_EPOCHS, metric, 0, on_epoch=seen.append)
    assert result.status == "ok" and np.isfinite(result.val_score) and np.isfinite(result.test_score)
    assert (result.val_n, result.test_n) == (60, 60)
    for epoch in seen:
        assert 0 <= epoch.val_sensitivity <= 1 and 0 <= epoch.val_specificity <= 1 and epoch.note is None
        if metric != "loss":
            assert 0 <= epoch.val_score <= 1


def test_a_label_without_positives_in_validation_is_named_never_nan():
    rng = np.random.default_rng(1)
    x = lambda n: rng.normal(size=(n, 4, 1)).astype(np.float32)  # noqa: E731
    y_train = (np.arange(40)[:, None] % np.array([2, 3]) == 0).astype(np.float32)
    y_val = np.array([[1, 0], [0, 0], [1, 0], [0, 0]], np.float32)  # label 1: no positives
    data = Dataset("toy", "classification", 0, x(40), y_train, x(4), y_val, x(4), y_val, n_labels=2)
    seen = []
    result = train_trial(LSTMConfig(units=4), data, TWO_EPOCHS, "macro_auroc", 0, on_epoch=seen.append)
    assert result.status == "ok" and np.isfinite(result.val_score)
    assert seen[0].note.startswith("sensitivity undefined for 1 of 2 labels (label 1): the validation split has no "
                                   "positives of them")
    assert seen[0].val_sensitivity is not None


def test_pos_weight_is_negatives_over_positives_and_changes_training(multilabel):
    _, data = multilabel
    y = data.y_train
    np.testing.assert_allclose(balanced_pos_weights(y), (len(y) - y.sum(0)) / y.sum(0), rtol=1e-6)
    with pytest.raises(ValueError, match="positives and negatives"):
        balanced_pos_weights(np.array([[1.0, 0.0], [1.0, 1.0]]))

    def run(weight):
        return train_trial(LSTMConfig(units=8, class_weight=weight), data, TWO_EPOCHS, "loss", 0)

    assert run("balanced").val_score != run("none").val_score


def test_the_static_input_is_read_and_static_input_false_leaves_it_out(multilabel):
    settings, data = multilabel
    training = TrainingSettings(max_epochs=12, patience=None)
    config = LSTMConfig(units=8, lr=2e-2, batch_size=32)
    used = train_trial(config, data, training, "macro_auroc", 0)
    left_out = train_trial(dataclasses.replace(config, static_input=False), data, training, "macro_auroc", 0)
    assert used.param_count - left_out.param_count == 2 * 3  # two static inputs into three logits
    assert used.val_score > left_out.val_score + 0.1, (used.val_score, left_out.val_score)
    for trained, c in ((used, config), (left_out, dataclasses.replace(config, static_input=False))):
        cost = trial_cost(c, settings)  # what `validate --show` prints, from the file's headers
        assert (cost.param_count, cost.memory_bytes) == (trained.param_count, trained.memory_estimate_bytes)


def test_a_multilabel_series_with_static_columns_trains_stateless_and_stateful(tmp_path):
    from tests.experiments.bad_data import table as _table

    settings = _table(tmp_path)
    data = load_dataset(settings)
    for stateful in (False, True):
        config = LSTMConfig(units=4, stateful=stateful, batch_size=4)
        result = train_trial(config, data, TrainingSettings(max_epochs=1), "subset_accuracy", 0)
        assert result.status == "ok" and 0 <= result.val_score <= 1
        cost = trial_cost(config, settings)
        assert cost.param_count == result.param_count


def test_the_objective_must_suit_a_multilabel_set(multilabel):
    _, data = multilabel
    for metric in ("accuracy", "balanced_accuracy", "auroc"):
        with pytest.raises(DataError, match=rf"^objective.metric: {metric} scores one class label per sample, but "
                                            r"'ml' is multi-label \(3 labels in y\); use subset_accuracy"):
            check_objective(data, metric)
    for metric in ("subset_accuracy", "micro_f1", "macro_f1", "macro_auroc", "loss"):
        check_objective(data, metric)
    single = load_dataset(MNIST1D(samples=200))
    with pytest.raises(DataError, match="^objective.metric: micro_f1 scores a multi-label classification"):
        check_objective(single, "micro_f1")


def test_an_undefined_objective_is_refused_before_training():
    rng = np.random.default_rng(0)
    x = lambda n: rng.normal(size=(n, 4, 1)).astype(np.float32)  # noqa: E731
    y_train = (np.arange(20)[:, None] % np.array([2, 3]) == 0).astype(np.float32)
    none = np.zeros((4, 2), np.float32)
    ones = np.ones((4, 2), np.float32)
    data = Dataset("toy", "classification", 0, x(20), y_train, x(4), none, x(4), ones, n_labels=2, source="toy.npz")
    with pytest.raises(DataError, match=r"^dataset: the validation split of 'toy' has no positive label in any of "
                                        r"its 4 samples.*\(file: toy.npz\)$"):
        train_trial(LSTMConfig(units=4), data, TWO_EPOCHS, "micro_f1", 0)
    with pytest.raises(DataError, match=r"^dataset: no label has both positives and negatives in the validation"):
        check_objective(data, "macro_auroc")
    check_objective(data, "subset_accuracy")  # defined whatever the split holds


def test_settings_level_refusals_of_multilabel_series():
    series = Series(path="s.csv", target=("a", "b"), features=("c",), task="classification", window=3)
    assert check_metric(series, "accuracy").startswith("objective.metric: accuracy scores one class label per sample")
    assert check_metric(series, "macro_auroc") is None and check_metric(MNIST1D(), "macro_f1") is None
    assert check_metric(MNIST1D(), "subset_accuracy").startswith("objective.metric: subset_accuracy scores a multi")
    assert check_params(series, ["resample"]).startswith("space.resample: over- or undersamples")
    assert check_params(series, ["binary_head"]).startswith("space.binary_head: chooses the head of a two-class")
    assert check_params(series, ["static_input"]).startswith("space.static_input: switches")
    with_static = series.model_copy(update={"static": ("d",)})
    assert check_params(with_static, ["static_input"]) is None


def test_data_level_refusals_name_the_file_and_the_array(multilabel, tmp_path):
    _, data = multilabel
    with pytest.raises(DataError, match=r"^space.resample: .* but y of 'ml' makes multi-label; remove resample from "
                                        r"space; class_weight: balanced weighs each label"):
        check_config(data, LSTMConfig(resample="oversample"))
    with pytest.raises(DataError, match=r"^space.binary_head: .* but y of 'ml' makes multi-label"):
        check_config(data, LSTMConfig(binary_head="sigmoid1"))
    with pytest.raises(DataError, match="^space.resample:"):
        check_config(data, LSTMConfig(resample="none"))  # searched, even at none: refused whatever a trial draws
    check_config(data, LSTMConfig(static_input=False))
    path = tmp_path / "three.npz"
    np.savez(path, X=np.zeros((30, 4, 1)), y=np.arange(30) % 3)
    three = load_dataset(NpzFile(path=path))
    with pytest.raises(DataError) as err:
        check_config(three, LSTMConfig(binary_head="softmax2"))
    assert str(err.value).startswith("space.binary_head:") and "y of 'three' makes 3 classes" in str(err.value)
    assert str(err.value).endswith(f"(file: {path})")
    with pytest.raises(DataError, match=r"^space.static_input: .* 'three' has no array static"):
        check_config(three, LSTMConfig(static_input=True))
