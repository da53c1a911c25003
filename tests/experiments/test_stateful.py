"""Stateful trials: consecutive windows with carried state equal the whole series read at once."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from experiments.datasets import load_dataset
from experiments.hyperparams import LSTMConfig
from experiments.model import LSTMModel
from experiments.settings import Adding, Series, TrainingSettings
from experiments.stateful import stream_batches
from experiments.trainable import train_trial


@pytest.fixture(scope="module")
def two_series(tmp_path_factory):
    """Series 'a' (60 steps) and 'b' (45 steps) of two features; windows of 4, horizon 1."""
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"id": name, "t": np.arange(n), "x": rng.normal(size=n).cumsum(), "y": rng.normal(size=n)})
              for name, n in (("a", 60), ("b", 45))]
    path = tmp_path_factory.mktemp("series") / "two.csv"
    pd.concat(frames).to_csv(path, index=False)
    return load_dataset(Series(path=path, target="x", features=("x", "y"), id="id", time="t", window=4))


def _model(layers=2):
    torch.manual_seed(0)
    return LSTMModel(LSTMConfig(units=6, layers=layers), n_features=2, n_outputs=1).eval()


def _whole_series_predictions(model, data, window):
    """Each series' training part read by the LSTM at once; the head applied at every window's last step."""
    predictions = []
    for inputs in data.train.inputs:
        m = (len(inputs) - data.settings.horizon) // window  # consecutive windows with a target inside the part
        seq, _ = model.lstm(torch.tensor(inputs[: m * window])[None])
        predictions.append(model.head(seq[0, window - 1 :: window]))
    return predictions


def _stateful_predictions(model, trial):
    x = torch.tensor(trial.x_train)
    keep = torch.tensor(trial.keep_train)
    out = torch.empty(len(x), 1)
    for rows, batch in stream_batches(model, x, keep, trial.streams_train):
        out[rows] = batch
    return out


@torch.inference_mode()
def test_one_stream_equals_each_whole_series_read_at_once(two_series):
    model = _model()
    trial = two_series.for_trial(LSTMConfig(stateful=True, batch_size=1))  # one stream through both series
    assert trial.streams_train == 1
    expected = torch.cat(_whole_series_predictions(model, two_series, 4))
    torch.testing.assert_close(_stateful_predictions(model, trial), expected, rtol=1e-5, atol=1e-6)


@torch.inference_mode()
def test_parallel_streams_equal_their_stretches_read_at_once(two_series):
    model = _model()
    streams = 3
    trial = two_series.for_trial(LSTMConfig(stateful=True, batch_size=streams))
    got = _stateful_predictions(model, trial)
    for i in range(streams):  # stream i is rows i, i+3, i+6, ...: consecutive windows, cut where a series starts
        windows, keep = torch.tensor(trial.x_train[i::streams]), trial.keep_train[i::streams]
        cuts = [0, *np.flatnonzero(keep == 0)[np.flatnonzero(keep == 0) > 0], len(keep)]
        expected = []
        for start, end in zip(cuts, cuts[1:]):
            seq, _ = model.lstm(windows[start:end].reshape(1, -1, 2))  # the stretch read at once, from zero
            expected.append(model.head(seq[0, 3::4]))
        torch.testing.assert_close(got[i::streams], torch.cat(expected), rtol=1e-5, atol=1e-6)
    assert (trial.keep_train == 0).sum() == 2


@torch.inference_mode()
def test_state_is_carried_and_reset_where_a_series_starts(two_series):
    model = _model(layers=1)
    trial = two_series.for_trial(LSTMConfig(stateful=True, batch_size=2))
    carried = _stateful_predictions(model, trial)
    zero_state = model(torch.tensor(trial.x_train))
    fresh = np.zeros(len(carried), bool)
    fresh[:2] = True  # the streams' first windows
    fresh |= trial.keep_train == 0  # the series' first windows
    torch.testing.assert_close(carried[fresh], zero_state[fresh])
    assert not torch.allclose(carried[~fresh], zero_state[~fresh], atol=1e-4)


@torch.inference_mode()
def test_a_bidirectional_model_carries_its_forward_direction_only(two_series):
    torch.manual_seed(0)
    model = LSTMModel(LSTMConfig(units=5, bidirectional=True), n_features=2, n_outputs=1).eval()
    trial = two_series.for_trial(LSTMConfig(stateful=True, batch_size=1))
    x, keep = torch.tensor(trial.x_train), torch.tensor(trial.keep_train)
    seen = []
    original_step = model.step

    def spy(xb, state):
        seen.append(state)
        return original_step(xb, state)

    model.step = spy
    list(stream_batches(model, x, keep, 1))
    assert all(torch.all(h[1] == 0) and torch.all(c[1] == 0) for h, c in seen)  # backward rows: zero
    assert any(torch.any(h[0] != 0) for h, _ in seen)  # forward rows: carried


def test_a_stateful_trial_trains_reproducibly_and_reports_its_windows(two_series):
    config = LSTMConfig(units=8, stateful=True, window=3, batch_size=4, lr=1e-2)
    training = TrainingSettings(max_epochs=3, patience=None)
    first = train_trial(config, two_series, training, "mse", seed=1)
    again = train_trial(config, two_series, training, "mse", seed=1)
    stateless = train_trial(dataclasses.replace(config, stateful=False), two_series, training, "mse", seed=1)
    assert first.status == "ok" and first.val_score == again.val_score and first.test_score == again.test_score
    trial = two_series.for_trial(config)
    assert (first.val_n, first.test_n) == (len(trial.y_val), len(trial.y_test))
    assert stateless.val_n > first.val_n  # stride 1 against stride = window
    assert first.samples_per_second > 0


def test_stateful_or_a_window_on_data_that_is_not_a_series_is_refused():
    data = load_dataset(Adding(length=5, train=20, val=10, test=10))
    with pytest.raises(ValueError, match="^stateful: acts on the windows of a series"):
        train_trial(LSTMConfig(stateful=True), data, TrainingSettings(max_epochs=1), "mse", 0)
    with pytest.raises(ValueError, match="^window: acts on the windows of a series"):
        train_trial(LSTMConfig(window=5), data, TrainingSettings(max_epochs=1), "mse", 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_stateful_trial_trains_on_cuda_with_mixed_precision(two_series):
    config = LSTMConfig(units=16, layers=2, bidirectional=True, stateful=True, batch_size=4, lr=1e-2)
    result = train_trial(config, two_series, TrainingSettings(max_epochs=3), "mse", 0, device="cuda")
    assert result.status == "ok" and np.isfinite(result.val_score) and result.device.startswith("cuda (")
