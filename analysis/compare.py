"""Random search against grid and Sobol searches (Bergstra & Bengio, JMLR 2012, Fig. 5).

The i.i.d. random trials give the efficiency curve (:mod:`analysis.efficiency`). Each compared
table is searched over the same space by another strategy, labelled, of one kind:

``grid``    one experiment, never re-partitioned (its points are not a sample of anything): its
            result is the test score of its best-by-validation trial, and with set sizes the
            eq. 5–6 mean ± sd over all its trials (:mod:`analysis.noise`). The headline: the
            smallest s at which the median random experiment of s trials reaches it (≥ for
            ``max``, ≤ for ``min``), and the same for the eq. 5–6 medians against the eq. 5–6 mean.
``sobol``   a curve by blocks: for s = 1, 2, 4, … ≤ S the points, in trial-index order, are cut
            into ⌊S/s⌋ aligned blocks of s consecutive points, [j·s, (j+1)·s). Of one scrambled
            Sobol sequence, each such block of 2^k points is itself a scrambled (t,k,d)-net, a
            valid Sobol design of s points; but the blocks are not independent samples, so they
            are summarised by their median, min and max, never as i.i.d. boxes. The trial
            indices must be 0..S−1 without a gap (a failed point would misalign the blocks).
``random``  a second i.i.d. random search: its own efficiency curve, summarised the same way.

Diverged trials rank as everywhere (:mod:`analysis.table`): below every ok trial.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
import numpy as np
import pandas as pd

from analysis.efficiency import EfficiencyCurve, EfficiencyLevel, efficiency_curve, experiments
from analysis.errors import DataError, UsageError
from analysis.table import TrialTable

KINDS = ("grid", "sobol", "random")
#: the columns of :meth:`Comparison.rows`: a grid fills the first three and the last five, a curve's row the first nine
ROW_COLUMNS = ("label", "kind", "trials", "s", "blocks", "median", "min", "max", "noise_median",
               "best", "noise_mean", "noise_sd", "reached_at", "noise_reached_at")
TableSource = str | os.PathLike[str] | pd.DataFrame | TrialTable


@dataclass(frozen=True)
class Reference:
    """A grid search: its best-by-validation test score, eq. 5–6 mean ± sd, and where random reaches them."""

    label: str
    trials: int
    best: float
    noise_mean: float | None
    noise_sd: float | None
    reached_at: int | None
    noise_reached_at: int | None


@dataclass(frozen=True)
class BlockRow:
    """The ⌊S/s⌋ blocks (Sobol) or experiments (random) of s trials: their best-by-validation test scores."""

    s: int
    blocks: int
    median: float
    min: float
    max: float
    noise_median: float | None


@dataclass(frozen=True)
class BlockCurve:
    """A Sobol (aligned blocks) or second random (i.i.d. experiments) search, one row per s."""

    label: str
    kind: str
    trials: int
    rows: tuple[BlockRow, ...]


@dataclass(frozen=True, eq=False)
class Comparison:
    """The random efficiency curve and the searches compared with it, in the order given."""

    mode: str
    random: EfficiencyCurve
    references: tuple[Reference, ...]
    curves: tuple[BlockCurve, ...]

    def rows(self) -> list[dict[str, object]]:
        """One row per reference and per (curve, s), with the keys ``ROW_COLUMNS`` (``comparison.csv``)."""
        blank = dict.fromkeys(ROW_COLUMNS)
        out: list[dict[str, object]] = [{**blank, "kind": "grid", **asdict(r)} for r in self.references]
        for c in self.curves:
            out += [{**blank, "label": c.label, "kind": c.kind, "trials": c.trials, **asdict(row)} for row in c.rows]
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "references": [asdict(r) for r in self.references],
            "curves": [{"label": c.label, "kind": c.kind, "trials": c.trials, "rows": [asdict(r) for r in c.rows]}
                       for c in self.curves],
        }


def compare_strategies(random: EfficiencyCurve, compared: Sequence[tuple[str, str, TableSource]], *, mode: str) -> Comparison:
    """Compare the random efficiency curve ``random`` with ``compared``: ``(label, kind, table)`` each.

    ``kind`` is ``"grid"``, ``"sobol"`` or ``"random"`` (module docstring); ``table`` a path, DataFrame
    or :class:`~analysis.table.TrialTable`, validated as any trials table, with ``mode`` the score's
    direction. Raises ``UsageError`` naming the label for an empty or repeated label, an unknown kind,
    or a Sobol table with gaps in its trial indices; ``DataError`` naming it for an invalid table.
    """
    if mode not in ("max", "min"):
        raise UsageError(f"mode must be 'max' or 'min' (the direction of the score), got {mode!r}.")
    references, curves, seen = [], [], set()
    for position, item in enumerate(compared):
        label, kind, source = _checked_item(position, item, seen)
        table = _table(label, source, mode)
        if kind == "grid":
            references.append(_reference(label, table, random))
        else:
            if kind == "sobol":
                _check_contiguous(label, table)
            curves.append(BlockCurve(label, kind, table.size, tuple(_block_row(lvl) for lvl in efficiency_curve(table).levels)))
    return Comparison(mode, random, tuple(references), tuple(curves))


def reached_at(medians: Sequence[tuple[int, float]], target: float, mode: str) -> int | None:
    """The smallest s whose median reaches ``target`` (≥ for ``max``, ≤ for ``min``); None if none does."""
    sign = 1.0 if mode == "max" else -1.0
    tolerance = 1e-12 * max(1.0, abs(target))  # a median of two equal floats may round
    return next((s for s, m in medians if sign * (m - target) >= -tolerance), None)


def _checked_item(position: int, item: object, seen: set[str]) -> tuple[str, str, TableSource]:
    where = f"compare[{position}]"
    if not isinstance(item, (tuple, list)) or len(item) != 3:
        raise UsageError(f"{where} must be a (label, kind, table) triple, e.g. ('grid 4x4', 'grid', 'grid.csv'); got {item!r}.")
    label, kind, source = item
    if not isinstance(label, str) or not label.strip():
        raise UsageError(f"{where} has an empty label {label!r}; give each compared search a name for the legend and the CSV.")
    if label in seen:
        raise UsageError(f"{where}: the label {label!r} is used twice; labels name the lines and rows, so make each one unique.")
    seen.add(label)
    if kind not in KINDS:
        raise UsageError(f"{where} ({label!r}) has the unknown kind {kind!r}; expected one of {', '.join(KINDS)}.")
    return label, kind, source


def _table(label: str, source: TableSource, mode: str) -> TrialTable:
    if isinstance(source, TrialTable):
        if source.mode != mode:
            raise UsageError(f"The compared table {label!r} was prepared for mode {source.mode!r}, the analysis is {mode!r}; prepare both alike.")
        return source
    try:
        return TrialTable.from_frame(source, mode=mode)
    except DataError as e:
        raise DataError(f"The compared table {label!r}: {e}") from e


def _check_contiguous(label: str, table: TrialTable) -> None:
    expected = np.arange(table.size)
    if not np.array_equal(table.trial_index, expected):
        gap = int(expected[np.argmax(table.trial_index != expected)])
        raise UsageError(
            f"The Sobol table {label!r} needs trial indices 0..S-1 without a gap among its ok/diverged trials, so that "
            f"blocks of s points stay aligned; trial {gap} is missing (failed, or not in the table) and the used indices run "
            f"{table.trial_index.min()}..{table.trial_index.max()} for {table.size} trials. Re-run the missing points, or "
            "compare it as kind 'grid' (one experiment)."
        )


def _reference(label: str, table: TrialTable, random: EfficiencyCurve) -> Reference:
    whole = experiments(table, table.size)
    best = float(whole.values[0])
    mean = sd = None
    if whole.noise_means is not None and whole.noise_sds is not None:
        mean, sd = float(whole.noise_means[0]), float(whole.noise_sds[0])
    mode = table.mode
    medians = [(lvl.s, float(np.median(lvl.values))) for lvl in random.levels]
    noise_at = None
    if mean is not None and random.levels[0].noise_means is not None:
        noise_medians = [(lvl.s, float(np.median(lvl.noise_means))) for lvl in random.levels]  # type: ignore[arg-type]
        noise_at = reached_at(noise_medians, mean, mode)
    return Reference(label, table.size, best, mean, sd, reached_at(medians, best, mode), noise_at)


def _block_row(level: EfficiencyLevel) -> BlockRow:
    noise = None if level.noise_means is None else float(np.median(level.noise_means))
    v = level.values
    return BlockRow(level.s, level.experiments, float(np.median(v)), float(v.min()), float(v.max()), noise)
