"""From the ledger to the analysis: one row per trial with a result, its scores and ``param_<name>`` columns
(inactive parameters empty); the sweep's space as optuna distributions."""

from __future__ import annotations

from searchsvc.status import TrialStatus
from searchsvc.stores.export import optuna_distributions, trials_frame
from searchsvc.stores.ledger import get_ledger
from searchsvc.stores.records import TrialRecord
from tests.builders import owned_sweep, result, sweep_spec


def test_the_trials_table_has_a_row_per_trial_with_a_result(tmp_path) -> None:
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    lease = owned_sweep(ledger, "s", trials=4)
    ledger.upsert_trials([
        TrialRecord("s", 0, {"units": 4, "momentum": 0.5}, TrialStatus.OK, attempts=1, result=result(0.7, 0.6)),
        TrialRecord("s", 1, {"units": 8, "momentum": None}, TrialStatus.ERROR, attempts=3, message="boom"),
        TrialRecord("s", 2, {"units": 16, "momentum": None}, TrialStatus.RUNNING, attempts=1),
    ], lease)
    frame = trials_frame(ledger, "s")
    assert list(frame["trial_index"]) == [0, 1] and list(frame["status"]) == ["ok", "error"]
    assert frame.loc[0, "val_score"] == 0.7 and frame.loc[0, "test_n"] == 1000
    assert list(frame["param_units"]) == [4, 8] and frame["param_momentum"].isna().tolist() == [False, True]


def test_the_searched_parameters_become_optuna_distributions() -> None:
    distributions = optuna_distributions(sweep_spec().space)
    assert set(distributions) == {"units", "optimizer", "lr"}
    assert distributions["lr"].log and distributions["units"].log and distributions["optimizer"].choices == ("sgd", "adam")
