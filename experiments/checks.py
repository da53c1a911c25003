"""Whether a search space and an objective fit a data set, checked before a sweep starts.

Two levels: :func:`check_params` and :func:`check_metric` look at the settings alone (no data, no
file), for the spec; :func:`check_objective` and :func:`check_config` look at the loaded data, for
what the settings cannot tell (the classes of a user's file, the rows of each series), and raise
:class:`~experiments.errors.DataError`. ``train_trial`` runs the data checks on its own trial too,
before training; a sweep runs them on every trial's config once the data is loaded, before any trial.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.settings import BINARY_METRICS, MULTILABEL_METRICS, MNIST1D, Adding, NpzFile, Series

if TYPE_CHECKING:  # the data checks take loaded data; the settings checks (a spec's) import no numpy
    from experiments.series import SeriesData
    from experiments.splits import Dataset

#: hyperparameters that act on a series data set only
SERIES_PARAMS = ("window", "stateful")
#: objective metrics of a multi-label classification only
MULTILABEL_ONLY = MULTILABEL_METRICS - {"loss", "macro_f1"}
MULTILABEL_FIX = "use subset_accuracy (every label right), micro_f1, macro_f1 or macro_auroc"
SINGLE_LABEL_FIX = "use accuracy, balanced_accuracy or macro_f1 (auroc for two classes)"


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
    return _check_head_params(dataset_settings, names)


def _check_head_params(settings: MNIST1D | Adding | NpzFile | Series, names: set[str]) -> str | None:
    """binary_head, resample and static_input, as far as the settings tell (a file's classes, labels and static
    inputs are known once it is read: :func:`check_config`)."""
    multilabel = isinstance(settings, Series) and settings.multilabel
    if "binary_head" in names:
        what = (f"a {settings.task}" if settings.task != "classification" else "multi-label" if multilabel
                else f"{settings.n_classes} classes" if isinstance(settings, MNIST1D) and settings.n_classes != 2
                else None)
        if what is not None:
            fix = "set dataset.positive_class (one digit against the rest), or " if isinstance(settings, MNIST1D) else ""
            return (f"space.binary_head: chooses the head of a two-class problem (two logits with a softmax, or one "
                    f"with a sigmoid), but {_described(settings)} has {what}; {fix}remove binary_head from space")
    if "resample" in names and (settings.task != "classification" or multilabel):
        what = "is multi-label" if multilabel else f"is a {settings.task} (dataset.task: {settings.task})"
        fix = "; class_weight: balanced weighs each label (a pos_weight)" if multilabel else ""
        return (f"space.resample: over- or undersamples the classes of a classification of one label per sample, but "
                f"{_described(settings)} {what}; remove resample from space{fix}")
    if "static_input" in names:
        none = (isinstance(settings, (MNIST1D, Adding)) or isinstance(settings, Series) and not settings.static_columns)
        if none:
            fix = "list the columns in dataset.static, or " if isinstance(settings, Series) else ""
            return (f"space.static_input: switches a data set's static inputs on and off, but {_described(settings)} "
                    f"has none; {fix}remove static_input from space")
    return None


def _described(settings: MNIST1D | Adding | NpzFile | Series) -> str:
    """'dataset NAME', and the file of a user's data set."""
    path = getattr(settings, "path", None)
    return f"dataset {settings.name}" + (f" ('{path}')" if path is not None else "")


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
    multilabel = isinstance(dataset_settings, Series) and dataset_settings.multilabel
    if multilabel and metric not in MULTILABEL_METRICS:
        return (f"objective.metric: {metric} scores one class label per sample, but dataset.target lists "
                f"{len(dataset_settings.target_columns)} label columns (multi-label); {MULTILABEL_FIX}")
    one_label = isinstance(dataset_settings, MNIST1D) or isinstance(dataset_settings, Series) and not multilabel
    if one_label and metric in MULTILABEL_ONLY and dataset_settings.task == "classification":
        return (f"objective.metric: {metric} scores a multi-label classification, but dataset {dataset_settings.name} "
                f"has one class label per sample; {SINGLE_LABEL_FIX}")
    return None


