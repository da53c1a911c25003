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
from experiments.settings import MNIST1D, Adding, NpzFile, Series, Task
from experiments.splits import MAX_CLASSES, SPLIT_ARRAYS, Dataset

if TYPE_CHECKING:
    from experiments.series import SeriesData

#: largest ``.npz`` file :func:`load_dataset` reads (it is loaded whole into memory)
MAX_NPZ_BYTES = 4 * 2**30
#: fewest samples a ``.npz`` must hold to be split into train/validation/test
MIN_NPZ_SAMPLES = 10
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
        return _npz(settings, path.resolve(), stat.st_size, stat.st_mtime_ns)
    raise TypeError(f"unknown dataset settings {type(settings).__name__}")


def clear_dataset_cache() -> None:
    """Forget the data sets :func:`load_dataset` built in this process (frees their memory)."""
    for cached in (_mnist1d, _adding, _npz):
        cached.cache_clear()
    from experiments.series import clear_series_cache

    clear_series_cache()


def _seeded(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _split_indices(n: int, n_val: int, n_test: int, rng: np.random.Generator):
    perm = rng.permutation(n)
    return perm[n_val + n_test :], perm[:n_val], perm[n_val : n_val + n_test]


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
    train, val, _ = _split_indices(len(y), n_val, 0, _seeded(settings.seed, 1))
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
        _adding_draw(n, settings.length, _seeded(settings.seed, stream))
        for stream, n in enumerate((settings.train, settings.val, settings.test))
    ]
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    return Dataset("adding", "regression", 0, x_train, y_train, x_val, y_val, x_test, y_test)


@functools.lru_cache(maxsize=4)
def _npz(settings: NpzFile, path: Path, size: int, mtime_ns: int) -> Dataset:
    """Read and check a user's .npz (``path`` is resolved; ``size``/``mtime_ns`` only key the cache)."""
    x, y = _read_npz(path)
    where = f"(file: {settings.path})"
    x = _check_x(x, where)
    y, n_classes = _check_y(y, len(x), settings.task, where)

    n = len(y)
    n_val = max(1, round(n * settings.val_fraction))
    n_test = max(1, round(n * settings.test_fraction))
    if n - n_val - n_test < 1:
        raise DataError(
            f"dataset.val_fraction/test_fraction: {settings.val_fraction} and {settings.test_fraction} "
            f"of {n} samples leave no training sample ({n_val} validation, {n_test} test); "
            f"lower the fractions or bring more samples {where}"
        )
    train, val, test = _split_indices(n, n_val, n_test, _seeded(settings.seed, 0))
    return Dataset(
        name=path.stem,
        task=settings.task,
        n_classes=n_classes,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
    )


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The raw X and y of an .npz, refusing pickled (object) arrays."""
    how = "save it with np.savez(path, X=X, y=y)"
    with open(path, "rb") as f:
        is_npy = f.read(6) == b"\x93NUMPY"
    if not is_npy and not zipfile.is_zipfile(path):
        raise DataError(
            f"dataset.path: '{path}' is not an .npz archive (not a zip file: truncated, or another "
            f"format?); expected a zip of .npy arrays X and y; {how}"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"dataset.path: '{path}' is not a readable .npz archive ({e}); expected a zip of .npy "
            f"arrays X and y; {how}"
        ) from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"dataset.path: '{path}' holds a single .npy array, not an .npz archive; "
            f"expected arrays named X and y; {how}"
        )
    with archive:
        arrays = {}
        for key in ("X", "y"):
            if key not in archive.files:
                held = ", ".join(archive.files) or "no arrays"
                raise DataError(f"dataset {key}: missing from '{path}', which holds {held}; {how}")
            try:
                arrays[key] = archive[key]
            except ValueError as e:
                if "allow_pickle" not in str(e):
                    raise DataError(f"dataset {key}: cannot be read from '{path}' ({e}); {how}") from e
                raise DataError(
                    f"dataset {key}: is an object array stored with pickle, which is not loaded "
                    f"(unsafe); expected a numeric array; convert it before saving, e.g. "
                    f"{key}.astype(np.float32), or np.stack for a list of equal-length sequences "
                    f"(file: {path})"
                ) from e
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise DataError(f"dataset {key}: cannot be read from '{path}' (corrupt file? {e}); {how}") from e
            if not isinstance(arrays[key], np.ndarray):
                raise DataError(f"dataset {key}: cannot be read from '{path}': its member is not a .npy array; {how}")
    return arrays["X"], arrays["y"]


def _check_numeric(name: str, a: np.ndarray, where: str) -> None:
    if a.dtype.kind not in "biuf":
        raise DataError(
            f"dataset {name}: expected a numeric dtype (integer or float), got {a.dtype}; "
            f"convert it with {name}.astype(np.float32) before saving {where}"
        )


def _check_finite(name: str, a: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"dataset {name}: {int(bad.sum())} of {bad.size} values are NaN or infinite (as float32), the first at "
            f"index {first}; expected finite numbers; impute or drop those samples {where}"
        )


def _check_x(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim != 3:
        hint = "; for a univariate series add a feature axis: X = X[..., None]" if x.ndim == 2 else ""
        raise DataError(
            f"dataset X: expected 3 dimensions (samples, timesteps, features), got shape {x.shape}{hint} {where}"
        )
    _check_numeric("X", x, where)
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise DataError(
            f"dataset X: expected at least 1 timestep and 1 feature, got shape {x.shape} {where}"
        )
    if len(x) < MIN_NPZ_SAMPLES:
        raise DataError(
            f"dataset X: {len(x)} samples are too few to split into train/validation/test; expected "
            f"at least {MIN_NPZ_SAMPLES} {where}"
        )
    with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused just below
        x = x.astype(np.float32)
    _check_finite("X", x, where)
    return x


def _check_y(y: np.ndarray, n: int, task: Task, where: str) -> tuple[np.ndarray, int]:
    """Checked targets and the number of classes (0 for regression)."""
    if y.ndim != 1:
        raise DataError(
            f"dataset y: expected 1 dimension (samples,), got shape {y.shape}; flatten it with "
            f"y.reshape(-1) if it holds one target per sample {where}"
        )
    if len(y) != n:
        raise DataError(
            f"dataset y: has {len(y)} samples but X has {n}; expected one target per sample of X {where}"
        )
    _check_numeric("y", y, where)
    if task == "regression":
        with np.errstate(over="ignore"):
            y = y.astype(np.float32)
        _check_finite("y", y, where)
        return y, 0

    fix = "map them to 0..K-1 with np.unique(y, return_inverse=True)[1], or set dataset.task: regression"
    if y.dtype.kind == "f":
        _check_finite("y", y, where)
        fractional = y != np.round(y)
        if fractional.any():
            raise DataError(
                f"dataset y: classification labels must be integers, got {float(y[fractional][0])} among "
                f"others; {fix} {where}"
            )
    if y.min() < 0:
        raise DataError(
            f"dataset y: classification labels must be non-negative integers 0..K-1, got {y.min().item()}; "
            f"{fix} {where}"
        )
    n_classes = int(y.max()) + 1
    if n_classes < 2 or n_classes > MAX_CLASSES:
        raise DataError(
            f"dataset y: labels 0..{n_classes - 1} make {n_classes} class(es); expected 2 to {MAX_CLASSES}; "
            f"{fix} {where}"
        )
    return y.astype(np.int64), n_classes
