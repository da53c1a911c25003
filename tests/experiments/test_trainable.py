"""experiments.trainable: learning, determinism, early stopping, divergence, callbacks, devices."""

import dataclasses
import math
import re

import pytest
import torch

from experiments.datasets import load_dataset
from experiments.hyperparams import OPTIMIZERS, LSTMConfig
from experiments.model import estimate_training_memory, param_count
from experiments.settings import MNIST1D, Adding, TrainingSettings
from experiments.trainable import make_optimizer, train_trial


@pytest.fixture(scope="module")
def mnist():
    return load_dataset(MNIST1D(samples=2000))


@pytest.fixture(scope="module")
def adding():
    return load_dataset(Adding(length=20, train=320, val=100, test=100))


TIMINGS = {"train_seconds", "cpu_seconds", "samples_per_second"}


def _facts(result):
    return {k: v for k, v in dataclasses.asdict(result).items() if k not in TIMINGS}


def test_mnist1d_learns_clearly_better_than_chance(mnist):
    config = LSTMConfig(units=32, bidirectional=True, lr=5e-3, batch_size=32)  # test acc. 0.38-0.46 over seeds 0-4
    result = train_trial(config, mnist, TrainingSettings(max_epochs=8, patience=None), "accuracy", seed=0)
    assert result.status == "ok" and result.message is None
    assert result.test_score > 0.25 and result.val_score > 0.25  # chance is 0.10
    assert (result.val_n, result.test_n) == (320, 400)
    assert result.param_count == param_count(config, 1, 10)
    assert result.memory_estimate_bytes == estimate_training_memory(config, 1, 10, 40, 32).total
    assert result.samples_per_second > 0 and result.train_seconds > 0 and result.cpu_seconds > 0
    assert result.device == "cpu"


def test_adding_problem_regression_returns_a_finite_mse(adding):
    result = train_trial(LSTMConfig(units=16, lr=1e-2, batch_size=32), adding, TrainingSettings(max_epochs=3), "mse", seed=0)
    assert result.status == "ok"
    assert 0 <= result.val_score < 1 and 0 <= result.test_score < 1  # targets lie in [0, 2]


def test_same_seed_same_result_other_seed_other_result(adding):
    config = LSTMConfig(units=8, dropout_placement="input", dropout=0.3, batch_size=32)
    training = TrainingSettings(max_epochs=2, patience=None)
    runs = []
    for seed in (7, 7, 8):
        epochs = []
        result = train_trial(config, adding, training, "loss", seed, on_epoch=epochs.append)
        runs.append((_facts(result), [dataclasses.replace(e, seconds=0) for e in epochs]))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_early_stopping_stops_when_validation_stalls(mnist):
    seen = []
    config = LSTMConfig(units=8, lr=1e-9, batch_size=256)  # learns nothing: the score never improves
    result = train_trial(config, mnist, TrainingSettings(max_epochs=20, patience=2), "accuracy", 0, on_epoch=seen.append)
    assert (result.status, result.best_epoch, result.epochs) == ("ok", 1, 3)
    assert [e.epoch for e in seen] == [1, 2, 3]


def test_on_epoch_is_called_once_per_epoch_with_the_metrics(adding):
    seen = []
    result = train_trial(
        LSTMConfig(units=8, batch_size=64), adding, TrainingSettings(max_epochs=4, patience=None), "mse", 0, on_epoch=seen.append
    )
    assert result.epochs == 4 and [e.epoch for e in seen] == [1, 2, 3, 4]
    assert all(e.val_score == e.val_loss and e.train_loss > 0 and e.seconds > 0 for e in seen)
    assert result.val_score == min(e.val_score for e in seen)
    assert result.best_epoch == min(seen, key=lambda e: e.val_score).epoch


DIVERGING = LSTMConfig(units=16, optimizer="sgd", lr=10.0, momentum=0.0, batch_size=16)  # 20 steps an epoch
NO_CLIP = TrainingSettings(max_epochs=5, grad_clip=None)


