"""From the ledger to the analysis: the trials table (the documented interchange format) and the
sweep's search space as optuna distributions (for fANOVA)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from searchsvc.stores.ledger import Ledger
from searchsvc.sweep.space import Choice, Int, LogInt, LogUniform, Param, Uniform
from searchsvc.status import TrialStatus

if TYPE_CHECKING:
    import pandas as pd


def trials_frame(ledger: Ledger, sweep_id: str) -> pd.DataFrame:
    """One row per trial with a result (ok, diverged, error, infra): the table's columns (``analysis.table``)
    from each trial's result, then ``param_<name>`` (``None`` where inactive). Pending, running and
    cancelled trials have none yet."""
    import pandas as pd

    from analysis.table import OPTIONAL_COLUMNS, PARAM_PREFIX, REQUIRED_COLUMNS

    scores = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c not in ("trial_index", "status")]
    trials = [t for t in ledger.trials(sweep_id, epochs=False) if TrialStatus(t.status).has_result]
    names = list(dict.fromkeys(name for t in trials for name in t.config))
    rows = [{"trial_index": t.trial_index, "status": str(t.status), **{c: getattr(t.result, c, None) for c in scores},
             **{f"{PARAM_PREFIX}{n}": t.config.get(n) for n in names}} for t in trials]
    return pd.DataFrame(rows, columns=["trial_index", "status", *scores, *(f"{PARAM_PREFIX}{n}" for n in names)])


def curves_frame(ledger: Ledger, sweep_id: str) -> pd.DataFrame:
    """Every epoch of the trials of :func:`trials_frame` (their last attempt's): the curves table beside it
    (``analysis.curves``), which a what-if replays."""
    import pandas as pd

    from analysis.curves import CURVE_COLUMNS, OPTIONAL_CURVE_COLUMNS

    columns = (*CURVE_COLUMNS, *OPTIONAL_CURVE_COLUMNS)
    rows = [{"trial_index": t.trial_index, **{c: getattr(e, c) for c in columns[1:]}}
            for t in ledger.trials(sweep_id) if t.status.has_result for e in t.epoch_metrics]
    return pd.DataFrame(rows, columns=list(columns))


def optuna_distributions(space: dict[str, Param]) -> dict[str, Any]:
    """The searched (not fixed) parameters as optuna distributions."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, Choice) and len(p.values) > 1:
            out[name] = CategoricalDistribution(p.values)
        elif isinstance(p, (Uniform, LogUniform)) and p.low < p.high:
            out[name] = FloatDistribution(p.low, p.high, log=isinstance(p, LogUniform))
        elif isinstance(p, (Int, LogInt)) and p.low < p.high:
            out[name] = IntDistribution(p.low, p.high, log=isinstance(p, LogInt))
        # a fixed value (or a range of one value) has nothing to rank
    return out
