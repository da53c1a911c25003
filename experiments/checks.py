"""Whether a search space and an objective fit a data set, checked before a sweep starts.

Two levels: :func:`check_params` and :func:`check_metric` look at the settings alone (no data, no
file), for the spec; :func:`check_objective` and :func:`check_config` look at the loaded data, for
what the settings cannot tell (the classes of a user's file, the rows of each series), and raise
:class:`~experiments.errors.DataError`. ``train_trial`` runs the data checks on its own trial too,
before training; a sweep runs them on every trial's config once the data is loaded, before any trial.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from experiments.splits import Dataset
from experiments.series import SeriesData
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.settings import BINARY_METRICS, MNIST1D, Adding, NpzFile, Series

#: hyperparameters that act on a series data set only
SERIES_PARAMS = ("window", "stateful")


def check_params(
    dataset_settings: MNIST1D | Adding | NpzFile | Series, param_names: Iterable[str]
) -> str | None:
    """Why a space with these hyperparameters cannot run on this data set (``"space.NAME: ..."``), or None."""
    names = set(param_names)
    for name in SERIES_PARAMS:
        if name in names and not isinstance(dataset_settings, Series):
            what = "the window length" if name == "window" else "stateful training over consecutive windows"
            return (
                f"space.{name}: sets {what} of a time series (dataset name: series), but dataset "
                f"{dataset_settings.name} has samples of a fixed length that follow no order; remove {name} "
                f"from space, or use a series data set"
            )
    if "class_weight" in names and dataset_settings.task != "classification":
        return (
            f"space.class_weight: weights the classes of a classification, but dataset {dataset_settings.name} is a "
            f"{dataset_settings.task}; remove class_weight from space"
        )
    return None


def check_metric(dataset_settings: MNIST1D | Adding | NpzFile | Series, metric: str) -> str | None:
    """Why the objective ``metric`` cannot be computed on this data set as far as its settings tell, or None.

    A binary metric (AUROC) on MNIST-1D needs ``positive_class``; on a user's file the classes are
    known once it is read (:func:`check_objective`).
    """
    if metric in BINARY_METRICS and isinstance(dataset_settings, MNIST1D) and dataset_settings.n_classes != 2:
        return (
            f"objective.metric: {metric} is defined for two classes, but mnist1d has {dataset_settings.n_classes}; "
            f"set dataset.positive_class to a digit (one against the rest), or use balanced_accuracy or macro_f1"
        )
    return None


def check_objective(data: Dataset | SeriesData, metric: str) -> None:
    """Raise :class:`DataError` when ``metric`` is undefined on ``data``'s validation or test split.

    A binary metric (AUROC) needs two classes, and both of them in the validation split and in the
    test split. ``data`` may also be a :class:`~experiments.series.SeriesData`: its windows of the
    settings' window are checked (a trial checks its own windows when it starts).
    """
    if metric not in BINARY_METRICS:
        return
    data = data.for_trial(LSTMConfig())
    fix = "use balanced_accuracy or macro_f1"
    if data.n_classes != 2:
        raise DataError(
            f"objective.metric: {metric} is defined for two classes (positive class 1), but the data set "
            f"{data.name!r} has {data.n_classes}; {fix}"
        )
    for split, labels in (("validation", data.y_val), ("test", data.y_test)):
        present = np.unique(labels)
        if len(present) < 2:
            raise DataError(
                f"dataset: the {split} split of {data.name!r} holds class {int(present[0])} only "
                f"({len(labels)} samples), so its {metric} is undefined; change the split (fractions, seed, "
                f"or more data), or {fix}"
            )


def check_config(data: Dataset | SeriesData, config: LSTMConfig) -> None:
    """Raise :class:`DataError` when ``data`` cannot serve a trial of ``config``: a series' window longer
    than a part of a series has room for. Cuts no window (cheap for every trial of a sweep)."""
    if isinstance(data, SeriesData):
        data.check_window(data.window_of(config))
