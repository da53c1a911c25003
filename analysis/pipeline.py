"""``analyze``: every analysis of a trials table, written to a folder as figures, CSV tables and a summary.

Files (``stem.png`` and ``stem.svg`` for each figure):

=============================  ===============================================================
efficiency.png/.svg            box plots per experiment size s, exact expected best, eq. 5–6 band
expected_best.png/.svg         E[test of best-of-n] against n, with and without replacement
trials_needed.png/.svg         P(best of s in the top q); gain and cost of doubling the trials
marginals.png/.svg             mean validation score ± 95% CI per value/bin, interactions as lines
importance.png/.svg            fANOVA importances (only with ``importance=True``)
comparison.png/.svg            random efficiency boxes with grid lines and Sobol curves (only with ``compare``)
efficiency.csv                 the ``efficiency`` rows of the report
efficiency_experiments.csv     every experiment: s, its first trial, its result, its eq. 5–6 score
expected_best.csv              n (powers of two and log-spaced), mean and sd with/without replacement
trials_needed.csv              s and P(best of s in the top q) per q
trials_needed_doublings.csv    s → 2s: expected best at both, gain, extra trials and hours
best_trials.csv                the 20 trials most probably best (by validation without set sizes)
marginals.csv                  every marginal point
importance.csv                 param, importance, scope, trials (only with ``importance=True``)
comparison.csv                 a row per grid and per (compared curve, s), :meth:`Comparison.rows` (only with ``compare``)
summary.txt, report.json       ``Report.summary_text()`` and ``Report.to_json()``
=============================  ===============================================================

A sweep run with early termination (trials with status ``stopped``, or ``early_terminated=True``)
gets no efficiency curve, expected best or trials needed (no ``efficiency*``, ``expected_best``,
``trials_needed*`` files): its trials are not i.i.d. full-budget results, see
:class:`~analysis.report.EarlyTermination`. Its best trial ranks every trial by its recorded
validation score; importance and marginal effects use the full-budget trials only.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.best_of_n import curve_sizes, expected_best
from analysis.best_trial import best_choice
from analysis.budget import Doubling, trials_needed
from analysis.compare import ROW_COLUMNS, TableSource, compare_strategies
from analysis.efficiency import EfficiencyCurve, efficiency_curve
from analysis.importance import fanova_importance
from analysis.marginals import marginal_effects
from analysis.report import EarlyTermination, Report
from analysis.space import read_space
from analysis.table import TrialTable, load_trials
from analysis.errors import UsageError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

DENSE_SIZES = 64  # log-spaced n of the expected-best curve, beside the powers of two
#: the figures ``analyze`` draws (``importance`` and ``comparison`` where those were computed)
FIGURES = ("efficiency", "expected_best", "trials_needed", "marginals", "importance", "comparison")


def analyze(
    table: str | os.PathLike[str] | pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    mode: str,
    distributions: Mapping[str, BaseDistribution] | None = None,
    references: Mapping[str, float] | None = None,
    metric_name: str = "score",
    importance: bool = True,
    figures: bool | Collection[str] = True,
    seed: int = 0,
    compare: Sequence[tuple[str, str, TableSource]] | None = None,
    noise_note: str | None = None,
    early_terminated: bool | None = None,
) -> Report:
    """Analyse a trials table (path or DataFrame, see :mod:`analysis.table`) into ``out_dir``.

    ``mode`` is the score's direction ("max" or "min"); ``distributions`` the sweep's search space
    by parameter name (when absent: the one written beside a table's file, :func:`analysis.space.read_space`,
    else inferred from the table); ``references`` horizontal lines on the
    efficiency plot, e.g. ``{"grid search": 0.81}``; ``importance=False`` skips fANOVA (the slow
    part) and ``figures=False`` the figures (a collection of names, e.g. ``("efficiency",)``, draws those). ``compare`` lists other searches of the same space as
    ``(label, kind, table)`` with kind ``"grid"``, ``"sobol"`` or ``"random"`` (:mod:`analysis.compare`).
    ``noise_note`` says why a table goes without set sizes, in place of the summary's own line.
    ``early_terminated``: whether the sweep ran with early termination (``None``: when a trial has
    status ``stopped``); such a sweep is analysed as the module docstring says, and ``compare`` is refused.
    Raises ``DataError`` for an invalid table and ``UsageError`` for an invalid argument.
    """
    if distributions is None and isinstance(table, (str, os.PathLike)):
        distributions = read_space(table)  # the sweep's space, when the table carries it
    frame = load_trials(table)
    trials = TrialTable.from_frame(frame, mode=mode)
    early = _early(frame, trials, early_terminated)
    if early is not None and compare:
        raise UsageError("compare: this sweep ran with early termination, so it has no Bergstra–Bengio efficiency curve "
                         "to compare other searches with (its trials are not i.i.d. full-budget results). Compare a "
                         "sweep run without early_terminate.")
    references = _checked_references(references)
    full = trials if early is None else TrialTable.from_frame(frame[frame["status"] != "stopped"], mode=mode)
    random_search = _random_search(trials, compare) if early is None else {
        "efficiency": None, "expected_best": (), "expected_best_replacement": (), "trials_needed": None}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    best = best_choice(trials)
    report = Report(
        mode=mode,
        metric_name=metric_name,
        counts=trials.counts,
        **random_search,  # type: ignore[arg-type]
        best=best,
        ranking=best.ranking(trials),
        importance=fanova_importance(full, distributions, seed=seed) if importance else None,
        marginals=marginal_effects(full, distributions),
        early=early,
        **({"noise_note": noise_note} if noise_note else {}),
    )
    files = _write_tables(report, trials, out)
    if figures:
        files += _write_figures(report, out, references, None if figures is True else set(figures))
    files += [out / "summary.txt", out / "report.json"]
    report = dataclasses.replace(report, files=tuple(files))
    (out / "summary.txt").write_text(report.summary_text() + "\n", encoding="utf-8")
    (out / "report.json").write_text(report.to_json() + "\n", encoding="utf-8")
    return report


def _random_search(trials: TrialTable, compare: Sequence[tuple[str, str, TableSource]] | None) -> dict[str, object]:
    """What re-partitioning a random search gives: the efficiency curve, expected bests, trials needed, comparisons."""
    curve = efficiency_curve(trials)
    sizes = curve_sizes(trials.size, dense=DENSE_SIZES)
    return {
        "efficiency": curve,
        "expected_best": expected_best(trials.rank_val, trials.test, sizes),
        "expected_best_replacement": expected_best(trials.rank_val, trials.test, sizes, replacement=True),
        "trials_needed": trials_needed(trials),
        "comparison": compare_strategies(curve, compare, mode=trials.mode) if compare else None,
    }


def _early(frame: pd.DataFrame, trials: TrialTable, told: bool | None) -> EarlyTermination | None:
    """The early-termination facts of a sweep that ran with it (``told``, or seen by its stopped trials)."""
    if told is False and trials.counts.stopped:
        raise UsageError(f"early_terminated=False, but {trials.counts.stopped} trials have status 'stopped': a sweep with "
                         "stopped trials ran with early termination. Leave early_terminated unset.")
    if not (told or trials.counts.stopped):
        return None
    seconds = total = None
    if "train_seconds" in frame and frame["train_seconds"].notna().any():
        used = frame[frame["status"].isin(("ok", "diverged", "stopped"))]
        total = float(used["train_seconds"].sum())
        seconds = float(used.loc[used["status"] == "stopped", "train_seconds"].sum())
    return EarlyTermination(trials.counts.stopped, trials.counts.full_budget, total, seconds)


def _checked_references(references: Mapping[str, float] | None) -> dict[str, float]:
    checked = {}
    for name, value in (references or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise UsageError(f"references[{name!r}] must be a finite number (a score to draw as a line); got {value!r}.")
        checked[str(name)] = number
    return checked


def _write_tables(report: Report, trials: TrialTable, out: Path) -> list[Path]:
    need = report.trials_needed
    tables = {} if report.efficiency is None or need is None else {
        "efficiency": pd.DataFrame([lvl.row() for lvl in report.efficiency.levels]),
        "efficiency_experiments": _experiments_frame(report.efficiency, trials),
        "expected_best": pd.DataFrame(report.expected_best_rows()),
        "trials_needed": pd.DataFrame(
            {"s": need.sizes, **{f"p_top_{q:g}": need.probability[:, k] for k, q in enumerate(need.quantiles)}}
        ),
        "trials_needed_doublings": pd.DataFrame(
            [dataclasses.asdict(d) for d in need.doublings], columns=[f.name for f in dataclasses.fields(Doubling)]
        ),
    }
    tables |= {
        "best_trials": pd.DataFrame([dataclasses.asdict(c) for c in report.ranking]),
        "marginals": pd.DataFrame(
            [{"param": m.param, "by": m.by, **dataclasses.asdict(p)} for m in report.marginals for p in m.points],
            columns=["param", "by", "group", "label", "x", "n", "mean", "ci_low", "ci_high"],
        ),
    }
    if report.importance is not None:
        tables["importance"] = pd.DataFrame(
            [dataclasses.asdict(i) for i in report.importance], columns=["param", "importance", "scope", "trials"]
        )
    if report.comparison is not None:
        tables["comparison"] = pd.DataFrame(report.comparison.rows(), columns=list(ROW_COLUMNS))
    paths = []
    for stem, frame in tables.items():
        path = out / f"{stem}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def _experiments_frame(curve: EfficiencyCurve, trials: TrialTable) -> pd.DataFrame:
    parts = []
    for lvl in curve.levels:
        n = lvl.experiments
        parts.append(
            pd.DataFrame(
                {
                    "s": lvl.s,
                    "experiment": np.arange(n),
                    "first_trial_index": trials.trial_index[: n * lvl.s : lvl.s],
                    "best_by_validation": lvl.values,
                    "noise_aware_mean": lvl.noise_means if lvl.noise_means is not None else np.nan,
                    "noise_aware_sd": lvl.noise_sds if lvl.noise_sds is not None else np.nan,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _write_figures(report: Report, out: Path, references: Mapping[str, float], only: set[str] | None) -> list[Path]:
    from analysis import plots

    name, curve, need = report.metric_name, report.efficiency, report.trials_needed
    figures = {} if curve is None or need is None else {
        "efficiency": lambda: plots.efficiency_figure(curve, metric_name=name, references=references),
        "expected_best": lambda: plots.expected_best_figure(
            report.expected_best, report.expected_best_replacement, metric_name=name, size=report.counts.used
        ),
        "trials_needed": lambda: plots.trials_needed_figure(need, metric_name=name),
    }
    figures["marginals"] = lambda: plots.marginals_figure(report.marginals, metric_name=name)
    if report.importance is not None:
        figures["importance"] = lambda: plots.importance_figure(report.importance, metric_name=name)
    if report.comparison is not None:
        figures["comparison"] = lambda: plots.comparison_figure(report.comparison, metric_name=name)
    if only is not None and only - set(FIGURES):
        raise UsageError(f"figures: expected names among {', '.join(FIGURES)}; got {', '.join(sorted(only - set(FIGURES)))}")
    return [path for stem, draw in figures.items() if only is None or stem in only
            for path in plots.save_figure(draw(), out, stem)]
