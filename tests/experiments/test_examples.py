"""The shipped example specs and their data: sunspots.csv equals statsmodels' data, multilabel.npz is what the
generator writes; each spec's data set loads and one of its trials trains (tiny budget). searchsvc runs the
whole specs in its own tests."""

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import TypeAdapter

from experiments.checks import check_config, check_metric, check_objective, check_params
from experiments.datasets import load_dataset
from experiments.hyperparams import DOMAINS, LSTMConfig
from experiments.settings import METRICS, DatasetSettings, TrainingSettings
from experiments.trainable import train_trial

EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def test_sunspots_csv_is_statsmodels_yearly_sunspots():
    sunspots = pytest.importorskip("statsmodels.datasets.sunspots")
    expected = sunspots.load_pandas().data
    with open(EXPERIMENTS / "data" / "sunspots.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["year", "sunspots"]
    years, values = np.array([r[0] for r in rows[1:]], int), np.array([r[1] for r in rows[1:]], float)
    np.testing.assert_array_equal(years, expected["YEAR"].to_numpy())
    np.testing.assert_array_equal(values, expected["SUNACTIVITY"].to_numpy())


def test_sunspots_csv_covers_1700_to_2008():
    with open(EXPERIMENTS / "data" / "sunspots.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + 309 and rows[1][0] == "1700" and rows[-1][0] == "2008"


def _spec(name, **dataset_update):
    document = yaml.safe_load((EXPERIMENTS / name).read_text())
    dataset = {**document["dataset"], **dataset_update}
    if "path" in dataset:
        dataset["path"] = str(EXPERIMENTS / dataset["path"])  # relative to the spec, as searchsvc reads it
    return document, TypeAdapter(DatasetSettings).validate_python(dataset)


def _first_values(space):
    """A config from the first choice, or the low end, of every searched hyperparameter."""
    params = {}
    for name, dist in space.items():
        if isinstance(dist, dict) and "when" in dist:
            continue
        params[name] = dist if not isinstance(dist, dict) else dist["values"][0] if "values" in dist else dist["low"]
    return LSTMConfig.from_params(params)


def test_multilabel_npz_is_what_the_generator_writes(tmp_path):
    from experiments.generator import main, multilabel_sequences

    with np.load(EXPERIMENTS / "data" / "multilabel.npz") as shipped:
        for name, array in multilabel_sequences().items():
            np.testing.assert_array_equal(shipped[name], array)
            assert shipped[name].dtype == array.dtype
    main(["--out", str(tmp_path / "small.npz"), "--samples", "50", "--seed", "3"])
    with np.load(tmp_path / "small.npz") as small:
        assert small["X"].shape == (50, 24, 2) and small["y"].shape == (50, 6) and small["static"].shape == (50, 2)


def test_multilabel_labels_3_to_5_are_the_patterns_where_the_static_input_passes_its_threshold():
    from experiments.generator import multilabel_sequences

    data = multilabel_sequences(samples=2000, seed=1)
    y, static = data["y"].astype(bool), data["static"].astype(np.float64)
    assert (y[:, 3] <= y[:, 0]).all() and (y[:, 4] <= y[:, 1]).all() and (y[:, 5] <= y[:, 2]).all()
    np.testing.assert_array_equal(y[:, 3], y[:, 0] & (static[:, 0] > 0.5))
    assert 0.02 < y[:, 5].mean() < y[:, 4].mean() < y[:, 3].mean() < y[:, 2].mean() < y[:, 1].mean() < y[:, 0].mean()


@pytest.mark.parametrize("name, update", [("sunspots.yaml", {}), ("imbalanced.yaml", {"samples": 300}),
                                          ("binary_head.yaml", {"samples": 300}), ("multilabel.yaml", {})])
def test_example_spec_fits_its_data_and_a_trial_trains(name, update):
    document, settings = _spec(name, **update)
    metric = document["objective"]["metric"]
    assert set(document["space"]) <= set(DOMAINS) and metric in METRICS
    assert check_params(settings, document["space"]) is None and check_metric(settings, metric) is None
    data = load_dataset(settings)
    check_objective(data, metric)
    training = TrainingSettings(**{**document["training"], "max_epochs": 1})
    for stateful in (False, True) if settings.name == "series" else (False,):
        config = _first_values(document["space"])
        result = train_trial(dataclasses.replace(config, stateful=stateful), data, training, metric, 0)
        assert result.status == "ok" and np.isfinite(result.val_score)
    for name, dist in document["space"].items():  # every searched value suits the data set
        for value in dist.get("values", []) if isinstance(dist, dict) else []:
            check_config(data, LSTMConfig.from_params({name: value}))
