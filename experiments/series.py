"""The ``series`` data set: a table's series split in time, standardised, and cut into windows per trial.

:func:`load_series` reads the table (:mod:`experiments.table`), splits every series chronologically
into training, validation and test parts, fits the standardisation on the training parts and checks
everything a trial could trip on, before any training. The result, :class:`SeriesData`, holds the
standardised parts; :meth:`SeriesData.for_trial` cuts the windows a trial's config asks for (its
``window``, and ``stateful``) into a :class:`~experiments.splits.Dataset`, cached per process.

Stateless trials get every window with the data set's ``stride``; the trainable shuffles them.
Stateful trials get a :class:`StreamDataset`: in each part of each series, consecutive
non-overlapping windows (stride = window), all series' windows one after another, laid out as B
parallel streams with B = min(batch_size, windows of the split): stream i holds consecutive windows,
the first (windows mod B) streams one more than the others, and batch t is the t-th window of every
stream still running, so batch t+1's row i continues batch t's row i. ``keep_*`` is 0 where a window
starts a series (the trainable resets that row's state there), else 1.

A list of target columns makes each window's target the 0/1 labels of those columns (multi-label);
static columns give every window of a series that series' values, standardised over the training
rows of all series as the features are.
"""

from __future__ import annotations

import collections
import functools
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.splits import MAX_CLASSES, Dataset, Targets
from experiments.errors import DataError
from experiments.hyperparams import LSTMConfig
from experiments.settings import Series, Task
from experiments.table import SeriesTable, checked_path, read_series_table
from experiments.userdata import labels_vary_in_training, standardisation

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
#: window layouts kept per SeriesData and process (each holds its windows' copy of the data)
MAX_LAYOUTS = 8


@dataclass(frozen=True)
class SplitSeries:
    """One split's part of every series: standardised inputs (float32, (rows, features)) and targets
    (float32 standardised, int64 class labels, or float32 0/1 (rows, labels) of a multi-label target)."""

    inputs: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]

    def rows(self) -> list[int]:
        return [len(t) for t in self.targets]


