"""What early termination would have bought, from a full sweep's own learning curves.

Each rule is replayed on the recorded epochs (:mod:`analysis.replay`), exactly as a live sweep with
that rule decides (the same :class:`~analysis.rung_board.RungBoard`), twice:

*The sweep.* All trials with curves, in trial-index order: which trials it stops and where, the
epochs and compute used against the full sweep's, and the best-by-validation trial it returns
against the full sweep's. Its test score comes from the trials table; for a stopped trial it is
known only when the trial's best epoch in full lies at or before its stop (then it is the same
epoch and the same weights), and reported as unknown otherwise. Without a divergence after a rung
the returned trial is never a stopped one (a stopped trial always has an earlier, better trial that
went on), so this is rare.

*Bergstra & Bengio's view.* The used trials (ok and diverged, as in :mod:`analysis.efficiency`)
cut into ⌊S/s⌋ experiments of s consecutive trials for s = 1, 2, 4, …, the rule applied inside each
experiment as its own sweep. Per s and per search (the full random search, each rule): the test
score each experiment returns (its best-by-validation trial, the mean over ties, a stopped trial
losing ties with an ok one; NaN where unknown, see above), the compute it spent, and whether it
returned the full search's trial (the lowest trial index among ties, on both sides).

Compute is the per-epoch ``seconds`` of the curves (training and validation of each epoch; setup and
the final test are not in it), or epochs where the curves have no seconds.

A sweep that was itself early-terminated (a trial with status ``stopped``) is refused: its curves are
cut. So is a table without curves.

:func:`analysis.what_if_figure.write_what_if` writes ``what_if.csv`` (:meth:`WhatIf.rows`: per search and s, the test scores'
median, quartiles, range and unknowns, the mean compute, its share of the full search's, and the
share of experiments returning the full search's trial), ``what_if_trials.csv`` (per rule and trial:
:data:`TRIAL_COLUMNS`), ``what_if.png``/``.svg`` (:mod:`analysis.what_if_figure`), ``what_if.txt``
(:meth:`WhatIf.summary_lines`) and ``what_if.json`` (:meth:`WhatIf.to_dict`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.best_of_n import curve_sizes
from analysis.curves import Curve, curves_path, load_curves, read_curves, trial_curves
from analysis.efficiency import best_by_validation, experiments
from analysis.errors import DataError, UsageError
from analysis.replay import Replay, ReplayedTrial, replay_rule
from analysis.stopping import Rule, parse_rule, spec_text
from analysis.table import TrialTable, load_trials

FULL = "full random search"
RuleSource = Rule | str | Mapping[str, object]


@dataclass(frozen=True)
class SweepOutcome:
    """One rule on the whole sweep: its replay, and the trial it returns beside the full sweep's."""

    label: str
    replay: Replay
    best: ReplayedTrial | None
    best_test: float | None  # None: a stopped trial whose test score at its stop is not known
    full_best: int
    full_best_test: float

    @property
    def same(self) -> bool:
        return self.best is not None and self.best.trial_index == self.full_best

    @property
    def compute_share(self) -> float:
        """The rule's compute over the full sweep's: in seconds where the curves have them, else in epochs."""
        r = self.replay
        if r.seconds is not None and r.full_seconds:
            return r.seconds / r.full_seconds
        return r.epochs / max(r.full_epochs, 1)


@dataclass(frozen=True, eq=False)
class Experiments:
    """The ⌊S/s⌋ experiments of s trials under one search: each one's test score, compute, and the
    trial it returned (its position in the experiment: the lowest among ties)."""

    label: str
    s: int
    test: np.ndarray
    cost: np.ndarray
    choice: np.ndarray

    def same(self, full: Experiments) -> np.ndarray:
        """Per experiment, whether it returned the trial the full search returned."""
        return self.choice == full.choice

    def row(self, full: Experiments) -> dict[str, object]:
        """Summary statistics beside the full search's experiments of the same size (``what_if.csv``)."""
        known = self.test[np.isfinite(self.test)]
        q1, median, q3 = np.percentile(known, [25, 50, 75]) if len(known) else (np.nan,) * 3
        return {"search": self.label, "s": self.s, "experiments": len(self.test), "median": median, "q1": q1, "q3": q3,
                "min": known.min() if len(known) else np.nan, "max": known.max() if len(known) else np.nan,
                "unknown": int((~np.isfinite(self.test)).sum()), "mean_cost": float(self.cost.mean()),
                "cost_share": float(self.cost.sum() / full.cost.sum()) if full.cost.sum() > 0 else np.nan,
                "same_share": float(self.same(full).mean())}


