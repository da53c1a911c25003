"""What one trial costs, before a sweep: parameters and training memory, from a config and dataset settings.

:func:`trial_cost` needs the data set's shape (timesteps, features, outputs), which
:func:`data_shape` reads from the settings without generating or loading the data: MNIST-1D and the
adding problem by definition, an ``.npz`` from its arrays' headers (and its labels, for the number of
classes; a multi-label ``y``'s and ``static``'s widths from their headers), a table of series from the
settings (and its target column, for the number of classes).
No torch: this runs where a sweep is planned (``searchsvc validate``).
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.settings import MNIST1D, Adding, NpzFile, Series
from experiments.sizing import estimate_training_memory, param_count

#: MNIST-1D's fixed shape: 40 timesteps of 1 feature
MNIST1D_TIMESTEPS = 40


@dataclass(frozen=True)
class DataShape:
    """What the model sees of a data set: window length, input width, head width and static inputs."""

    timesteps: int
    features: int
    outputs: int  # classes (classification), labels (multi-label) or 1 (regression)
    static: int = 0  # static inputs per sample, read by the head


@dataclass(frozen=True)
class TrialCost:
    """Size of one trial's model and its estimated peak training memory (bytes, float32, CPU).

    ``memory_bytes`` = weights + gradients + optimizer state + activations
    (:func:`experiments.sizing.estimate_training_memory`); the data set itself is not included.
    """

    param_count: int
    memory_bytes: int
    weights_bytes: int
    gradients_bytes: int
    optimizer_state_bytes: int
    activations_bytes: int
    shape: DataShape


def trial_cost(config: LSTMConfig, dataset_settings: MNIST1D | Adding | NpzFile | Series) -> TrialCost:
    """The cost of training ``config`` on the data set ``dataset_settings`` describe.

    Batches of ``config.batch_size`` rows: an upper bound for a stateful trial, whose batches have
    min(batch_size, windows) rows. A series' window is ``config.window``, else the settings' window.
    Raises :class:`~experiments.errors.DataError` when a file it must read is missing or malformed.
    """
    shape = data_shape(dataset_settings, config.window)
    memory = estimate_training_memory(config, shape.features, shape.outputs, shape.timesteps, config.batch_size,
                                      shape.static)
    return TrialCost(
        param_count=param_count(config, shape.features, shape.outputs, shape.static),
        memory_bytes=memory.total,
        weights_bytes=memory.weights,
        gradients_bytes=memory.gradients,
        optimizer_state_bytes=memory.optimizer_state,
        activations_bytes=memory.activations,
        shape=shape,
    )


def data_shape(settings: MNIST1D | Adding | NpzFile | Series, window: int | None = None) -> DataShape:
    """The shape of the data set ``settings`` describe; ``window`` overrides a series' window."""
    if isinstance(settings, MNIST1D):
        return DataShape(MNIST1D_TIMESTEPS, 1, settings.n_classes)
    if isinstance(settings, Adding):
        return DataShape(settings.length, 2, 1)
    if isinstance(settings, NpzFile):
        path = _existing(Path(settings.path), "an .npz with arrays X and y (and optionally static)")
        stat = path.stat()
        return _npz_shape(path.resolve(), settings.task, stat.st_size, stat.st_mtime_ns)
    if isinstance(settings, Series):
        outputs = len(settings.target_columns) if settings.multilabel else 1
        if settings.task == "classification" and not settings.multilabel:
            from experiments.table import checked_path

            path = checked_path(settings)
            stat = path.stat()
            outputs = _series_classes(settings, stat.st_size, stat.st_mtime_ns)
        return DataShape(window or settings.window, len(settings.feature_columns), outputs, len(settings.static_columns))
    raise TypeError(f"unknown dataset settings {type(settings).__name__}")


def _existing(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise DataError(f"dataset.path: no file at '{path}' (resolved: '{path.resolve()}'); expected {expected}; "
                        f"check the path")
    return path


@functools.lru_cache(maxsize=16)
def _npz_shape(path: Path, task: str, size: int, mtime_ns: int) -> DataShape:
    """``size``/``mtime_ns`` only key the cache."""
    fix = "check it loads with np.load, or run `searchsvc validate` on the data"
    y = None
    try:
        with zipfile.ZipFile(path) as archive:
            x_shape, y_shape = _member_shape(archive, "X.npy"), _member_shape(archive, "y.npy")
            static_shape = _member_shape(archive, "static.npy") if "static.npy" in archive.namelist() else None
            if task == "classification" and len(y_shape) == 1:
                with archive.open("y.npy") as f:
                    y = np.load(f, allow_pickle=False)
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"dataset.path: cannot read the shapes of X and y in '{path}' ({e}); {fix}") from e
    if len(x_shape) != 3:
        raise DataError(f"dataset X: expected 3 dimensions (samples, timesteps, features), got shape {x_shape} "
                        f"(file: {path})")
    outputs = 1
    if task == "classification":
        outputs = y_shape[1] if len(y_shape) == 2 else int(y.max()) + 1 if y is not None and y.size else 1
    static = static_shape[1] if static_shape is not None and len(static_shape) == 2 else 0
    return DataShape(x_shape[1], x_shape[2], outputs, static)


def _member_shape(archive: zipfile.ZipFile, name: str) -> tuple[int, ...]:
    """The shape in a ``.npy`` member's header, reading only the header."""
    with archive.open(name) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)[0]
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)[0]
    with archive.open(name) as f:  # another header version: read the array
        return np.load(f, allow_pickle=False).shape


@functools.lru_cache(maxsize=16)
def _series_classes(settings: Series, size: int, mtime_ns: int) -> int:
    """Classes of a series' labels: 1 + the largest label of the target column."""
    from experiments.table import read_target

    labels = read_target(settings)
    return int(labels.max()) + 1 if labels.size else 1
