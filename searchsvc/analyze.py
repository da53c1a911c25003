"""``searchsvc analyze``: the analysis library applied to a sweep of the ledger (or any trials table),
with the sweep's own search space, direction and metric, and the results attached to its MLflow run."""

from __future__ import annotations

import os
import sys
from typing import Any

from searchsvc.export import optuna_distributions, trials_frame
from searchsvc.ledger import Ledger, get_ledger


def analyze_table(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], **options: Any) -> Any:
    from analysis import analyze

    return analyze(path, out_dir, **options)


def analyze_sweep(sweep_id: str, out_dir: str | os.PathLike[str], *, ledger: None | str | Ledger = None,
                  references: dict[str, float] | None = None, importance: bool = True,
                  metric_name: str | None = None) -> Any:
    from analysis import analyze
    from searchsvc.spec import SweepSpec

    db = get_ledger(ledger)
    sweep = db.sweep(sweep_id)
    spec = SweepSpec.model_validate(sweep.spec)
    if spec.strategy != "random":
        print(f"warning: {sweep.sweep_id} used {spec.strategy} sampling; re-partitioning into experiments assumes "
              "i.i.d. trials, so read the efficiency curve as indicative only", file=sys.stderr)
    if sweep.status != "completed":
        print(f"warning: {sweep.sweep_id} is {sweep.status}; analysing the trials finished so far", file=sys.stderr)
    frame = trials_frame(db, sweep.sweep_id)
    if spec.metric != "accuracy":  # the binomial noise model of eq. 5-6 describes accuracies only
        frame = frame.drop(columns=["val_n", "test_n"])
    report = analyze(frame, out_dir, mode=sweep.mode, distributions=optuna_distributions(spec.space),
                     references=references, metric_name=metric_name or spec.metric, importance=importance)
    if sweep.tracking_uri and sweep.mlflow_run_id:
        from searchsvc.tracking import get_tracker

        get_tracker(sweep.tracking_uri).log_artifacts(sweep.mlflow_run_id, out_dir, "analysis")
    return report