@dataclass(frozen=True, eq=False)
class WhatIf:
    """Every rule on the sweep and in Bergstra & Bengio's experiments (module docstring)."""

    mode: str
    max_epochs: int
    cost_unit: str  # "seconds" or "epochs"
    sweeps: tuple[SweepOutcome, ...]
    searches: tuple[tuple[Experiments, ...], ...]  # per search (the full one first), per s

    def rows(self) -> list[dict[str, object]]:
        """One row per search and s (``what_if.csv``)."""
        full = self.searches[0]
        return [level.row(f) for search in self.searches for level, f in zip(search, full)]

    def trial_rows(self) -> list[dict[str, object]]:
        """One row per rule and trial of the sweep (``what_if_trials.csv``)."""
        return [{"rule": o.label, **{k: getattr(t, k) for k in TRIAL_COLUMNS}} for o in self.sweeps for t in o.replay.trials]

    def summary_lines(self, metric_name: str = "score") -> list[str]:
        """Computed sentences: per rule, the sweep's answer and compute, then the experiments per s."""
        lines = []
        for outcome, search in zip(self.sweeps, self.searches[1:]):
            lines.append(_sweep_line(outcome, self.cost_unit, metric_name))
            cells = [_level_cell(level, full) for level, full in zip(search, self.searches[0])]
            lines.append(f"  in ⌊S/s⌋ experiments of s trials, the same trial as the full search / median test {metric_name} "
                         f"rule vs full / compute: " + "; ".join(cells))
        return lines

    def to_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "max_epochs": self.max_epochs, "cost_unit": self.cost_unit,
                "sweeps": [_outcome_dict(o) for o in self.sweeps], "experiments": self.rows()}


TRIAL_COLUMNS = ("trial_index", "status", "stop_epoch", "epochs", "full_epochs", "val_score", "best_epoch",
                 "seconds", "full_seconds")


def analyze_what_if(table: str | os.PathLike[str] | pd.DataFrame, rules: Sequence[RuleSource], *, mode: str,
            curves: pd.DataFrame | None = None, max_epochs: int | None = None) -> WhatIf:
    """Replay ``rules`` on the full sweep ``table`` (a path, whose curves lie beside it, or a DataFrame
    with ``curves`` given) for ``max_epochs`` (the sweep's; without it the longest curve stands for it).

    Raises ``DataError`` for a table that was early-terminated, that has no curves, or whose curves do
    not match it; ``RuleError`` for an invalid rule (naming ``--what-if``); ``UsageError`` for no rule.
    """
    frame = load_trials(table)
    stopped = frame["trial_index"][frame["status"] == "stopped"]
    if len(stopped):
        raise DataError(f"The sweep was itself early-terminated: {len(stopped)} trial(s) have status 'stopped' (e.g. trial "
                        f"{int(stopped.iloc[0])}), so their curves end at the stop and a rule replayed on them would decide "
                        "on cut curves. Run the what-if on a sweep without early_terminate.")
    if curves is None:
        where = curves_path(table) if isinstance(table, (str, os.PathLike)) else None
        curves = read_curves(table) if where is not None else None
        if curves is None:
            raise DataError(f"The trials table has no curves ({str(where) if where else 'none given'}): a what-if replays "
                            "each trial's recorded epochs. Export the sweep again (searchsvc export writes T.curves.csv "
                            "beside T.csv), or pass curves=.")
    all_curves = trial_curves(frame, load_curves(curves), mode=mode, max_epochs=max_epochs)
    if max_epochs is None:
        max_epochs = max((c.epochs for c in all_curves), default=0)
    if not rules:
        raise UsageError("analyze_what_if() needs at least one rule, e.g. 'asha:min_epochs=2,eta=3'.")
    parsed = tuple(dict.fromkeys(parse_rule(r, max_epochs=max_epochs, where="--what-if") for r in rules))
    trials = TrialTable.from_frame(frame, mode=mode)
    by_index = {c.trial_index: c for c in all_curves}
    used = [by_index[int(k)] for k in trials.trial_index]
    cost_unit = "seconds" if all(c.seconds is not None for c in all_curves) else "epochs"
    test = dict(zip(trials.trial_index.tolist(), trials.test.tolist()))
    sweeps = tuple(_sweep(spec_text(r), replay_rule(all_curves, r, max_epochs=max_epochs, mode=mode), trials, test, by_index)
                   for r in parsed)
    sizes = curve_sizes(trials.size)
    full = tuple(_full(trials, used, int(s), cost_unit) for s in sizes)
    rules_levels = tuple(tuple(_experiments(r, trials, used, int(s), cost_unit, max_epochs) for s in sizes) for r in parsed)
    return WhatIf(mode, max_epochs, cost_unit, sweeps, (full, *rules_levels))


# --- the sweep ----------------------------------------------------------------------------------


def _sweep(label: str, replayed: Replay, trials: TrialTable, test: dict[int, float], curves: dict[int, Curve]) -> SweepOutcome:
    full_best = int(trials.trial_index[np.argmax(trials.rank_val)])
    best = replayed.best
    best_test = None if best is None else _test_of(best, test[best.trial_index], curves[best.trial_index], trials.mode)
    return SweepOutcome(label, replayed, best, best_test, full_best, test[full_best])


def _test_of(t: ReplayedTrial, test: float, curve: Curve, mode: str) -> float | None:
    """A trial's test score under the rule (``test``: in full): its own, or a stopped trial's when its best
    epoch in full is its best up to the stop."""
    if not t.stopped:
        return test
    full_best_epoch = int(np.argmax(curve.val) if mode == "max" else np.argmin(curve.val)) + 1
    return test if curve.outcome == "ok" and full_best_epoch == t.best_epoch else None


