"""Reading the table of a ``series`` data set (CSV or Parquet): the columns it names, checked, per series.

Every problem is a :class:`~experiments.errors.DataError` naming the setting, the column and the
file, what was expected and how to fix it. pandas and pyarrow are imported when a table is read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.errors import DataError
from experiments.settings import Series
from experiments.userdata import binary_labels

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)


@dataclass(frozen=True)
class SeriesTable:
    """The named columns of a table, one entry per series (in order of first appearance), sorted by time."""

    ids: tuple[str, ...]  # each series' value of the id column; ("",) for a table of one series
    inputs: tuple[np.ndarray, ...]  # float64 (rows, features), the feature columns in settings order
    targets: tuple[np.ndarray, ...]  # float64 (rows,), the target column; (rows, labels) for several
    statics: tuple[np.ndarray, ...] = ()  # float64 (static columns,), each series' values of the static columns


def checked_path(settings: Series) -> Path:
    """The table's path, once it exists and has a known suffix."""
    path = Path(settings.path)
    if not path.is_file():
        raise DataError(
            f"dataset.path: no file at '{path}' (resolved: '{path.resolve()}'); expected a CSV or Parquet "
            f"table with the columns {', '.join(dict.fromkeys(c for _, c in _needed(settings)))}; check the path"
        )
    if path.suffix.lower() not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise DataError(
            f"dataset.path: '{path}' ends in {path.suffix or 'no suffix'!r}; expected a table named "
            f"*.csv, or *.parquet / *.pq for Parquet; rename or convert the file"
        )
    return path


def table_columns(path: Path) -> list[str]:
    """The column names of a CSV's header or a Parquet file's schema, without reading the rows."""
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as e:  # pyarrow's errors are ValueErrors
        raise DataError(f"dataset.path: cannot read '{path}' ({type(e).__name__}: {e}); {_fix(path)}") from e
    if not header:
        raise DataError(f"dataset.path: '{path}' is empty; expected a UTF-8 CSV whose first row names the columns")
    return header


def read_series_table(settings: Series) -> SeriesTable:
    """Read and check the columns ``settings`` name; split the rows into series, each sorted by time."""
    frame, path = _read_named(settings, _needed(settings))
    where = f"(file: {path})"
    n = len(frame)
    if n == 0:
        raise DataError(f"dataset.path: '{path}' has a header but no rows; expected one row per time step")
    targets, static = settings.target_columns, settings.static_columns
    numbers = {c: _numeric(frame, c, "target" if c in targets else "static" if c in static else "features", where)
               for c in dict.fromkeys(settings.feature_columns + targets + static)}
    groups = [np.arange(n)] if settings.id is None else _groups(frame[settings.id], settings.id, where)
    if settings.time is not None:
        groups = [_sorted_by_time(frame[settings.time].to_numpy()[rows], rows, settings, frame, where) for rows in groups]
    ids = ("",) if settings.id is None else tuple(str(frame[settings.id].iloc[rows[0]]) for rows in groups)
    inputs = np.stack([numbers[c] for c in settings.feature_columns], axis=1)
    if settings.multilabel:
        target = binary_labels(np.stack([numbers[c] for c in targets], axis=1), lambda j: f"column {targets[j]!r}",
                               "dataset.target", "data row", where, base=1)
    else:
        target = numbers[settings.target]
    statics = tuple(_one_per_series(numbers, static, rows, settings, frame, where) for rows in groups) if static else ()
    return SeriesTable(ids, tuple(inputs[rows] for rows in groups), tuple(target[rows] for rows in groups), statics)


def _one_per_series(numbers: dict, columns: tuple[str, ...], rows: np.ndarray, settings: Series, frame,
                    where: str) -> np.ndarray:
    """The static columns' values of one series (``rows``), refusing a column that varies within it."""
    for column in columns:
        values = numbers[column][rows]
        varies = values != values[0]
        if varies.any():
            first = int(np.argmax(varies))
            series = "the series" if settings.id is None else f"series {str(frame[settings.id].iloc[rows[0]])!r}"
            raise DataError(
                f"dataset.static: column {column!r} varies within {series} ({values[0]:g} at data row "
                f"{int(rows[0]) + 1}, {values[first]:g} at data row {int(rows[first]) + 1}); a static column holds one "
                f"value per series; list it in dataset.features if it changes over time, or fix the file {where}"
            )
    return np.array([numbers[column][rows[0]] for column in columns])


