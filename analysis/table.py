"""The trials table: the documented interchange format, its reader, writer and validation.

One row per trial. Required columns:

``trial_index``  integer, unique; the order of the trials (re-partitioning follows it)
``status``       ``ok`` / ``diverged`` / ``error`` / ``infra`` / ``stopped``
``val_score``    the objective on the validation set (empty for diverged trials is fine)
``test_score``   the objective on the test set

Optional: ``val_n`` and ``test_n`` (validation/test set sizes; both or neither — they switch on the
binomial noise model of Bergstra & Bengio eq. 5–6, which then needs scores in [0, 1]),
``train_seconds``, and one ``param_<name>`` column per hyperparameter, empty (NaN/None) where the
parameter is inactive in that trial. Other columns are kept and ignored.

Rules fixed here, used by every analysis:

* ``error`` and ``infra`` trials are left out (and counted).
* ``stopped`` trials (early termination, :mod:`analysis.stopping`) stay in with the scores of their
  best epoch up to the stop, ranked by that validation score; they are not full-budget results, so
  a table with them is not a sample of full-budget trials, and each stopped trial loses a tie with
  an ``ok`` trial of the same validation score.
* ``diverged`` trials stay in as real results of their configs, at the worst score: the worst
  finite validation (test) score among the table's ``ok`` (and ``stopped``) trials. This keeps
  means finite and makes a diverged trial never better than an ``ok`` one.
* Ranked by validation, a diverged trial loses every tie with an ``ok`` trial (it ties only with
  the worst ones): :attr:`TrialTable.rank_val` is what every best-by-validation choice ranks by,
  and the eq. 5–6 weights give it no chance of being best beside an ``ok`` trial.
* A diverged trial with no set sizes gets the median sizes of the ``ok`` (and ``stopped``) trials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from analysis.errors import DataError, UsageError

REQUIRED_COLUMNS = ("trial_index", "status", "val_score", "test_score")
SIZE_COLUMNS = ("val_n", "test_n")
OPTIONAL_COLUMNS = (*SIZE_COLUMNS, "train_seconds")
STATUSES = ("ok", "diverged", "error", "infra", "stopped")
SCORED = ("ok", "stopped")  # the statuses with scores of their own
USED = ("ok", "diverged", "stopped")  # the statuses the analysis ranks
PARAM_PREFIX = "param_"
Mode = Literal["max", "min"]

_HELP = "See analysis/table.py for the trials table format."


def load_trials(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Read a trials table (``.csv`` or ``.parquet`` by suffix, or a DataFrame) and validate it.

    Returns a new DataFrame sorted by ``trial_index`` with normalised dtypes. Raises
    :class:`~analysis.errors.DataError` naming the offending column when the table is invalid.
    """
    if isinstance(source, pd.DataFrame):
        return _validated(source.copy())
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DataError(f"Cannot read trials from {str(path)!r}: expected a .csv or .parquet file, got suffix {suffix!r}.")
    if not path.is_file():
        raise DataError(f"Cannot read trials from {str(path)!r}: no such file.")
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as e:  # a parser error of pandas/pyarrow: the file, not our code, is wrong
        raise DataError(f"Cannot read trials from {str(path)!r}: {e}") from e
    return _validated(frame)


