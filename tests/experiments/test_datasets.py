"""experiments.datasets: shapes, splits, determinism, and a clear DataError for every bad .npz."""

import random
import zipfile

import numpy as np
import pytest

from experiments import datasets
from experiments.splits import SplitSizes
from experiments.datasets import clear_dataset_cache, load_dataset
from experiments.settings import MNIST1D, Adding, NpzFile
from experiments.errors import DataError


def _fresh(settings):
    clear_dataset_cache()
    return load_dataset(settings)


def test_mnist1d_shapes_sizes_and_labels():
    data = load_dataset(MNIST1D(samples=500))
    assert data.task == "classification" and data.n_classes == 10 and data.n_outputs == 10
    assert (data.timesteps, data.features) == (40, 1)
    assert data.sizes == SplitSizes(train=320, val=80, test=100)  # 80% train+val, 20% of it val
    for x, y in [(data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)]:
        assert x.dtype == np.float32 and x.shape[1:] == (40, 1) and len(x) == len(y)
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() <= 9
    assert len(np.unique(data.y_train)) == 10


def test_mnist1d_is_deterministic_cached_and_leaves_global_rngs_alone():
    settings = MNIST1D(samples=300, seed=3)
    np.random.seed(123)
    random.seed(123)
    first = _fresh(settings)
    assert (np.random.random(), random.random()) == (np.random.RandomState(123).random_sample(), random.Random(123).random())
    assert load_dataset(settings) is first  # cached
    again = _fresh(settings)
    assert again is not first
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_val, again.y_val)
    other = load_dataset(MNIST1D(samples=300, seed=4))
    assert not np.array_equal(first.x_train, other.x_train)


def test_mnist1d_is_kept_on_disk_and_read_back_by_a_later_process(tmp_path, monkeypatch):
    settings = MNIST1D(samples=300, seed=3)
    built = _fresh(settings)
    _fresh_in(settings, tmp_path)  # generated, then written
    _fresh_in(MNIST1D(samples=300, seed=4), tmp_path)  # other settings: another file
    assert len(list(tmp_path.glob("mnist1d-*.npz"))) == 2
    monkeypatch.setattr("mnist1d.data.make_dataset", lambda args: pytest.fail("generated again"))
    read = _fresh_in(settings, tmp_path)  # as in a new process: nothing in memory
    for name in datasets.SPLIT_ARRAYS:
        np.testing.assert_array_equal(getattr(read, name), getattr(built, name))
        assert getattr(read, name).dtype == getattr(built, name).dtype and not getattr(read, name).flags.writeable
    assert read.sizes == built.sizes and read.n_classes == 10


def test_an_unreadable_cache_file_is_generated_again(tmp_path):
    settings = MNIST1D(samples=200)
    good = _fresh_in(settings, tmp_path)
    (path,) = tmp_path.glob("mnist1d-*.npz")
    path.write_bytes(path.read_bytes()[:100])  # a write cut short
    again = _fresh_in(settings, tmp_path)
    np.testing.assert_array_equal(again.x_train, good.x_train)
    assert np.load(path)["x_train"].shape == good.x_train.shape  # replaced by a whole file
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def _fresh_in(settings, cache_dir):
    clear_dataset_cache()
    return load_dataset(settings, cache_dir)


def test_arrays_are_read_only():
    data = load_dataset(Adding(length=10, train=20, val=10, test=10))
    with pytest.raises(ValueError):
        data.x_train[0, 0, 0] = 1.0


