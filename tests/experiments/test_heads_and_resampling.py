"""The binary head (softmax2 / sigmoid1) and random resampling of the training part: the same loss and the
same metrics (scikit-learn's) from either head; resampled epochs fixed by the seed; what is refused."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from experiments.checks import check_config, check_params
from experiments.datasets import load_dataset
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig, normalize
from experiments.losses import sigmoid_loss
from experiments.metrics import binary_rates
from experiments.resampling import Resampler
from experiments.settings import MNIST1D, Adding, NpzFile, Series, TrainingSettings
from experiments.trainable import _Trial, resolve_device, train_trial

TWO_EPOCHS = TrainingSettings(max_epochs=2, patience=None)


@pytest.fixture(scope="module")
def threes():
    return load_dataset(MNIST1D(samples=500, positive_class=3))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_sigmoid_logit_has_the_loss_of_two_softmax_logits_with_the_first_at_zero(reduction, weighted):
    z, y = torch.randn(17, 1), torch.randint(0, 2, (17,))
    weight = torch.tensor([0.6, 2.5]) if weighted else None
    two = torch.cat([torch.zeros_like(z), z], dim=1)
    torch.testing.assert_close(sigmoid_loss(z, y, reduction, weight),
                               F.cross_entropy(two, y, weight=weight, reduction=reduction))


@pytest.mark.parametrize("head", ["softmax2", "sigmoid1"])
def test_either_head_is_scored_from_the_positive_class_probability_as_scikit_learn(threes, head):
    sk = pytest.importorskip("sklearn.metrics")
    config = LSTMConfig(units=6, binary_head=head)
    for metric in ("accuracy", "balanced_accuracy", "macro_f1", "auroc"):
        trial = _Trial(config, threes, TWO_EPOCHS, metric, 3, resolve_device("cpu"))
        trial._train_epoch()  # some learning, so predictions of both classes occur
        evaluation = trial._evaluate("val")
        trial.model.eval()
        with torch.no_grad():
            out = trial.model(torch.from_numpy(np.asarray(threes.x_val)))
        p = torch.sigmoid(out[:, 0]) if head == "sigmoid1" else torch.softmax(out, dim=1)[:, 1]
        p = p.double().numpy()
        y, predicted = threes.y_val, (p > 0.5).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = {"accuracy": sk.accuracy_score(y, predicted),
                        "balanced_accuracy": sk.balanced_accuracy_score(y, predicted),
                        "macro_f1": sk.f1_score(y, predicted, average="macro", zero_division=0),
                        "auroc": sk.roc_auc_score(y, p)}[metric]
        assert evaluation.score(metric) == pytest.approx(expected, abs=1e-9), metric
        rates = binary_rates(evaluation.confusion)
        assert rates.sensitivity == pytest.approx(sk.recall_score(y, predicted))
        assert rates.specificity == pytest.approx(sk.recall_score(1 - y, 1 - predicted))


def test_a_sigmoid_head_trains_with_one_logit_fewer_and_logs_the_rates(threes):
    seen = []
    sigmoid = train_trial(LSTMConfig(units=8, binary_head="sigmoid1", class_weight="balanced"), threes, TWO_EPOCHS,
                          "auroc", 0, on_epoch=seen.append)
    softmax = train_trial(LSTMConfig(units=8, binary_head="softmax2", class_weight="balanced"), threes, TWO_EPOCHS,
                          "auroc", 0)
    assert sigmoid.status == softmax.status == "ok" and softmax.param_count - sigmoid.param_count == 8 + 1
    assert all(0 <= e.val_sensitivity <= 1 and 0 <= e.val_specificity <= 1 for e in seen)
    plain = train_trial(LSTMConfig(units=8, class_weight="balanced"), threes, TWO_EPOCHS, "auroc", 0)
    assert dataclasses.replace(plain, train_seconds=0, cpu_seconds=0, samples_per_second=0) == dataclasses.replace(
        softmax, train_seconds=0, cpu_seconds=0, samples_per_second=0)  # softmax2 is the default head


def test_binary_head_on_other_than_two_classes_is_refused(tmp_path):
    assert check_params(MNIST1D(positive_class=3), ["binary_head"]) is None
    assert check_params(MNIST1D(), ["binary_head"]).startswith(
        "space.binary_head: chooses the head of a two-class problem (two logits with a softmax, or one with a "
        "sigmoid), but dataset mnist1d has 10 classes; set dataset.positive_class")
    assert "has a regression" in check_params(Adding(), ["binary_head"])
    path = tmp_path / "three.npz"
    np.savez(path, X=np.zeros((30, 4, 1)), y=np.arange(30) % 3)
    with pytest.raises(DataError, match=r"^space.binary_head: .*y of 'three' makes 3 classes"):
        train_trial(LSTMConfig(binary_head="sigmoid1"), load_dataset(NpzFile(path=path)), TWO_EPOCHS, "accuracy", 0)


def test_oversampling_and_undersampling_equal_the_classes_each_epoch_anew():
    labels = np.array([0] * 12 + [1] * 3 + [2] * 5)
    over = Resampler(labels, "oversample", np.random.default_rng(0))
    under = Resampler(labels, "undersample", np.random.default_rng(0))
    assert (over.size, under.size) == (36, 9)
    first, second = over.draw(), over.draw()
    assert np.bincount(labels[first]).tolist() == [12, 12, 12] and set(first) == set(range(20))
    assert not np.array_equal(first, second)
    rows = under.draw()
    assert np.bincount(labels[rows]).tolist() == [3, 3, 3] and len(set(rows)) == 9
    again = Resampler(labels, "undersample", np.random.default_rng(0))
    np.testing.assert_array_equal(again.draw(), rows)
    absent = Resampler(np.array([0, 0, 2, 2, 2]), "undersample", np.random.default_rng(0))  # class 1 absent
    assert absent.size == 4
    with pytest.raises(ValueError, match="resample"):
        Resampler(labels, "none", np.random.default_rng(0))


@pytest.mark.parametrize("how", ["oversample", "undersample"])
def test_a_resampled_trial_is_fixed_by_its_seed_and_its_validation_untouched(threes, how):
    config = LSTMConfig(units=6, resample=how)
    runs = [train_trial(config, threes, TWO_EPOCHS, "balanced_accuracy", seed) for seed in (4, 4, 5)]
    facts = [dataclasses.replace(r, train_seconds=0, cpu_seconds=0, samples_per_second=0) for r in runs]
    assert facts[0] == facts[1] and facts[0] != facts[2]
    plain = train_trial(LSTMConfig(units=6), threes, TWO_EPOCHS, "balanced_accuracy", 4)
    assert (runs[0].val_n, runs[0].test_n) == (plain.val_n, plain.test_n) and runs[0].val_score != plain.val_score


def test_resample_is_refused_where_it_cannot_act(tmp_path):
    assert check_params(MNIST1D(positive_class=1), ["resample", "class_weight"]) is None
    assert check_params(Adding(), ["resample"]).startswith("space.resample: over- or undersamples the classes of a "
                                                           "classification of one label per sample, but dataset adding "
                                                           "is a regression")
    regression = NpzFile(path=tmp_path / "r.npz", task="regression")
    assert "dataset npz" in check_params(regression, ["resample"]) and str(regression.path) in check_params(
        regression, ["resample"])
    adding = load_dataset(Adding(length=5, train=20, val=10, test=10))
    with pytest.raises(DataError, match="^space.resample:"):
        check_config(adding, LSTMConfig(resample="undersample"))


def test_a_stateful_trial_is_recorded_without_resampling(tmp_path):
    assert normalize({"stateful": True, "resample": "oversample"}) == {"stateful": True, "resample": None}
    assert normalize({"stateful": False, "resample": "oversample"})["resample"] == "oversample"
    assert LSTMConfig.from_params({"resample": None}).resample is None  # trains as none
    import pandas as pd

    path = tmp_path / "s.csv"
    pd.DataFrame({"v": np.sin(np.arange(80.0)), "k": np.arange(80) % 2}).to_csv(path, index=False)
    data = load_dataset(Series(path=path, target="k", features=("v",), task="classification", window=4, horizon=0))
    with pytest.raises(ValueError, match="^resample: 'oversample' acts on stateless trials"):
        train_trial(LSTMConfig(stateful=True, resample="oversample"), data, TWO_EPOCHS, "accuracy", 0)
    assert train_trial(LSTMConfig(units=4, resample="oversample"), data, TWO_EPOCHS, "accuracy", 0).status == "ok"
