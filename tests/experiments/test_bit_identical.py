"""The default training path is bit-identical to the one that produced the shipped study's trials.

The reference is commit afa047c's own code (before time series, stateful training, class weights, the
new metrics and ``flush_denormal``), taken from the repository's history with ``git archive`` and run in
a process of its own on the machine under test: float results of another CPU or torch build differ in
the last bits, so only the same machine can be compared exactly. Both sides run ``train_trial`` with seed
11 and ``max_epochs=3`` (patience 5), torch's one thread, for each config × (MNIST-1D of 400 samples:
accuracy and loss; the adding problem of length 20: mse; an ``.npz`` of 60 random samples of 3 classes:
accuracy). Compared: validation and test score, epochs, best epoch, parameter count, memory estimate,
and the per-epoch training and validation losses.

The new hyperparameters stay at their defaults here (window None, stateful False, class_weight
"none"), and so does ``flush_denormal`` (on): these trainings have no subnormal value, so it must
change nothing. Every value must match exactly.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from experiments.datasets import load_dataset
from experiments.hyperparams import LSTMConfig
from experiments.settings import MNIST1D, Adding, NpzFile, TrainingSettings
from experiments.trainable import train_trial

REFERENCE_COMMIT = "afa047c3534362be640ef50f4c2f69d2af370343"
ROOT = Path(__file__).resolve().parents[2]

CONFIGS = {
    "sgd_momentum": LSTMConfig(units=16, optimizer="sgd", lr=0.05, momentum=0.9, batch_size=32),
    "adam_between": LSTMConfig(units=16, layers=2, dropout_placement="between", dropout=0.3, optimizer="adam",
                               lr=3e-3, batch_size=64),
    "adamw_input_bi": LSTMConfig(units=12, dropout_placement="input", dropout=0.2, bidirectional=True,
                                 optimizer="adamw", lr=5e-3, weight_decay=1e-2, batch_size=32),
    "rmsprop_output_bi": LSTMConfig(units=10, layers=2, dropout_placement="output", dropout=0.25, bidirectional=True,
                                    optimizer="rmsprop", lr=2e-3, momentum=0.5, batch_size=48),
    "adagrad": LSTMConfig(units=8, optimizer="adagrad", lr=2e-2, batch_size=16),
    "sgd_plain_between_bi": LSTMConfig(units=8, layers=2, dropout_placement="between", dropout=0.1, bidirectional=True,
                                       optimizer="sgd", lr=0.1, momentum=None, batch_size=64),
}

KEYS = [f"{dataset}/{metric}/{config}" for dataset, metric in
        (("mnist1d", "accuracy"), ("mnist1d", "loss"), ("adding", "mse"), ("npz", "accuracy")) for config in CONFIGS]

# Run by the reference commit's code (its directory first on sys.path): the same calls, as JSON.
REFERENCE_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
from tests.experiments.test_bit_identical import KEYS, CONFIGS, _datasets, _run
import experiments
assert experiments.__file__.startswith(sys.argv[1]), experiments.__file__
data = _datasets(sys.argv[3])
print(json.dumps({key: _run(data, key) for key in KEYS}))
"""


def _datasets(folder: str) -> dict:
    path = Path(folder) / "c.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.normal(size=(60, 8, 2)), y=np.arange(60) % 3)
    return {
        "mnist1d": load_dataset(MNIST1D(samples=400)),
        "adding": load_dataset(Adding(length=20, train=320, val=100, test=100)),
        "npz": load_dataset(NpzFile(path=path)),
    }


def _run(data: dict, key: str) -> list:
    dataset, metric, config = key.split("/")
    epochs = []
    r = train_trial(CONFIGS[config], data[dataset], TrainingSettings(max_epochs=3), metric, seed=11, threads=1,
                    on_epoch=epochs.append)
    return [r.val_score, r.test_score, r.epochs, r.best_epoch, r.param_count, r.memory_estimate_bytes,
            [e.train_loss for e in epochs], [e.val_loss for e in epochs]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The reference commit's results on this machine (its ``experiments`` package from git history)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the repository's git history (the reference is commit afa047c's code)")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", REFERENCE_COMMIT, "experiments"],
                             capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"commit {REFERENCE_COMMIT[:7]} is not in this clone's history: {archive.stderr.decode()[:200]}")
    old = tmp_path_factory.mktemp("afa047c")
    tarfile.open(fileobj=io.BytesIO(archive.stdout)).extractall(old, filter="data")
    run = subprocess.run([sys.executable, "-c", REFERENCE_RUN, str(old), str(ROOT), str(tmp_path_factory.mktemp("ref"))],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict:
    return _datasets(str(tmp_path_factory.mktemp("npz")))


def test_the_reference_covers_every_config_and_data_set(reference) -> None:
    assert sorted(reference) == sorted(KEYS) and len(KEYS) == 24


@pytest.mark.parametrize("key", KEYS)
def test_default_path_is_bit_identical_to_commit_afa047c(reference, datasets, key):
    new = CONFIGS[key.split("/")[2]]
    assert (new.window, new.stateful, new.class_weight) == (None, False, "none")  # the defaults
    assert TrainingSettings().flush_denormal
    assert json.loads(json.dumps(_run(datasets, key))) == reference[key]