# --- Bergstra & Bengio's experiments ------------------------------------------------------------


def _cost(curve: Curve, epochs: int, unit: str) -> float:
    return float(curve.seconds[:epochs].sum()) if unit == "seconds" else float(epochs)  # type: ignore[index]


def _full(trials: TrialTable, used: list[Curve], s: int, unit: str) -> Experiments:
    n = trials.size // s
    cost = np.array([sum(_cost(c, c.epochs, unit) for c in used[j * s:(j + 1) * s]) for j in range(n)])
    choice = [int(np.argmax(trials.rank_val[j * s:(j + 1) * s])) for j in range(n)]
    return Experiments(FULL, s, experiments(trials, s).values, cost, np.array(choice))


def _experiments(rule: Rule, trials: TrialTable, used: list[Curve], s: int, unit: str, max_epochs: int) -> Experiments:
    n = trials.size // s
    test, cost, choice = np.empty(n), np.empty(n), np.empty(n, int)
    for j in range(n):
        part, full_test = used[j * s:(j + 1) * s], trials.test[j * s:(j + 1) * s]
        replayed = replay_rule(part, rule, max_epochs=max_epochs, mode=trials.mode).trials
        rank = _rank(replayed, trials.sign)
        scores = [full_test[i] if not t.stopped else _test_of(t, full_test[i], c, trials.mode)
                  for i, (t, c) in enumerate(zip(replayed, part))]
        test[j] = best_by_validation(rank[None], np.array(scores, float)[None])[0]  # None (unknown) → NaN
        cost[j] = sum(_cost(c, t.epochs, unit) for t, c in zip(replayed, part))
        choice[j] = int(np.argmax(rank))
    return Experiments(spec_text(rule), s, test, cost, choice)


def _rank(replayed: Sequence[ReplayedTrial], sign: float) -> np.ndarray:
    """Validation scores to rank by, as :attr:`TrialTable.rank_val`: a stopped trial loses ties with an ok one,
    a diverged one ranks below all others."""
    rank = np.array([-np.inf if t.val_score is None else sign * t.val_score for t in replayed])
    stopped = np.array([t.stopped for t in replayed])
    rank[stopped] = np.nextafter(rank[stopped], -np.inf)
    diverged = np.isneginf(rank)
    if diverged.any():
        rank[diverged] = np.nextafter(rank[~diverged].min(), -np.inf) if not diverged.all() else 0.0
    return rank


# --- sentences ------------------------------------------------------------------------------------


def _sweep_line(o: SweepOutcome, unit: str, metric_name: str) -> str:
    r = o.replay
    stops = {}
    for t in r.stopped:
        stops[t.stop_epoch] = stops.get(t.stop_epoch, 0) + 1
    where = ", ".join(f"{n} at epoch {e}" for e, n in sorted(stops.items()))
    share, epochs = o.compute_share, r.epochs / max(r.full_epochs, 1)
    line = (f"{o.label} on the sweep's {len(r.trials)} trials: stops {len(r.stopped)}" + (f" ({where})" if where else "")
            + f", trains {epochs:.0%} of the epochs" + (f" and {share:.0%} of the seconds" if unit == "seconds" else "") + "; ")
    if o.best is None:
        return line + "returns no trial (none ok)."
    test = "unknown: a stopped trial's test score at its stop is not in the curves" if o.best_test is None else f"{o.best_test:.4f}"
    kind = "a stopped trial, " if o.best.stopped else ""
    returned = f"returns trial {o.best.trial_index} ({kind}val {metric_name} {o.best.val_score:.4f}, test {test})"
    if o.same:
        return line + returned + f", the full sweep's best: the same answer at {share:.0%} of the compute."
    return line + returned + (f" instead of the full sweep's trial {o.full_best} (test {o.full_best_test:.4f}): "
                              f"a different answer, at {share:.0%} of the compute.")


def _level_cell(level: Experiments, full: Experiments) -> str:
    known = level.test[np.isfinite(level.test)]
    median = f"{np.median(known):.4f}" if len(known) else "unknown"
    share = level.cost.sum() / full.cost.sum() if full.cost.sum() > 0 else np.nan
    unknown = f" ({len(level.test) - len(known)} unknown)" if len(known) < len(level.test) else ""
    return (f"s={level.s}: {int(level.same(full).sum())}/{len(level.test)}, {median} vs {np.median(full.test):.4f}"
            f"{unknown}, {share:.0%}")


def _outcome_dict(o: SweepOutcome) -> dict[str, object]:
    r = o.replay
    return {"rule": o.label, "stopped": [{"trial_index": t.trial_index, "stop_epoch": t.stop_epoch} for t in r.stopped],
            "epochs": r.epochs, "full_epochs": r.full_epochs, "seconds": r.seconds, "full_seconds": r.full_seconds,
            "best": None if o.best is None else {"trial_index": o.best.trial_index, "status": o.best.status,
                                                 "val_score": o.best.val_score, "test_score": o.best_test},
            "full_best": {"trial_index": o.full_best, "test_score": o.full_best_test}, "same": o.same}