@dataclass(frozen=True, eq=False)
class SeriesData(Targets):
    """A table of series, split in time and standardised with the training parts' statistics.

    ``feature_mean``/``feature_std`` (float64, per feature) and ``target_mean``/``target_std``
    (regression; 0 and 1 for classification) undo the standardisation: ``value * std + mean``.
    ``static``: float32 (series, static columns), standardised, or None; ``n_labels``: labels of a
    multi-label target (0 otherwise). Compared and hashed by identity, as :class:`~experiments.splits.Dataset`.
    """

    settings: Series
    name: str
    task: Task
    n_classes: int
    ids: tuple[str, ...]
    train: SplitSeries
    val: SplitSeries
    test: SplitSeries
    feature_mean: np.ndarray
    feature_std: np.ndarray
    target_mean: float
    target_std: float
    static: np.ndarray | None = None
    n_labels: int = 0

    @property
    def features(self) -> int:
        return len(self.settings.feature_columns)

    @property
    def static_features(self) -> int:
        return 0 if self.static is None else self.static.shape[1]

    @property
    def source(self) -> str:
        return str(self.settings.path)

    @property
    def max_window(self) -> int:
        """The longest window every part of every series has room for (with its target ``horizon`` on)."""
        return _max_window({split: getattr(self, split).rows() for split in SPLITS}, self.settings.horizon)

    def window_of(self, config: LSTMConfig) -> int:
        return config.window if config.window is not None else self.settings.window

    def check_window(self, window: int) -> None:
        """Raise :class:`DataError` unless every part of every series holds one ``window`` and its target."""
        _check_room({split: getattr(self, split).rows() for split in SPLITS}, self.ids, window, self.settings)

    def for_trial(self, config: LSTMConfig) -> Dataset:
        """The windows ``config`` trains on (its ``window``, ``stateful`` and ``batch_size``); cached."""
        window = self.window_of(config)
        self.check_window(window)
        key = (window, config.batch_size) if config.stateful else (window, None)
        layouts = _LAYOUTS.setdefault(self, collections.OrderedDict())
        if key in layouts:
            layouts.move_to_end(key)
        else:
            layouts[key] = self._stateful(window, config.batch_size) if config.stateful else self._stateless(window)
            if len(layouts) > MAX_LAYOUTS:
                layouts.popitem(last=False)
        return layouts[key]

    def _stateless(self, window: int) -> Dataset:
        arrays, statics = [], {}
        for split in SPLITS:
            x, y, _, series = self._windows(split, window, self.settings.stride)
            arrays += [x, y]
            statics[f"static_{split}"] = self._static(series)
        return Dataset(self.name, self.task, self.n_classes, *arrays, **self._extras(statics))

    def _stateful(self, window: int, batch_size: int) -> StreamDataset:
        arrays, streams, keeps, statics = [], [], [], {}
        for split in SPLITS:
            x, y, first, series = self._windows(split, window, window)
            b = min(batch_size, len(y))
            order = stream_order(len(y), b)
            arrays += [x[order], y[order]]
            streams.append(b)
            keeps.append((~first[order]).astype(np.float32))
            statics[f"static_{split}"] = self._static(series[order])
        return StreamDataset(self.name, self.task, self.n_classes, *arrays, *streams, *keeps, **self._extras(statics))

    def _static(self, series: np.ndarray) -> np.ndarray | None:
        """Each window's static inputs: its series' (``series``: the series index of each window)."""
        return None if self.static is None else np.ascontiguousarray(self.static[series])

    def _extras(self, statics: dict[str, np.ndarray | None]) -> dict[str, object]:
        return {**statics, "n_labels": self.n_labels, "source": self.source}

    def _windows(self, split: str, window: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All series' windows of one split, series after series: x, y, whether each starts its series, and
        the index of its series."""
        part: SplitSeries = getattr(self, split)
        cut = [cut_windows(x, y, window, stride, self.settings.horizon) for x, y in zip(part.inputs, part.targets)]
        first = np.concatenate([np.arange(len(y)) == 0 for _, y in cut])
        series = np.concatenate([np.full(len(y), i) for i, (_, y) in enumerate(cut)])
        return np.concatenate([x for x, _ in cut]), np.concatenate([y for _, y in cut]), first, series


@dataclass(frozen=True, eq=False)
class StreamDataset(Dataset):
    """A :class:`Dataset` of consecutive windows laid out as parallel streams (module docstring).

    ``streams_*``: B of each split (its batches' rows); ``keep_*``: float32 per window, 0 where the
    window starts a series (state reset to zero), else 1. Rows are in batch order: batch t of a split
    is rows ``t·B`` to ``(t+1)·B`` (the last batch may be shorter).
    """

    streams_train: int
    streams_val: int
    streams_test: int
    keep_train: np.ndarray
    keep_val: np.ndarray
    keep_test: np.ndarray

    def __post_init__(self) -> None:
        super().__post_init__()
        for keep in (self.keep_train, self.keep_val, self.keep_test):
            keep.setflags(write=False)


_LAYOUTS: weakref.WeakKeyDictionary[SeriesData, collections.OrderedDict] = weakref.WeakKeyDictionary()


def cut_windows(
    inputs: np.ndarray, targets: np.ndarray, window: int, stride: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows (m, window, features) of ``inputs`` starting every ``stride`` steps from the first, and
    the target ``horizon`` steps after each window's last step (windows without one are left out)."""
    last = np.arange(window - 1, len(targets) - horizon, stride)
    view = np.lib.stride_tricks.sliding_window_view(inputs, window, axis=0)  # (rows - window + 1, features, window)
    return np.ascontiguousarray(view[last - window + 1].transpose(0, 2, 1)), targets[last + horizon]


def stream_order(n: int, streams: int) -> np.ndarray:
    """Row order laying ``n`` consecutive windows out as ``streams`` parallel streams, batch by batch.

    Stream i holds consecutive windows (the first ``n % streams`` streams one more); batch t holds the
    t-th window of every stream that has one, in stream order.
    """
    length, extra = divmod(n, streams)
    lengths = np.full(streams, length)
    lengths[:extra] += 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    step = np.arange(lengths[0])[:, None]
    return (starts[None, :] + step)[step < lengths[None, :]]


def load_series(settings: Series) -> SeriesData:
    """Read, split, standardise and check the series ``settings`` describe; cached per file version."""
    path = checked_path(settings)
    stat = path.stat()
    return _load(settings, path.resolve(), stat.st_size, stat.st_mtime_ns)


def clear_series_cache() -> None:
    _load.cache_clear()


@functools.lru_cache(maxsize=4)
def _load(settings: Series, path: Path, size: int, mtime_ns: int) -> SeriesData:
    """``size``/``mtime_ns`` only key the cache, so an edited file is read again."""
    table = read_series_table(settings)
    where = f"(file: {settings.path})"
    parts = _split_in_time(table, settings)
    _check_room({split: [len(y) for y in parts[split][1]] for split in SPLITS}, table.ids, settings.window, settings)
    mean, std = _standardisation(np.concatenate(parts["train"][0]), settings.feature_columns, "features", where)
    n_labels = 0
    if settings.task == "regression":
        train_targets = np.concatenate(parts["train"][1])[:, None]
        (target_mean,), (target_std,) = _standardisation(train_targets, (settings.target,), "target", where)
        n_classes = 0
    elif settings.multilabel:
        target_mean, target_std, n_classes = 0.0, 1.0, 0
        n_labels = _check_multilabel(parts, settings, where)
    else:
        target_mean, target_std = 0.0, 1.0
        n_classes = _check_labels(parts, settings, where)

    def split_series(split: str) -> SplitSeries:
        inputs = tuple(((x - mean) / std).astype(np.float32) for x in parts[split][0])
        if settings.task == "regression":
            targets = tuple(((y - target_mean) / target_std).astype(np.float32) for y in parts[split][1])
        elif settings.multilabel:
            targets = tuple(y.astype(np.float32) for y in parts[split][1])
        else:
            targets = tuple(y.astype(np.int64) for y in parts[split][1])
        return SplitSeries(inputs, targets)

    return SeriesData(settings, path.stem, settings.task, n_classes, table.ids, split_series("train"),
                      split_series("val"), split_series("test"), mean, std, float(target_mean), float(target_std),
                      _standardised_static(table, parts, settings, where), n_labels)


def _split_in_time(table: SeriesTable, settings: Series) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """Split → (inputs, targets) of each series: its first rows train, the next validate, the last test."""
    parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {split: ([], []) for split in SPLITS}
    for inputs, targets in zip(table.inputs, table.targets):
        n = len(targets)
        n_test, n_val = round(n * settings.test_fraction), round(n * settings.val_fraction)
        n_train = n - n_val - n_test
        bounds = {"train": slice(0, n_train), "val": slice(n_train, n_train + n_val), "test": slice(n - n_test, n)}
        for split, rows in bounds.items():
            parts[split][0].append(inputs[rows])
            parts[split][1].append(targets[rows])
    return parts


def _max_window(rows: dict[str, list[int]], horizon: int) -> int:
    return min(min(counts) for counts in rows.values()) - horizon


def _check_room(rows: dict[str, list[int]], ids: tuple[str, ...], window: int, settings: Series) -> None:
    """Raise :class:`DataError` unless every part of every series (``rows``: split → rows per series)
    holds one ``window`` and its target ``horizon`` steps on."""
    horizon, where = settings.horizon, f"(file: {settings.path})"
    parts = [(split, series, count) for split in SPLITS for series, count in zip(ids, rows[split])]
    for least, field in ((horizon + 1, "horizon"), (window + horizon, "window")):
        short = [(split, series, count) for split, series, count in parts if count < least]
        if not short:
            continue
        split, series, count = short[0]
        part = f"the {SPLIT_NAMES[split]} part of {_series(series)} has {count} rows of {settings.target!r}"
        if field == "horizon":
            raise DataError(
                f"dataset.horizon: {horizon} steps reach past the end of every window: {part}; lower horizon, "
                f"raise that split's fraction, or bring longer series {where}"
            )
        raise DataError(
            f"dataset.window: {part}, too few for one window of {window} steps and its target {horizon} step(s) "
            f"on ({window + horizon} rows); use windows of at most {_max_window(rows, horizon)} steps, raise "
            f"that split's fraction, or bring longer series {where}"
        )


def _standardisation(values: np.ndarray, columns: tuple[str, ...], field: str, where: str):
    """Mean and standard deviation per column of the training rows; refuses a constant column."""
    return standardisation(values, [f"column {c!r}" for c in columns], f"dataset.{field}",
                           "the training part of every series", f"leave it out of dataset.{field}, or bring data "
                           f"where it varies", where)


def _standardised_static(table: SeriesTable, parts: dict, settings: Series, where: str) -> np.ndarray | None:
    """Each series' static values, standardised over the training rows of all series (float32), or None."""
    if not settings.static_columns:
        return None
    statics = np.stack(table.statics)
    train_rows = [len(y) for y in parts["train"][1]]
    mean, std = _standardisation(np.repeat(statics, train_rows, axis=0), settings.static_columns, "static", where)
    return ((statics - mean) / std).astype(np.float32)


def _check_multilabel(parts: dict, settings: Series, where: str) -> int:
    """Multi-label targets (0/1, checked as the table was read): each label varies in the training part;
    returns the number of labels."""
    columns = settings.target_columns
    labels_vary_in_training(np.concatenate(parts["train"][1]), lambda j: f"column {columns[j]!r}", "dataset.target",
                            where)
    return len(columns)


def _check_labels(parts: dict, settings: Series, where: str) -> int:
    """Classification labels: integers 0..K-1 with two or more classes in the training part; returns K."""
    labels = np.concatenate([y for split in SPLITS for y in parts[split][1]])
    column, fix = settings.target, "map them to 0..K-1, or set dataset.task: regression"
    fractional = labels != np.round(labels)
    if fractional.any():
        raise DataError(
            f"dataset.target: column {column!r} holds classification labels, which must be integers; got "
            f"{labels[fractional][0]} among others; {fix} {where}"
        )
    if labels.min() < 0 or labels.max() >= MAX_CLASSES:
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise DataError(
            f"dataset.target: column {column!r} holds classification labels, which must be integers 0..K-1 with "
            f"K <= {MAX_CLASSES}; got {bad:g}; {fix} {where}"
        )
    trained = np.unique(np.concatenate(parts["train"][1]))
    if len(trained) < 2:
        raise DataError(
            f"dataset.target: column {column!r} has one class only ({trained[0]:g}) in the training part of every "
            f"series; expected two or more classes to learn; lower val_fraction/test_fraction or bring data "
            f"with other labels early in the series {where}"
        )
    return int(labels.max()) + 1


def _series(series_id: str) -> str:
    return "the series" if series_id == "" else f"series {series_id!r}"
