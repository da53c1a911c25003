"""The data sets a trial trains on: MNIST-1D, the adding problem and a user's ``.npz``, as numpy arrays.

:func:`load_dataset` turns dataset settings into a :class:`~experiments.splits.Dataset` with fixed train/validation/test
splits; a table of time series, into a :class:`~experiments.series.SeriesData`, which cuts each
trial's windows (:meth:`Dataset.for_trial`). It is cached per process, so a worker that runs many
trials builds or reads the data once; with a ``cache_dir``, MNIST-1D (seconds to generate) is also
kept on disk, so no later process generates it again. ``positive_class`` turns MNIST-1D into one
digit against the rest (labels 1 and 0). No torch here: the trainable moves the arrays to tensors.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from experiments.errors import DataError
from experiments.settings import MNIST1D, Adding, NpzFile, Series
from experiments.splits import SPLIT_ARRAYS, Dataset, seeded_rng, split_indices

if TYPE_CHECKING:
    from experiments.series import SeriesData

#: largest ``.npz`` file :func:`load_dataset` reads (it is loaded whole into memory)
MAX_NPZ_BYTES = 4 * 2**30
#: changes when the layout of :func:`load_dataset`'s cache files changes (old files are then ignored)
CACHE_FORMAT = 1


def load_dataset(
    settings: MNIST1D | Adding | NpzFile | Series, cache_dir: Path | None = None
) -> Dataset | SeriesData:
    """Build or read the data set ``settings`` describe; cached per process.

    A ``.npz`` is cached by path, size and modification time, so an edited file is read again.
    ``cache_dir``: where a generated MNIST-1D is kept between processes, keyed by its settings and
    the generator's version (an unreadable file is generated again and replaced).
    A table of series is cached as a ``.npz`` is (:func:`experiments.series.load_series`).
    Raises :class:`~experiments.errors.DataError` for a missing or malformed ``.npz`` or table.
    """
    if isinstance(settings, MNIST1D):
        return _mnist1d(settings, cache_dir)
    if isinstance(settings, Series):
        from experiments.series import load_series

        return load_series(settings)
    if isinstance(settings, Adding):
        return _adding(settings)
    if isinstance(settings, NpzFile):
        path = Path(settings.path)
        if not path.is_file():
            raise DataError(
                f"dataset.path: no file at '{path}' (resolved: '{path.resolve()}'); expected an .npz "
                f"with arrays X and y, e.g. saved by np.savez(path, X=X, y=y); check the path"
            )
        stat = path.stat()
        if stat.st_size > MAX_NPZ_BYTES:
            raise DataError(
                f"dataset.path: '{path}' is {stat.st_size / 2**30:.1f} GiB, above the "
                f"{MAX_NPZ_BYTES / 2**30:.0f} GiB limit for an .npz (it is loaded whole into every "
                f"worker's memory); subsample it or store X as float32"
            )
        from experiments.npzfile import read_npz

        return read_npz(settings, path.resolve(), stat.st_size, stat.st_mtime_ns)
    raise TypeError(f"unknown dataset settings {type(settings).__name__}")


def clear_dataset_cache() -> None:
    """Forget the data sets :func:`load_dataset` built in this process (frees their memory)."""
    for cached in (_mnist1d, _adding):
        cached.cache_clear()
    from experiments.npzfile import clear_npz_cache
    from experiments.series import clear_series_cache

    clear_npz_cache()
    clear_series_cache()


@functools.lru_cache(maxsize=4)
def _mnist1d(settings: MNIST1D, cache_dir: Path | None) -> Dataset:
    if settings.positive_class is not None:
        ten_classes = _mnist1d(settings.model_copy(update={"positive_class": None}), cache_dir)
        return _one_against_rest(ten_classes, settings.positive_class)
    if cache_dir is None:
        return _generate_mnist1d(settings)
    key = f"{settings.model_dump_json(exclude={'positive_class'})} mnist1d {version('mnist1d')} format {CACHE_FORMAT}"
    path = cache_dir / f"mnist1d-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            return Dataset("mnist1d", "classification", 10, **{name: archive[name] for name in SPLIT_ARRAYS})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # absent, or unreadable (a write cut short): generate it again
    data = _generate_mnist1d(settings)
    _write_atomically(path, {name: getattr(data, name) for name in SPLIT_ARRAYS})
    return data


def _one_against_rest(data: Dataset, positive: int) -> Dataset:
    """``data`` with labels 1 for class ``positive`` and 0 for every other class (binary)."""
    labels = {name: (getattr(data, name) == positive).astype(np.int64) for name in ("y_train", "y_val", "y_test")}
    return Dataset(f"{data.name}-{positive}-vs-rest", data.task, 2, data.x_train, labels["y_train"], data.x_val,
                   labels["y_val"], data.x_test, labels["y_test"])


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to a temporary file beside ``path``, then renamed: readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _generate_mnist1d(settings: MNIST1D) -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset  # heavy: imports matplotlib

    args = get_dataset_args()
    args.num_samples = settings.samples
    args.seed = settings.seed
    # make_dataset seeds the global `random` and `np.random`; leave the caller's streams untouched.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        raw = make_dataset(args)  # never get_dataset: it downloads
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    x = raw["x"].astype(np.float32)[..., None]
    y = raw["y"].astype(np.int64)
    n_val = max(1, round(len(y) * settings.val_fraction))
    train, val, _ = split_indices(len(y), n_val, 0, seeded_rng(settings.seed, 1))
    return Dataset(
        name="mnist1d",
        task="classification",
        n_classes=10,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=raw["x_test"].astype(np.float32)[..., None],
        y_test=raw["y_test"].astype(np.int64),
    )


def _adding_draw(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of (value ~ U(0,1), marker); one marker in each half; target = sum of the marked values."""
    values = rng.random((n, length), dtype=np.float32)
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    markers = np.zeros((n, length), dtype=np.float32)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), y.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _adding(settings: Adding) -> Dataset:
    splits = [
        _adding_draw(n, settings.length, seeded_rng(settings.seed, stream))
        for stream, n in enumerate((settings.train, settings.val, settings.test))
    ]
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    return Dataset("adding", "regression", 0, x_train, y_train, x_val, y_val, x_test, y_test)
