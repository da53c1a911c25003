"""experiments.cost: a trial's size and memory from its config and the dataset settings, without the data."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from experiments.cost import DataShape, data_shape, trial_cost
from experiments.datasets import load_dataset
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.settings import MNIST1D, Adding, NpzFile, Series, TrainingSettings
from experiments.sizing import estimate_training_memory, param_count
from experiments.trainable import train_trial


def test_mnist1d_and_adding_shapes_by_definition():
    assert data_shape(MNIST1D()) == DataShape(40, 1, 10)
    assert data_shape(MNIST1D(positive_class=3)) == DataShape(40, 1, 2)
    assert data_shape(Adding(length=17)) == DataShape(17, 2, 1)


def test_the_cost_is_the_models_formulas():
    config = LSTMConfig(units=24, layers=2, optimizer="sgd", momentum=0.9, batch_size=32)
    cost = trial_cost(config, MNIST1D())
    memory = estimate_training_memory(config, 1, 10, 40, 32)
    assert cost.param_count == param_count(config, 1, 10)
    assert (cost.memory_bytes, cost.weights_bytes, cost.gradients_bytes) == (memory.total, memory.weights, memory.gradients)
    assert cost.optimizer_state_bytes == cost.weights_bytes  # sgd with momentum: one tensor of the parameters' size
    assert trial_cost(LSTMConfig(optimizer="sgd", momentum=None), MNIST1D()).optimizer_state_bytes == 0
    adam = trial_cost(LSTMConfig(optimizer="adam"), MNIST1D())
    assert adam.optimizer_state_bytes == 2 * adam.weights_bytes


@pytest.mark.parametrize("task, outputs", [("classification", 4), ("regression", 1)])
def test_npz_shape_from_the_headers(tmp_path, task, outputs):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((30, 7, 3), np.float32), y=np.arange(30) % 4)
    assert data_shape(NpzFile(path=path, task=task)) == DataShape(7, 3, outputs)


def test_npz_shape_of_a_missing_or_broken_file(tmp_path):
    with pytest.raises(DataError, match="^dataset.path: no file"):
        data_shape(NpzFile(path=tmp_path / "none.npz"))
    (tmp_path / "bad.npz").write_bytes(b"no zip")
    with pytest.raises(DataError, match="^dataset.path: cannot read the shapes"):
        data_shape(NpzFile(path=tmp_path / "bad.npz"))


def test_series_shape_window_from_the_config_and_classes_from_the_target(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"a": np.arange(50.0), "b": np.sin(np.arange(50.0)), "k": np.arange(50) % 3}).to_csv(path, index=False)
    regression = Series(path=path, target="a", window=6)
    assert data_shape(regression) == DataShape(6, 1, 1)
    assert trial_cost(LSTMConfig(window=11), regression).shape == DataShape(11, 1, 1)
    classification = Series(path=path, target="k", features=("a", "b"), task="classification", window=5, horizon=0)
    assert data_shape(classification) == DataShape(5, 2, 3)


def test_the_cost_matches_what_a_series_trial_reports(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"v": np.sin(np.arange(80.0) / 3)}).to_csv(path, index=False)
    settings = Series(path=path, target="v", window=5)
    config = LSTMConfig(units=6, window=7, batch_size=8)
    result = train_trial(config, load_dataset(settings), TrainingSettings(max_epochs=1), "mse", 0)
    cost = trial_cost(config, settings)
    assert (cost.param_count, cost.memory_bytes) == (result.param_count, result.memory_estimate_bytes)


def test_no_torch_is_imported():
    code = ("import sys; from experiments.cost import trial_cost; from experiments.hyperparams import LSTMConfig; "
            "from experiments.settings import MNIST1D; trial_cost(LSTMConfig(), MNIST1D()); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
