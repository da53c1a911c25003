"""The result of an analysis: one frozen ``Report``, its JSON form and its short text summary.

``Report.to_json()`` gives one object with the keys

``mode``, ``metric_name``, ``trials`` (used)   — what was analysed
``status_counts``      ok / diverged / error / infra / stopped / used
``early_terminated``   null, or for a sweep with stopped trials: ``stopped``, ``full_budget``,
                       ``train_seconds`` (all used trials), ``stopped_seconds`` and ``note`` (why the
                       efficiency curve, expected best and trials needed are left out: empty/null below)
``efficiency``         one row per s: ``s``, ``experiments``, ``mean``, ``median``, ``q1``, ``q3``, ``min``,
                       ``max`` (over the experiments' best-by-validation test scores), ``expected_best``
                       (exact, without replacement, n = s) and ``noise_aware_mean`` (null without set sizes)
``noise_aware``        ``mean``, ``sd``, ``low``, ``high`` of eq. 5–6 over all trials, or null
``best``               ``by_validation`` and ``most_probable`` (null without set sizes): trial_index,
                       val_score, test_score, p_best
``expected_best``      rows n (powers of two): mean, sd, with and without replacement
``trials_needed``      ``rows`` (s and P for each q), ``needed_95``, ``doublings``, ``mean_train_seconds``
``importance``         rows param, importance, scope, trials; null when not computed
``comparison``         ``references`` (grids: label, trials, best, noise_mean, noise_sd, reached_at,
                       noise_reached_at) and ``curves`` (label, kind, trials, rows of s, blocks, median,
                       min, max, noise_median); null without ``compare``
``files``              paths written
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from analysis.best_of_n import ExpectedBest
from analysis.best_trial import BestChoice, TrialChoice
from analysis.budget import TrialsNeeded, time_unit
from analysis.compare import BlockCurve, Comparison, Reference
from analysis.efficiency import EfficiencyCurve
from analysis.importance import WHERE_ACTIVE, ParamImportance
from analysis.marginals import Marginal
from analysis.table import StatusCounts


@dataclass(frozen=True)
class EarlyTermination:
    """A sweep run with early termination: how many trials were stopped, and the compute used."""

    stopped: int
    full_budget: int
    train_seconds: float | None  # of all used trials, the stopped ones included
    stopped_seconds: float | None
    note: str = (
        "The Bergstra–Bengio efficiency curve, the expected best of n trials and the trials needed are not computed: "
        "the rule judged each trial against all earlier trials of the sweep, so experiments of s trials re-cut from it "
        "are not searches of s trials, and a curve drawn from them would be biased. What stays valid: the best trial, "
        "importance and marginal effects on the full-budget trials only (those the rule kept, so they describe the "
        "better part of the space), and the compute used. For what early termination buys, run the what-if on a "
        "sweep without it."
    )


@dataclass(frozen=True, eq=False)
class Report:
    """Everything :func:`analysis.analyze` computed, and the files it wrote."""

    mode: str
    metric_name: str
    counts: StatusCounts
    efficiency: EfficiencyCurve | None  # None (and the next three empty) for an early-terminated sweep
    expected_best: tuple[ExpectedBest, ...]
    expected_best_replacement: tuple[ExpectedBest, ...]
    trials_needed: TrialsNeeded | None
    best: BestChoice
    ranking: tuple[TrialChoice, ...]
    importance: tuple[ParamImportance, ...] | None
    marginals: tuple[Marginal, ...]
    comparison: Comparison | None = None
    early: EarlyTermination | None = None
    files: tuple[Path, ...] = ()
    noise_note: str = "No val_n/test_n: the noise model (eq. 5–6) was skipped."  # said when it was not used

    def to_dict(self) -> dict[str, object]:
        """The JSON object (module docstring) as Python data; NaN becomes None."""
        band = None if self.efficiency is None else self.efficiency.band
        data = {
            "mode": self.mode,
            "metric_name": self.metric_name,
            "trials": self.counts.used,
            "status_counts": self.counts.as_dict(),
            "early_terminated": None if self.early is None else asdict(self.early),
            "efficiency": [] if self.efficiency is None else [lvl.row() for lvl in self.efficiency.levels],
            "noise_aware": None if band is None else {"mean": band.mean, "sd": band.sd, "low": band.low, "high": band.high},
            "best": {
                "by_validation": asdict(self.best.by_validation),
                "most_probable": None if self.best.most_probable is None else asdict(self.best.most_probable),
            },
            "expected_best": self.expected_best_rows(powers_of_two=True),
            "trials_needed": None if self.trials_needed is None else _needed_dict(self.trials_needed),
            "importance": None if self.importance is None else [asdict(i) for i in self.importance],
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "files": [str(f) for f in self.files],
        }
        return _plain(data)  # type: ignore[return-value]

    def expected_best_rows(self, *, powers_of_two: bool = False) -> list[dict[str, float | int]]:
        """n, mean and sd of the best of n, without and with replacement (n = 1, 2, 4, … only, if asked)."""
        with_replacement = {e.n: e for e in self.expected_best_replacement}
        return [
            {
                "n": e.n,
                "mean": e.mean,
                "sd": e.sd,
                "mean_with_replacement": with_replacement[e.n].mean,
                "sd_with_replacement": with_replacement[e.n].sd,
            }
            for e in self.expected_best
            if not powers_of_two or e.n & (e.n - 1) == 0
        ]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def summary_text(self) -> str:
        """A few lines for a terminal: counts, best trials, the band, expected bests, trials needed, importance."""
        c, m = self.counts, self.metric_name
        stopped = f", stopped early {c.stopped} at their best score up to the stop" if c.stopped else ""
        lines = [
            f"{c.used} trials analysed (ok {c.ok}, diverged {c.diverged} at the worst score{stopped}); "
            f"left out: error {c.error}, infra {c.infra}. Score: {m}, {'higher' if self.mode == 'max' else 'lower'} is better.",
            _choice_line("Best by validation", self.best.by_validation, m),
        ]
        if self.best.most_probable is not None:
            lines.append(_choice_line("Most probably best (eq. 5)", self.best.most_probable, m))
        if self.early is not None:
            return "\n".join([*lines, *_early_lines(self.early, self.importance, self.files)])
        band = self.efficiency.band  # type: ignore[union-attr]
        if band is not None:
            lines.append(f"Noise-aware test {m} over all trials (eq. 5–6): {band.mean:.4f} ± {band.sd:.4f} (95%: {band.low:.4f} to {band.high:.4f})")
        else:
            lines.append(self.noise_note)
        shown = [e for e in self.expected_best if e.n & (e.n - 1) == 0]
        lines.append(f"Expected best test {m} of n trials: " + ", ".join(f"n={e.n} {e.mean:.4f}" for e in shown[:: max(1, len(shown) // 6)]))
        need = self.trials_needed
        assert need is not None
        lines.append("Trials for a 95% chance of the top q: " + ", ".join(f"top {q:.0%}: {n}" for q, n in zip(need.quantiles, need.needed)))
        if need.doublings:
            d = need.doublings[-1]
            cost = ""
            if d.extra_hours is not None:
                unit, size = time_unit(d.extra_hours)
                cost = f", {d.extra_hours / size:.1f} more {unit} of training"
            lines.append(f"Doubling {d.s} → {2 * d.s} trials: expected gain {d.gain:+.4f} {m}{cost}.")
        if self.importance:
            lines.append(
                "Importance (fANOVA): "
                + ", ".join(f"{i.param} {i.importance:.2f}" + (" (where active)" if i.scope == WHERE_ACTIVE else "") for i in self.importance)
            )
        if self.comparison is not None:
            lines += [_reference_line(r, m) for r in self.comparison.references]
            lines += [_curve_line(c, m) for c in self.comparison.curves]
        if self.files:
            lines.append(f"{len(self.files)} files written to {self.files[0].parent}")
        return "\n".join(lines)


def _needed_dict(need: TrialsNeeded) -> dict[str, object]:
    return {
        "rows": [
            {"s": s, **{f"p_top_{q:g}": float(p) for q, p in zip(need.quantiles, need.probability[k])}}
            for k, s in enumerate(need.sizes)
        ],
        "needed_95": [{"q": q, "trials": n} for q, n in zip(need.quantiles, need.needed)],
        "doublings": [asdict(d) for d in need.doublings],
        "mean_train_seconds": need.mean_train_seconds,
    }


def _early_lines(early: EarlyTermination, importance: tuple[ParamImportance, ...] | None, files: tuple[Path, ...]) -> list[str]:
    lines = [f"Early termination stopped {early.stopped} trials: their scores are those of their best epoch up to the stop, "
             f"not full-budget results; {early.full_budget} trials ran to their own end (max_epochs or patience).", early.note]
    if early.train_seconds is not None:
        unit, size = time_unit(early.train_seconds / 3600)
        stopped = "" if early.stopped_seconds is None else f", {early.stopped_seconds / 3600 / size:.1f} of them in the stopped trials"
        lines.append(f"Compute used: {early.train_seconds / 3600 / size:.1f} {unit} of training{stopped}.")
    if importance:
        lines.append(f"Importance (fANOVA, on the {early.full_budget} full-budget trials only): "
                     + ", ".join(f"{i.param} {i.importance:.2f}" + (" (where active)" if i.scope == WHERE_ACTIVE else "") for i in importance))
    if files:
        lines.append(f"{len(files)} files written to {files[0].parent}")
    return lines


def _choice_line(title: str, choice: TrialChoice, metric_name: str) -> str:
    p = "" if choice.p_best is None else f", P(truly best) = {choice.p_best:.3f}"
    return f"{title}: trial {choice.trial_index} (val {metric_name} {choice.val_score:.4f}, test {choice.test_score:.4f}{p})"


def _reference_line(ref: Reference, metric_name: str) -> str:
    noise = "" if ref.noise_mean is None else f" (eq. 5–6: {ref.noise_mean:.4f} ± {ref.noise_sd:.4f})"
    line = f"{ref.label} (grid, {ref.trials} trials): best test {metric_name} {ref.best:.4f}{noise}; the median random experiment "
    line += "never reaches it" if ref.reached_at is None else f"reaches it at s = {ref.reached_at}"
    if ref.noise_mean is not None:
        at = "never" if ref.noise_reached_at is None else f"s = {ref.noise_reached_at}"
        line += f" (eq. 5–6 on both sides: {at})"
    return line


def _curve_line(curve: BlockCurve, metric_name: str) -> str:
    unit = "aligned blocks of s Sobol points" if curve.kind == "sobol" else "i.i.d. experiments of s trials"
    shown = curve.rows[:: max(1, len(curve.rows) // 5)]
    return (f"{curve.label} ({curve.kind}, {curve.trials} trials): median test {metric_name} over {unit}: "
            + ", ".join(f"s={r.s} {r.median:.4f}" for r in shown))


def _plain(value: object) -> object:
    """JSON-ready: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
