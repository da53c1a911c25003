"""What the CLI prints: trials, sweeps and outcomes as text lines and as JSON (it prints nothing itself; the
outcome's dashboard line reads whether ``$MLFLOW_TRACKING_URI`` is set)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from searchsvc.stores.records import SweepRecord, TrialRecord


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


def rows_json(data: dict[str, Any], key: str, rows: list[dict[str, Any]]) -> str:
    """``data`` with ``rows`` under ``key``, indented as :func:`to_json` but one row a line: Python's JSON
    encoder indents in Python and writes compact JSON in C, which a sweep of 10^4 trials needs."""
    if not data or not rows:
        return to_json({**data, key: rows})
    lines = ",\n".join("    " + json.dumps(row, default=str) for row in rows)
    return f"{to_json(data)[:-2]},\n  {json.dumps(key)}: [\n{lines}\n  ]\n}}"  # to_json(data) ends in "\n}"


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def config_text(config: dict[str, object]) -> str:
    return " ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in config.items() if v is not None)


def trial_json(t: TrialRecord) -> dict[str, Any]:
    """A trial's record, flat: its result's fields (``None`` without a result) beside its bookkeeping."""
    from searchsvc.stores.schema import RESULT_FIELDS

    return {"trial_index": t.trial_index, "status": str(t.status), "attempts": t.attempts, "config": t.config,
            **{name: getattr(t.result, name, None) for name in RESULT_FIELDS}, "message": t.message,
            "node_id": t.node.node_id if t.node else None, "host": t.node.host if t.node else None,
            "mlflow_run_id": t.mlflow_run_id, "started_at": t.started_at, "finished_at": t.finished_at}


def trial_line(t: TrialRecord) -> str:
    epochs = t.result.epochs if t.result else None
    return (f"{t.trial_index:>5}  {t.status:<9} {fmt(t.val_score):>8} {fmt(t.test_score):>8} "
            f"{epochs if epochs is not None else '-':>6}  {config_text(t.config)}")


def best_line(best: TrialRecord, metric: str) -> str:
    return (f"best: trial {best.trial_index}, val {metric} {best.val_score:.4g}, test {metric} {fmt(best.test_score)} "
            f"— {config_text(best.config)}")


def sweep_line(sweep: SweepRecord, counts: dict[str, int]) -> str:
    where = f" on {sweep.cluster} (job {sweep.job_id})" if sweep.job_id else ""
    return (f"{sweep.sweep_id}: {sweep.status}, {sweep.trials} trials{where} — " +
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def outcome_json(o: Any) -> dict[str, Any]:
    return {"sweep_id": o.sweep_id, "status": str(o.status), "counts": dict(o.counts),
            "best": trial_json(o.best) if o.best else None, "ledger": o.ledger, "tracking_uri": o.tracking_uri,
            "parent_run_id": o.parent_run_id, "wall_seconds": round(o.wall_seconds, 3), "bundles": o.bundles,
            "recording_cpu_seconds": round(o.recording_cpu_seconds, 3), "ledger_lost": list(o.ledger_lost),
            "ledger_error": o.ledger_error, "mlflow_missing": list(o.mlflow_missing), "mlflow_error": o.mlflow_error,
            "speculative_seconds": round(o.speculative_seconds, 3), "out_of_memory": o.out_of_memory}


def outcome_text(metric: str, o: Any) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(o.counts.items()))
    lines = [f"Sweep {o.sweep_id} {o.status} in {o.wall_seconds:.0f} s: {sum(o.counts.values())} trials ({counts})"]
    if o.best:
        lines.append(f"Best trial {o.best.trial_index}: val {metric} {fmt(o.best.val_score)}, "
                     f"test {metric} {fmt(o.best.test_score)}")
        lines.append(f"  {config_text(o.best.config)}")
    lines.append(f"Ledger:    {o.ledger}")
    if o.tracking_uri:
        lines.append(f"MLflow:    {o.tracking_uri} (parent run {o.parent_run_id})")
        page = o.dashboard_path or ""
        from searchsvc.stores.locations import TrackingLocation

        if TrackingLocation.parse(o.tracking_uri).is_server:
            lines.append(f"Dashboard: {o.tracking_uri.rstrip('/')}{page}")
        else:
            lines.append("Dashboard: searchsvc ui" + (f" --tracking-uri {o.tracking_uri}"
                                                      if "MLFLOW_TRACKING_URI" in os.environ else "")
                         + (f", then http://127.0.0.1:5000{page}" if page else ""))
    lines.append(f"Trials:    searchsvc show {o.sweep_id}")
    if o.best:
        lines.append(f"Next:      searchsvc analyze {o.sweep_id} --out {o.sweep_id}-analysis")
    return "\n".join(lines)


def indices_text(indices: tuple[int, ...], most: int = 10) -> str:
    shown = ", ".join(map(str, indices[:most]))
    return shown + (f", … ({len(indices)} in all)" if len(indices) > most else "")
