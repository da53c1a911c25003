"""``searchsvc analyze``: the analysis library applied to a sweep of the ledger (or any trials table),
with the sweep's own search space, direction and metric, other searches of the same space to compare
with (grid, Sobol, another random search), and the results attached to the sweep's MLflow run."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from searchsvc.errors import UsageError
from searchsvc.status import SweepStatus
from searchsvc.stores.export import curves_frame, optuna_distributions, trials_frame
from searchsvc.stores.ledger import Ledger, get_ledger

#: the metric the binomial noise model of eq. 5-6 describes: a proportion of correct answers
NOISE_METRICS = ("accuracy",)


def analyze_table(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                  compare: Sequence[tuple[str, str, str]] = (), ledger: None | str | Ledger = None,
                  **options: Any) -> Any:
    from analysis import analyze

    return analyze(path, out_dir, compare=_compared(compare, ledger, options["mode"]), **options)


def analyze_sweep(sweep_id: str, out_dir: str | os.PathLike[str], *, ledger: None | str | Ledger = None,
                  references: dict[str, float] | None = None, importance: bool = True,
                  metric_name: str | None = None, compare: Sequence[tuple[str, str, str]] = (),
                  figures: bool | Sequence[str] = True, warn: bool = True, tracker: Any = None) -> Any:
    """``tracker``: the sweep's tracker where the caller has it open (the driver), else it is opened here."""
    from analysis import analyze

    db = get_ledger(ledger, create=False)
    sweep = db.sweep(sweep_id)
    spec = sweep.spec
    if warn and spec.strategy != "random":
        print(f"warning: {sweep.sweep_id} used {spec.strategy} sampling; re-partitioning into experiments assumes "
              "i.i.d. trials, so read the efficiency curve as indicative only", file=sys.stderr)
    if warn and sweep.status != SweepStatus.COMPLETED:
        print(f"warning: {sweep.sweep_id} is {sweep.status}; analysing the trials finished so far", file=sys.stderr)
    note = None
    if spec.metric not in NOISE_METRICS:
        note = (f"The noise model (eq. 5–6) was not used: {spec.metric} is not a proportion of correct answers, "
                "and its binomial variance describes accuracies.")
    report = analyze(_frame(db, sweep.sweep_id, spec.metric), out_dir, mode=sweep.mode,
                     distributions=optuna_distributions(spec.space), references=references,
                     metric_name=metric_name or spec.metric, importance=importance, figures=figures,
                     compare=_compared(compare, db, sweep.mode, spec), noise_note=note,
                     early_terminated=True if spec.early_terminate is not None else None)
    if sweep.tracking_uri and sweep.mlflow_run_id:
        from searchsvc.stores.tracking import get_tracker

        get_tracker(tracker or sweep.tracking_uri).log_artifacts(sweep.mlflow_run_id, out_dir, "analysis")
    return report


def what_if_sweep(sweep_id: str, rules: Sequence[str], out_dir: str | os.PathLike[str], *,
                  ledger: None | str | Ledger = None, metric_name: str | None = None) -> Any:
    """Early-termination rules replayed on a full sweep's recorded epochs (``analysis.what_if``), into ``out_dir``."""
    from analysis import analyze_what_if, write_what_if

    db = get_ledger(ledger, create=False)
    sweep = db.sweep(sweep_id)
    if sweep.spec.early_terminate is not None:
        raise UsageError(f"--what-if: sweep {sweep.sweep_id} ran with early_terminate, so its trials' curves end where "
                         "the rule stopped them; replay a rule on a sweep that ran every trial to its end")
    result = analyze_what_if(_frame(db, sweep.sweep_id, sweep.metric), rules, mode=sweep.mode,
                             curves=curves_frame(db, sweep.sweep_id), max_epochs=sweep.spec.training.max_epochs)
    write_what_if(result, out_dir, metric_name=metric_name or sweep.metric)
    return result


def what_if_table(path: str | os.PathLike[str], rules: Sequence[str], out_dir: str | os.PathLike[str], *,
                  mode: str, metric_name: str) -> Any:
    """The same for a trials table, whose curves lie beside it (``T.curves.csv``, as ``searchsvc export`` writes)."""
    from analysis import analyze_what_if, write_what_if

    result = analyze_what_if(path, rules, mode=mode)
    write_what_if(result, out_dir, metric_name=metric_name)
    return result


def summarize_on_dashboard(sweep_id: str, ledger: Ledger, tracker: Any) -> None:
    """A random sweep's key results on its MLflow run as it ends (all its trials final): the analysis's
    summary, the expected best test score of s trials, and the efficiency and expected-best figures with
    the analysis tables under ``analysis/``. fANOVA and the other figures are left to ``searchsvc analyze``,
    which replaces these files."""
    import tempfile

    sweep = ledger.sweep(sweep_id)
    with tempfile.TemporaryDirectory(prefix="searchsvc-summary-") as out:
        report = analyze_sweep(sweep_id, out, ledger=ledger, importance=False, figures=DASHBOARD_FIGURES, warn=False,
                               tracker=tracker)
    expected = [(row["n"], row["mean"]) for row in report.expected_best_rows(powers_of_two=True)]
    tracker.log_summary(sweep.mlflow_run_id, report.summary_text(), expected, sweep.metric)


#: the figures a sweep's MLflow run gets as the sweep ends
DASHBOARD_FIGURES = ("efficiency", "expected_best")


def warm_up_summary() -> None:
    """What :func:`summarize_on_dashboard` loads on first use, loaded ahead, while a sweep's last trials run: the
    analysis, matplotlib and its fonts (a first figure's text), the seconds that would otherwise follow the last."""
    import io

    from analysis import pipeline, plots  # noqa: F401 - loaded, not used
    from matplotlib.backends import backend_svg  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, "s")
    fig.savefig(io.BytesIO(), format="png")


def _frame(db: Ledger, sweep_id: str, metric: str) -> Any:
    frame = trials_frame(db, sweep_id)
    return frame if metric in NOISE_METRICS else frame.drop(columns=["val_n", "test_n"])


def _compared(compare: Sequence[tuple[str, str, str]], ledger: None | str | Ledger, mode: str,
              spec: Any = None) -> list[tuple[str, str, Any]]:
    """``(label, kind, source)`` → ``(label, kind, table)``: a source is a trials table's path, or a sweep
    of the ledger, searched with that kind of strategy on the same data set and objective (a grid's points
    are its own choice of the space: that they lie in the random search's ranges is the user's to say)."""
    from pathlib import Path

    out = []
    for label, kind, source in compare:
        if Path(source).suffix.lower() in (".csv", ".parquet"):
            out.append((label, kind, source))
            continue
        db = get_ledger(ledger, create=False)
        sweep = db.sweep(source)
        other = sweep.spec
        if other.strategy != kind:
            raise UsageError(f"--compare {label}: sweep {sweep.sweep_id} searched with {other.strategy}, not {kind}; "
                             f"write --compare {other.strategy}={source}")
        if sweep.mode != mode or (spec is not None and (other.metric, other.dataset) != (spec.metric, spec.dataset)):
            raise UsageError(f"--compare {label}: sweep {sweep.sweep_id} searched another data set or objective than "
                             "the analysed one; compare searches of the same task and objective")
        out.append((label, kind, _frame(db, sweep.sweep_id, other.metric)))
    return out