def read_target(settings: Series) -> np.ndarray:
    """The target column alone, checked (finite numbers), in file order."""
    frame, path = _read_named(settings, [("target", settings.target)])
    return _numeric(frame, settings.target, "target", f"(file: {path})")


def _read_named(settings: Series, named: list[tuple[str, str]]):
    """The table's ``named`` columns ((setting, column) pairs) as a pandas DataFrame, and its path."""
    path = checked_path(settings)
    columns = table_columns(path)
    for field, column in named:
        if column not in columns:
            raise DataError(
                f"dataset.{field}: column {column!r} is not in '{path}', which has the columns "
                f"{', '.join(map(repr, columns))}; fix the name in dataset.{field} (names are case-sensitive)"
            )
    return _read(path, list(dict.fromkeys(column for _, column in named))), path


def _needed(settings: Series) -> list[tuple[str, str]]:
    """(setting, column) for every column the settings name."""
    named = [("target", column) for column in settings.target_columns] + [("id", settings.id), ("time", settings.time)]
    named += [("features", column) for column in settings.features or ()]
    named += [("static", column) for column in settings.static_columns]
    return [(field, column) for field, column in named if column is not None]


def _fix(path: Path) -> str:
    kind = "a Parquet file" if path.suffix.lower() in PARQUET_SUFFIXES else "a UTF-8 CSV with a header row"
    return f"expected {kind}; check that the file is whole and of that format"


def _read(path: Path, columns: list[str]):
    import pandas as pd

    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return pd.read_parquet(path, columns=columns)
        return pd.read_csv(path, usecols=columns, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"dataset.path: cannot read '{path}' ({type(e).__name__}: {e}); {_fix(path)}") from e


def _numeric(frame, column: str, field: str, where: str) -> np.ndarray:
    """A feature or target column as finite float64, or a DataError naming the first bad row."""
    values = frame[column]
    if values.dtype.kind not in "biuf":
        import pandas as pd

        parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() & values.notna()
        example = f", e.g. {values[bad].iloc[0]!r} at data row {int(np.argmax(bad.to_numpy())) + 1}" if bad.any() else ""
        raise DataError(
            f"dataset.{field}: column {column!r} is not numeric (dtype {values.dtype}{example}); expected numbers "
            f"in every row; convert it in the file or leave it out of dataset.{field} {where}"
        )
    with np.errstate(over="ignore"):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise DataError(
            f"dataset.{field}: column {column!r} has {int(bad.sum())} missing or infinite value(s), the first at "
            f"data row {int(np.argmax(bad)) + 1}; expected a finite number in every row; fill or drop those rows {where}"
        )
    return numbers


def _groups(ids, column: str, where: str) -> list[np.ndarray]:
    """Row indices of each series, in order of first appearance."""
    missing = ids.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"dataset.id: column {column!r} is empty at data row {int(np.argmax(missing)) + 1}; expected the "
            f"series' name in every row; fill or drop those rows {where}"
        )
    codes, _ = ids.factorize(sort=False)
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def _sorted_by_time(times: np.ndarray, rows: np.ndarray, settings: Series, frame, where: str) -> np.ndarray:
    """``rows`` sorted by their ``times`` (stable); refuses missing, unorderable and repeated times."""
    column = settings.time
    series = "" if settings.id is None else f" of series {str(frame[settings.id].iloc[rows[0]])!r}"
    import pandas as pd

    if pd.isna(times).any():
        first = int(rows[np.argmax(pd.isna(times))]) + 1
        raise DataError(
            f"dataset.time: column {column!r} is empty at data row {first}; expected a time in every row; "
            f"fill or drop those rows {where}"
        )
    try:
        order = np.argsort(times, kind="stable")
    except TypeError as e:
        raise DataError(
            f"dataset.time: column {column!r} mixes values that cannot be ordered ({e}); expected numbers, "
            f"dates or strings of one format; convert the column {where}"
        ) from e
    ordered = times[order]
    repeated = ordered[1:] == ordered[:-1]
    if repeated.any():
        raise DataError(
            f"dataset.time: column {column!r}{series} has the time {_plain(ordered[1:][repeated][0])!r} twice; expected one "
            f"row per time step of a series; drop the duplicates, or name the column that tells the series "
            f"apart in dataset.id {where}"
        )
    return rows[order]


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value
