"""The curves table: every trial's epochs, beside its trials table (``T.curves.csv`` beside ``T.csv``).

One row per trial and epoch. Required columns:

``trial_index``  integer, a trial of the trials table
``epoch``        integer, 1, 2, … without a gap in each trial
``val_score``    the objective on the validation set after that epoch (finite)

Optional: ``train_loss``, ``val_loss`` (kept, not used) and ``seconds``, the epoch's wall time
(training and validation; ≥ 0), which the what-if counts as compute; without it compute is counted
in epochs. An ``ok`` trial's curve must exist and its best ``val_score`` must be the table's (the
trainable keeps its best epoch); a diverged trial's curve stops before its NaN epoch (it may be
empty); curves of ``error``/``infra`` trials are optional (epochs they finished before failing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import DataError
from analysis.table import _integral_column, _numeric_column, _preview

CURVE_COLUMNS = ("trial_index", "epoch", "val_score")
OPTIONAL_CURVE_COLUMNS = ("train_loss", "val_loss", "seconds")
_HELP = "See analysis/curves.py for the curves table format."


@dataclass(frozen=True, eq=False)
class Curve:
    """One trial's recorded epochs: ``val`` and ``seconds`` per epoch (``seconds`` None when not
    recorded), and how it ended: ``ok``, ``diverged`` or ``error`` (error and infra trials)."""

    trial_index: int
    val: np.ndarray
    seconds: np.ndarray | None
    outcome: str

    @property
    def epochs(self) -> int:
        return len(self.val)


def curves_path(table: str | os.PathLike[str]) -> Path:
    """Where a trials table's curves lie: ``T.curves.csv`` beside ``T.csv`` (or ``T.parquet``)."""
    return Path(table).with_suffix(".curves.csv")


def write_curves(table: str | os.PathLike[str], curves: pd.DataFrame) -> Path:
    """Validate ``curves`` and write them beside the trials table at ``table``; return their path."""
    path = curves_path(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    load_curves(curves).to_csv(path, index=False)
    return path


def read_curves(table: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The validated curves beside the trials table at ``table``, or ``None`` when it has none."""
    path = curves_path(table)
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except Exception as e:  # a parser error of pandas: the file, not our code, is wrong
        raise DataError(f"Cannot read the curves {str(path)!r}: {e}") from e
    return load_curves(frame)


def load_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a curves table (module docstring); a new frame sorted by trial and epoch.

    Raises :class:`~analysis.errors.DataError` naming the column: a missing column, non-integer
    indices or epochs, a repeated or skipped epoch, a non-finite score, negative seconds.
    """
    frame = frame.copy()
    missing = [c for c in CURVE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"The curves table has no column {missing[0]!r}. Required columns: {', '.join(CURVE_COLUMNS)}; "
                        f"found: {', '.join(map(str, frame.columns)) or 'none'}. {_HELP}")
    for column in ("trial_index", "epoch"):
        frame[column] = _integral_column(frame, column, allow_missing=False)
    for column in ("val_score", *OPTIONAL_CURVE_COLUMNS):
        if column in frame:
            frame[column] = _numeric_column(frame, column)
    bad = ~np.isfinite(frame["val_score"].to_numpy(float))
    if bad.any():
        raise DataError(f"The curves table's column 'val_score' has no finite value in {bad.sum()} row(s) (trial_index "
                        f"{_preview(frame['trial_index'][bad])}); a diverged epoch is not a row: end the trial's curve before it.")
    if "seconds" in frame:
        seconds = frame["seconds"].to_numpy(float)
        if np.isnan(seconds).all():
            frame = frame.drop(columns="seconds")  # an all-empty column means "unknown"
        elif not (np.isfinite(seconds) & (seconds >= 0)).all():
            raise DataError("The curves table's column 'seconds' has empty, negative or non-finite values; expected each "
                            "epoch's wall time in seconds ≥ 0, or no value in any row.")
    frame = frame.sort_values(["trial_index", "epoch"], kind="stable").reset_index(drop=True)
    expected = frame.groupby("trial_index").cumcount().to_numpy() + 1
    wrong = frame["epoch"].to_numpy() != expected
    if wrong.any():
        row = frame[wrong].iloc[0]
        raise DataError(f"The curves table's column 'epoch' must run 1, 2, … once each per trial; trial "
                        f"{int(row['trial_index'])} has epoch {int(row['epoch'])} where {int(expected[wrong][0])} belongs "
                        "(an epoch repeated or skipped). Keep one row per epoch of the trial's last attempt.")
    return frame


def trial_curves(trials: pd.DataFrame, curves: pd.DataFrame, *, mode: str,
                 max_epochs: int | None = None) -> tuple[Curve, ...]:
    """The curve of each trial of the validated trials table ``trials``, in trial-index order (empty for a
    trial without epochs: one that diverged in its first epoch, or failed).

    Checks them against the table: every curve's trial is in it, every ``ok`` trial has a curve
    whose best score (``mode`` "max" or "min") is its ``val_score``, and none is longer than
    ``max_epochs`` (when given).
    Raises :class:`~analysis.errors.DataError` naming the trial.
    """
    status = dict(zip(trials["trial_index"].tolist(), trials["status"].tolist()))
    val_score = dict(zip(trials["trial_index"].tolist(), trials["val_score"].tolist()))
    groups = {int(k): g for k, g in curves.groupby("trial_index", sort=True)}
    strangers = sorted(set(groups) - set(status))
    if strangers:
        raise DataError(f"The curves table has trials that are not in the trials table: trial_index {_preview(strangers)}. "
                        "Write the curves of the same sweep beside its table.")
    without = [k for k, s in status.items() if s == "ok" and k not in groups]
    if without:
        raise DataError(f"The curves table has no epochs of the 'ok' trials {_preview(without)}; every finished trial "
                        "needs its curve. Export the table and its curves together.")
    out, empty = [], pd.DataFrame({"val_score": [], **({"seconds": []} if "seconds" in curves else {})})
    for k in sorted(status):
        group = groups.get(k, empty)
        val = group["val_score"].to_numpy(float)
        if max_epochs is not None and len(val) > max_epochs:
            raise DataError(f"The curves table: trial {k} has {len(val)} epochs, more than max_epochs ({max_epochs}).")
        best = (val.max() if mode == "max" else val.min()) if len(val) else np.nan
        if status[k] == "ok" and abs(best - val_score[k]) > 1e-9 * max(1.0, abs(best)):
            raise DataError(f"The curves table: trial {k}'s best val_score over its {len(val)} epochs is {best!r}, its "
                            f"val_score in the trials table {val_score[k]!r}; the curves belong to another table (or "
                            "direction), or were cut short. Export the table and its curves together.")
        seconds = group["seconds"].to_numpy(float) if "seconds" in group else None
        outcome = {"ok": "ok", "diverged": "diverged", "stopped": "stopped"}.get(status[k], "error")
        out.append(Curve(k, val, seconds, outcome))
    return tuple(out)