def test_a_diverging_config_ends_as_diverged_not_as_an_exception(adding):
    seen = []
    result = train_trial(DIVERGING, adding, NO_CLIP, "mse", seed=0, on_epoch=seen.append)
    assert result.status == "diverged"
    assert result.val_score is None and result.test_score is None
    assert re.fullmatch(r"training loss became (nan|inf) at epoch 1, step \d+", result.message)
    assert (result.epochs, result.best_epoch, seen) == (1, 0, [])


def test_divergence_after_good_epochs_keeps_no_score(adding):
    seen = []
    config = dataclasses.replace(DIVERGING, batch_size=64)  # 5 steps an epoch: blows up in epoch 2 or 3
    result = train_trial(config, adding, NO_CLIP, "mse", seed=0, on_epoch=seen.append)
    assert result.status == "diverged" and result.val_score is None and result.test_score is None
    assert result.epochs == len(seen) + 1 and result.best_epoch in [e.epoch for e in seen]
    assert "best validation mse before" in result.message


def test_gradient_clipping_tames_the_same_config(adding):
    result = train_trial(DIVERGING, adding, NO_CLIP.model_copy(update={"grad_clip": 0.1, "max_epochs": 1}), "mse", 0)
    assert result.status == "ok"


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(adding, optimizer):
    config = LSTMConfig(units=8, optimizer=optimizer, lr=1e-2, momentum=0.5, weight_decay=1e-4, batch_size=64)
    result = train_trial(config, adding, TrainingSettings(max_epochs=1), "mse", 0)
    assert result.status == "ok" and math.isfinite(result.val_score)


def test_inactive_momentum_is_zero():
    params = [torch.nn.Parameter(torch.zeros(2))]
    sgd = make_optimizer(LSTMConfig(optimizer="sgd", momentum=None), params)
    rmsprop = make_optimizer(LSTMConfig(optimizer="rmsprop", momentum=None), params)
    assert sgd.defaults["momentum"] == rmsprop.defaults["momentum"] == 0.0


@pytest.mark.parametrize("metric, dataset", [("accuracy", "adding"), ("mse", "mnist"), ("f1", "adding")])
def test_a_metric_that_does_not_fit_is_refused(metric, dataset, request):
    with pytest.raises(ValueError, match="metric"):
        train_trial(LSTMConfig(), request.getfixturevalue(dataset), TrainingSettings(), metric, 0)


def test_threads_are_set_for_the_call_and_restored(adding):
    before = torch.get_num_threads()
    seen = []
    train_trial(
        LSTMConfig(units=4, batch_size=512), adding, TrainingSettings(max_epochs=1), "mse", 0, threads=2,
        on_epoch=lambda _: seen.append(torch.get_num_threads()),
    )
    assert seen == [2] and torch.get_num_threads() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
@pytest.mark.parametrize("flush", [True, False])
def test_flush_denormal_makes_subnormal_floats_zero_while_the_trial_trains(adding, flush):
    """x86's FTZ/DAZ, set for the trial's thread and restored after: a subnormal float computes as zero
    (where a model's values decay into that range each step otherwise takes many times as long;
    bench/denormal.py)."""
    seen = []
    subnormal = torch.tensor([1e-40])  # below float32's smallest normal, 1.18e-38
    training = TrainingSettings(max_epochs=1, patience=None, flush_denormal=flush)
    train_trial(LSTMConfig(units=4), adding, training, "mse", seed=0, threads=1,
                on_epoch=lambda m: seen.append((subnormal * 1.0).item()))
    assert seen == ([0.0] if flush else [pytest.approx(1e-40)])
    assert (subnormal * 1.0).item() == pytest.approx(1e-40)  # the thread's setting is back as it was


def test_asking_for_cuda_without_a_gpu_is_refused(adding):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        train_trial(LSTMConfig(units=4), adding, TrainingSettings(max_epochs=1), "mse", 0, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda_with_mixed_precision(mnist):
    config = LSTMConfig(units=64, layers=2, bidirectional=True, lr=3e-3, batch_size=64)
    result = train_trial(config, mnist, TrainingSettings(max_epochs=5), "accuracy", 0, device="cuda")
    assert result.status == "ok" and result.test_score > 0.2
    assert result.device.startswith("cuda (")