def write_trials(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate ``frame`` and write it in the interchange format (``.csv`` or ``.parquet`` by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DataError(f"Cannot write trials to {str(path)!r}: expected a .csv or .parquet path, got suffix {suffix!r}.")
    table = _validated(frame.copy())
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    return path


@dataclass(frozen=True)
class StatusCounts:
    """How many trials of each status the table had; ``used`` = ok + diverged + stopped."""

    ok: int
    diverged: int
    error: int
    infra: int
    stopped: int = 0

    @property
    def used(self) -> int:
        return self.ok + self.diverged + self.stopped

    @property
    def full_budget(self) -> int:
        """The used trials that were not stopped early."""
        return self.ok + self.diverged

    @property
    def excluded(self) -> int:
        return self.error + self.infra

    def as_dict(self) -> dict[str, int]:
        return {"ok": self.ok, "diverged": self.diverged, "error": self.error, "infra": self.infra,
                "stopped": self.stopped, "used": self.used}


@dataclass(frozen=True, eq=False)
class TrialTable:
    """The usable (ok, diverged, stopped) trials in trial-index order, as read-only arrays.

    ``val`` and ``test`` are on the metric's own scale with diverged trials at the worst score;
    ``oriented_val`` is ``val`` times ``sign`` (+1 for ``max``, −1 for ``min``), so larger is better.
    """

    mode: Mode
    trial_index: np.ndarray
    status: np.ndarray
    val: np.ndarray
    test: np.ndarray
    val_n: np.ndarray | None
    test_n: np.ndarray | None
    train_seconds: np.ndarray | None
    params: pd.DataFrame = field(repr=False)
    counts: StatusCounts

    @classmethod
    def from_frame(cls, source: str | os.PathLike[str] | pd.DataFrame, *, mode: str) -> TrialTable:
        """Validate ``source`` (see :func:`load_trials`) and prepare it for ``mode`` ("max" or "min")."""
        if mode not in ("max", "min"):
            raise UsageError(f"mode must be 'max' or 'min' (the direction of the score), got {mode!r}.")
        frame = load_trials(source)
        counts = StatusCounts(*(int((frame["status"] == s).sum()) for s in STATUSES))
        used = frame[frame["status"].isin(USED)].reset_index(drop=True)
        scored = used["status"].isin(SCORED).to_numpy()
        val, test = (_worst_filled(used[c].to_numpy(float), scored, mode) for c in ("val_score", "test_score"))
        sizes = [_sizes_filled(used[c], scored) if c in used else None for c in SIZE_COLUMNS]
        seconds = used["train_seconds"].to_numpy(float) if "train_seconds" in used else None
        if seconds is not None and not np.isfinite(seconds).any():
            seconds = None
        params = used[[c for c in used.columns if c.startswith(PARAM_PREFIX)]]
        params = params.rename(columns=lambda c: c[len(PARAM_PREFIX) :])
        arrays = [used["trial_index"].to_numpy(np.int64), used["status"].to_numpy(str), val, test, *sizes, seconds]
        for a in arrays:
            if a is not None:
                a.flags.writeable = False
        return cls(mode, *arrays, params=params, counts=counts)  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        return len(self.val)

    @property
    def sign(self) -> float:
        return 1.0 if self.mode == "max" else -1.0

    @property
    def oriented_val(self) -> np.ndarray:
        return self.sign * self.val

    @property
    def ok(self) -> np.ndarray:
        """True for the ``ok`` trials, False for the diverged and stopped ones."""
        return self.status == "ok"

    @property
    def scored(self) -> np.ndarray:
        """True for the trials with scores of their own (``ok`` and ``stopped``), False for the diverged ones."""
        return self.status != "diverged"

    @property
    def stopped(self) -> np.ndarray:
        """True for the trials stopped early (not full-budget results)."""
        return self.status == "stopped"

    @property
    def rank_val(self) -> np.ndarray:
        """``oriented_val`` to rank trials by: each stopped trial one float step below its score, each
        diverged trial one float step below the lowest of the others.

        So a stopped trial loses its ties with ``ok`` trials, a diverged trial ranks strictly below every
        trial it would tie with, each still ties with its own kind, and nothing else moves; without
        diverged and stopped trials this is ``oriented_val``.
        """
        rank = self.oriented_val
        stopped, diverged = self.stopped, ~self.scored
        rank[stopped] = np.nextafter(rank[stopped], -np.inf)
        if diverged.any():
            rank[diverged] = np.nextafter(rank[~diverged].min(), -np.inf)
        return rank

    @property
    def has_set_sizes(self) -> bool:
        return self.val_n is not None and self.test_n is not None


def _worst_filled(scores: np.ndarray, ok: np.ndarray, mode: str) -> np.ndarray:
    worst = scores[ok].min() if mode == "max" else scores[ok].max()
    out = scores.copy()
    out[~ok] = worst
    return out


def _sizes_filled(column: pd.Series, ok: np.ndarray) -> np.ndarray:
    sizes = column.to_numpy(float, copy=True)
    sizes[~ok & np.isnan(sizes)] = np.median(sizes[ok])
    return sizes


# --- validation -------------------------------------------------------------------------------


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"The trials table has no column {missing[0]!r}. Required columns: {', '.join(REQUIRED_COLUMNS)}; "
            f"found: {', '.join(map(str, frame.columns)) or 'none'}. Add the column or rename yours to it. {_HELP}"
        )
    if len(frame) == 0:
        raise DataError(f"The trials table in column 'trial_index' is empty: no trials to analyse. {_HELP}")
    frame["trial_index"] = _integral_column(frame, "trial_index", allow_missing=False)
    duplicated = frame["trial_index"][frame["trial_index"].duplicated()].unique()
    if len(duplicated):
        raise DataError(
            f"Column 'trial_index' has duplicate values: {_preview(duplicated)}. Each trial must appear once; "
            "keep the last attempt of each trial."
        )
    frame["status"] = _status_column(frame)
    for column in ("val_score", "test_score", "train_seconds"):
        if column in frame:
            frame[column] = _numeric_column(frame, column)
    ok = frame["status"].isin(SCORED).to_numpy()  # ok, or stopped with the scores of its best epoch so far
    used = frame["status"].isin(USED).to_numpy()
    if not used.any():
        raise DataError(
            f"Column 'status' has no usable trials: all {len(frame)} are 'error' or 'infra', which the analysis "
            "leaves out. Finish some trials (status 'ok' or 'diverged') first."
        )
    if not ok.any():
        raise DataError(
            "Column 'status' has no 'ok' trial: every usable trial diverged, so there is no finite score to rank by "
            "(diverged trials are placed at the worst 'ok' score). Analyse a sweep with at least one 'ok' trial."
        )
    for column in ("val_score", "test_score"):
        bad = ok & ~np.isfinite(frame[column].to_numpy(float))
        if bad.any():
            raise DataError(
                f"Column {column!r} has no finite value in {bad.sum()} trial(s) with status 'ok' or 'stopped' (trial_index "
                f"{_preview(frame['trial_index'][bad])}). Record such trials as 'diverged' (NaN/inf loss) or 'error'."
            )
    if "train_seconds" in frame and (frame["train_seconds"] < 0).any():
        raise DataError("Column 'train_seconds' has negative values; expected seconds ≥ 0 (or empty when unknown).")
    _check_sizes(frame, ok, used)
    return frame.sort_values("trial_index", kind="stable").reset_index(drop=True)


def _check_sizes(frame: pd.DataFrame, ok: np.ndarray, used: np.ndarray) -> None:
    present = [c for c in SIZE_COLUMNS if c in frame and frame[c].notna().any()]
    for c in SIZE_COLUMNS:
        if c in frame and c not in present:
            frame.drop(columns=c, inplace=True)  # an all-empty column means "unknown"
    if not present:
        return
    if len(present) == 1:
        absent = next(c for c in SIZE_COLUMNS if c not in present)
        raise DataError(
            f"Column {absent!r} is missing (or empty) while {present[0]!r} is given: the noise model needs both "
            "set sizes. Add it, or drop both to analyse without the noise model."
        )
    for column in SIZE_COLUMNS:
        frame[column] = _integral_column(frame, column, allow_missing=True)
        sizes = frame[column].to_numpy(float)
        if np.isnan(sizes[ok]).any():
            raise DataError(
                f"Column {column!r} is empty in some 'ok' trials (trial_index {_preview(frame['trial_index'][ok & np.isnan(sizes)])}); "
                "give the set size of every ok trial, or drop the column to analyse without the noise model."
            )
        if (sizes[used] < 2).any():
            raise DataError(f"Column {column!r} has set sizes below 2; the binomial variance p(1-p)/(n-1) needs n ≥ 2.")
    for column in ("val_score", "test_score"):
        scores = frame[column].to_numpy(float)[ok]
        if ((scores < 0) | (scores > 1)).any():
            raise DataError(
                f"Column {column!r} has scores outside [0, 1] (e.g. {_preview(scores[(scores < 0) | (scores > 1)])}) "
                "while 'val_n'/'test_n' are given: the binomial noise model needs proportions such as accuracy. "
                "Drop 'val_n' and 'test_n' to analyse without the noise model, or give a proportion metric."
            )


def _numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    raw = frame[column]
    if pd.api.types.is_bool_dtype(raw):
        raise DataError(f"Column {column!r} holds booleans; expected numbers.")
    numbers = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = numbers.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        raise DataError(
            f"Column {column!r} must be numeric; got non-numeric values {_preview(raw[bad])} "
            f"(trial_index {_preview(frame['trial_index'][bad])}). Write numbers, or leave the cell empty."
        )
    return numbers


def _integral_column(frame: pd.DataFrame, column: str, *, allow_missing: bool) -> pd.Series:
    numbers = _numeric_column(frame, column)
    finite = np.isfinite(numbers.to_numpy())
    if not allow_missing and not finite.all():
        raise DataError(f"Column {column!r} has empty or non-finite values; every trial needs an integer {column}.")
    values = numbers.to_numpy()[finite]
    if (values != np.round(values)).any():
        raise DataError(f"Column {column!r} must hold integers; got {_preview(values[values != np.round(values)])}.")
    return numbers.astype("int64") if finite.all() else numbers


def _status_column(frame: pd.DataFrame) -> pd.Series:
    status = frame["status"].astype("string").str.strip().str.lower()
    unknown = status.isna() | ~status.isin(STATUSES)
    if unknown.any():
        raise DataError(
            f"Column 'status' has unknown values {_preview(frame['status'][unknown].astype(str).unique())}; "
            f"expected one of {', '.join(STATUSES)}. Map pending/running trials out of the table before analysing."
        )
    return status.astype(str)


def _preview(values: object, most: int = 5) -> str:
    items = list(np.asarray(values).tolist())
    shown = ", ".join(repr(v) for v in items[:most])
    return shown + (f", … ({len(items)} in all)" if len(items) > most else "")