def test_adding_problem():
    data = load_dataset(Adding(length=21, train=200, val=50, test=60, seed=1))
    assert data.task == "regression" and data.n_classes == 0 and data.n_outputs == 1
    assert data.sizes == SplitSizes(200, 50, 60)
    assert (data.timesteps, data.features) == (21, 2)
    for x, y in [(data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)]:
        assert x.dtype == np.float32 and y.dtype == np.float32
        values, markers = x[..., 0], x[..., 1]
        assert values.min() >= 0 and values.max() < 1
        assert np.all(markers.sum(axis=1) == 2)
        assert np.all(markers[:, :10].sum(axis=1) == 1)  # one marker in each half
        np.testing.assert_allclose(y, (values * markers).sum(axis=1), rtol=1e-6)
    assert not np.array_equal(data.x_val, data.x_test[:50])
    again = _fresh(Adding(length=21, train=200, val=50, test=60, seed=1))
    np.testing.assert_array_equal(data.x_test, again.x_test)


def _save(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_npz_split_is_disjoint_complete_and_seeded(tmp_path):
    n = 100
    x = np.arange(n, dtype=np.float64).reshape(n, 1, 1) * np.ones((1, 5, 2))
    y = np.arange(n) % 3
    path = _save(tmp_path, X=x, y=y)
    data = load_dataset(NpzFile(path=path, val_fraction=0.2, test_fraction=0.1, seed=5))
    assert data.sizes == SplitSizes(70, 20, 10)
    assert data.n_classes == 3 and data.y_train.dtype == np.int64 and data.x_train.dtype == np.float32
    ids = np.concatenate([data.x_train[:, 0, 0], data.x_val[:, 0, 0], data.x_test[:, 0, 0]])
    assert sorted(ids) == list(range(n))
    np.testing.assert_array_equal(data.y_val, data.x_val[:, 0, 0].astype(int) % 3)  # labels follow their rows
    again = _fresh(NpzFile(path=path, val_fraction=0.2, test_fraction=0.1, seed=5))
    np.testing.assert_array_equal(data.x_val, again.x_val)
    other = load_dataset(NpzFile(path=path, val_fraction=0.2, test_fraction=0.1, seed=6))
    assert not np.array_equal(data.x_val, other.x_val)


def test_npz_regression_and_integral_float_labels(tmp_path):
    x = np.random.default_rng(0).random((30, 4, 1))
    reg = load_dataset(NpzFile(path=_save(tmp_path, "r.npz", X=x, y=np.linspace(0, 1, 30)), task="regression"))
    assert reg.n_classes == 0 and reg.y_train.dtype == np.float32
    cls = load_dataset(NpzFile(path=_save(tmp_path, "c.npz", X=x, y=np.arange(30.0) % 4)))
    assert cls.n_classes == 4 and cls.y_test.dtype == np.int64


def test_npz_is_read_again_when_the_file_changes(tmp_path):
    x = np.zeros((20, 3, 1))
    path = _save(tmp_path, X=x, y=np.arange(20) % 2)
    first = load_dataset(NpzFile(path=path))
    _save(tmp_path, X=np.zeros((40, 3, 1)), y=np.arange(40) % 2)
    assert sum(load_dataset(NpzFile(path=path)).sizes.__dict__.values()) == 40 != sum(first.sizes.__dict__.values())


GOOD_X = np.zeros((20, 5, 1))
GOOD_Y = np.arange(20) % 2


def _write_bad(tmp_path, case):
    path = tmp_path / "bad.npz"
    if case == "missing":
        return tmp_path / "nowhere.npz"
    if case == "corrupt":
        path.write_bytes(b"this is not a zip file at all" * 10)
    elif case == "truncated":
        np.savez(path, X=GOOD_X, y=GOOD_Y)
        path.write_bytes(path.read_bytes()[:200])
    elif case == "npy":
        with open(path, "wb") as f:
            np.save(f, GOOD_X)
    elif case == "not_npy_member":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("X.npy", b"garbage")
            z.writestr("y.npy", b"garbage")
    elif case == "object_X":
        np.savez(path, X=np.array([np.zeros(3), np.zeros(4)], dtype=object), y=GOOD_Y[:2])
    else:
        arrays = {
            "missing_X": dict(y=GOOD_Y, Z=GOOD_X),
            "missing_y": dict(X=GOOD_X),
            "X_2d": dict(X=GOOD_X[..., 0], y=GOOD_Y),
            "X_4d": dict(X=GOOD_X[..., None], y=GOOD_Y),
            "X_strings": dict(X=np.full((20, 5, 1), "a"), y=GOOD_Y),
            "X_complex": dict(X=GOOD_X.astype(complex), y=GOOD_Y),
            "X_nan": dict(X=np.where(np.arange(100).reshape(20, 5, 1) == 7, np.nan, 0.0), y=GOOD_Y),
            "X_overflow": dict(X=np.full((20, 5, 1), 1e300), y=GOOD_Y),
            "X_no_timesteps": dict(X=np.zeros((20, 0, 1)), y=GOOD_Y),
            "y_2d": dict(X=GOOD_X, y=GOOD_Y[:, None]),
            "y_length": dict(X=GOOD_X, y=GOOD_Y[:19]),
            "y_strings": dict(X=GOOD_X, y=np.array(["cat"] * 20)),
            "y_negative": dict(X=GOOD_X, y=GOOD_Y - 1),
            "y_fractional": dict(X=GOOD_X, y=GOOD_Y + 0.5),
            "y_nan": dict(X=GOOD_X, y=np.where(GOOD_Y == 1, np.nan, 0.0)),
            "y_one_class": dict(X=GOOD_X, y=np.zeros(20, dtype=int)),
            "too_few": dict(X=GOOD_X[:9], y=GOOD_Y[:9]),
        }[case]
        np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "case, field, says",
    [
        ("missing", "dataset.path", "no file"),
        ("corrupt", "dataset.path", "not a zip file"),
        ("truncated", "dataset.path", "not a zip file"),
        ("npy", "dataset.path", "single .npy array"),
        ("not_npy_member", "dataset X", "cannot be read"),
        ("object_X", "dataset X", "pickle"),
        ("missing_X", "dataset X", "missing"),
        ("missing_y", "dataset y", "missing"),
        ("X_2d", "dataset X", "X[..., None]"),
        ("X_4d", "dataset X", "3 dimensions"),
        ("X_strings", "dataset X", "numeric dtype"),
        ("X_complex", "dataset X", "numeric dtype"),
        ("X_nan", "dataset X", "NaN or infinite"),
        ("X_overflow", "dataset X", "NaN or infinite"),
        ("X_no_timesteps", "dataset X", "at least 1 timestep"),
        ("y_2d", "dataset y", "1 dimension"),
        ("y_length", "dataset y", "19 samples but X has 20"),
        ("y_strings", "dataset y", "numeric dtype"),
        ("y_negative", "dataset y", "non-negative"),
        ("y_fractional", "dataset y", "integers"),
        ("y_nan", "dataset y", "NaN or infinite"),
        ("y_one_class", "dataset y", "expected 2 to"),
        ("too_few", "dataset X", "too few"),
    ],
)
def test_npz_errors_name_the_field(tmp_path, case, field, says):
    with pytest.raises(DataError) as err:
        load_dataset(NpzFile(path=_write_bad(tmp_path, case)))
    message = str(err.value)
    assert message.startswith(field + ":"), message
    assert says in message, message


def test_npz_fractions_that_leave_no_training_sample(tmp_path):
    path = _save(tmp_path, X=np.zeros((10, 2, 1)), y=np.arange(10) % 2)
    with pytest.raises(DataError, match=r"^dataset.val_fraction/test_fraction: .* leave no training sample"):
        load_dataset(NpzFile(path=path, val_fraction=0.55, test_fraction=0.44))


def test_npz_size_limit(tmp_path, monkeypatch):
    path = _save(tmp_path, X=GOOD_X, y=GOOD_Y)
    monkeypatch.setattr(datasets, "MAX_NPZ_BYTES", 100)
    with pytest.raises(DataError, match=r"^dataset.path: .* above the .* limit"):
        load_dataset(NpzFile(path=path))