def check_objective(data: Dataset | SeriesData, metric: str) -> None:
    """Raise :class:`DataError` when ``metric`` is undefined on ``data``'s validation or test split.

    A binary metric (AUROC) needs two classes, and both of them in the validation split and in the
    test split. A multi-label data set takes the multi-label metrics only; its F1s need a positive
    label in each of those splits, its macro AUROC a label with positives and negatives there (else
    they are 0 or undefined whatever a model predicts). ``data`` may also be a
    :class:`~experiments.series.SeriesData`: its windows of the settings' window are checked (a trial
    checks its own windows when it starts).
    """
    import numpy as np

    data = data.for_trial(LSTMConfig())
    if data.multilabel:
        _check_multilabel_objective(data, metric)
        return
    if metric in MULTILABEL_ONLY:
        raise DataError(f"objective.metric: {metric} scores a multi-label classification (y of shape (samples, "
                        f"labels)), but {data.name!r} has one class label per sample; {SINGLE_LABEL_FIX}{_file(data)}")
    if metric not in BINARY_METRICS:
        return
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


def _check_multilabel_objective(data: Dataset, metric: str) -> None:
    where = _file(data)
    if metric not in MULTILABEL_METRICS:
        raise DataError(f"objective.metric: {metric} scores one class label per sample, but {data.name!r} is "
                        f"multi-label ({data.n_labels} labels in {_target(data)}); {MULTILABEL_FIX}{where}")
    for split, labels in (("validation", data.y_val), ("test", data.y_test)):
        positives = labels.sum(axis=0)
        if metric in ("micro_f1", "macro_f1") and not positives.any():
            raise DataError(f"dataset: the {split} split of {data.name!r} has no positive label in any of its "
                            f"{len(labels)} samples, so its {metric} is 0 or undefined whatever a model predicts; "
                            f"change the split (fractions, seed, or more data), or use subset_accuracy{where}")
        if metric == "macro_auroc" and not ((positives > 0) & (positives < len(labels))).any():
            raise DataError(f"dataset: no label has both positives and negatives in the {split} split of "
                            f"{data.name!r} ({len(labels)} samples), so its macro_auroc is undefined; change the split "
                            f"(fractions, seed, or more data), or use macro_f1{where}")


def check_config(data: Dataset | SeriesData, config: LSTMConfig) -> None:
    """Raise :class:`DataError` when ``data`` cannot serve a trial of ``config``: a series' window longer
    than a part of a series has room for; a binary head on other than two classes; resampling of other
    than a classification of one label per sample; a static input switched where the data has none.
    Cuts no window (cheap for every trial of a sweep)."""
    if _is_series(data):
        data.check_window(data.window_of(config))
    where, target = _file(data), _target(data)
    kind = ("multi-label" if data.multilabel else f"a {data.task}" if data.task != "classification" else
            f"{data.n_classes} classes")
    if config.binary_head is not None and kind != "2 classes":
        raise DataError(f"space.binary_head: chooses the head of a two-class problem (two logits with a softmax, or "
                        f"one with a sigmoid), but {target} of {data.name!r} makes {kind}; remove binary_head from "
                        f"space{where}")
    if config.resample is not None and (data.multilabel or data.task != "classification"):
        fix = "; class_weight: balanced weighs each label (a pos_weight)" if data.multilabel else ""
        raise DataError(f"space.resample: over- or undersamples the classes of a classification of one label per "
                        f"sample, but {target} of {data.name!r} makes {kind}; remove resample from space{fix}{where}")
    if config.static_input is not None and not data.static_features:
        static = "dataset.static columns" if _is_series(data) else "array static"
        raise DataError(f"space.static_input: switches a data set's static inputs on and off, but {data.name!r} has "
                        f"no {static}; remove static_input from space, or add the static inputs{where}")


def _is_series(data: Dataset | SeriesData) -> bool:
    from experiments.series import SeriesData

    return isinstance(data, SeriesData)


def _file(data: Dataset | SeriesData) -> str:
    return f" (file: {data.source})" if data.source else ""


def _target(data: Dataset | SeriesData) -> str:
    """The targets as the user named them: the array y of an .npz, or the series' target column(s)."""
    if _is_series(data) or (data.source or "").lower().endswith((".csv", ".parquet", ".pq")):
        return "dataset.target"
    return "y"
