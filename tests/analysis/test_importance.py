"""fANOVA importance with conditional parameters, the inferred and the given search space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from analysis import TrialTable, fanova_importance, infer_distribution, param_space
from analysis.importance import ALL_TRIALS, WHERE_ACTIVE
from analysis.errors import DataError
from tests.analysis.tables import table

FAST = {"n_trees": 8, "max_depth": 4}


def test_inferred_distributions():
    assert infer_distribution(pd.Series(["adam", "sgd"])) == CategoricalDistribution(["adam", "sgd"])
    assert infer_distribution(pd.Series([True, False])) == CategoricalDistribution([False, True])
    assert infer_distribution(pd.Series([1.0, 2.0, 4.0])) == IntDistribution(1, 4)
    assert infer_distribution(pd.Series([16, 2048])) == IntDistribution(16, 2048, log=True)
    assert infer_distribution(pd.Series([1e-4, 0.1, 0.01])) == FloatDistribution(1e-4, 0.1, log=True)
    assert infer_distribution(pd.Series([0.0, 0.5, 0.25])) == FloatDistribution(0.0, 0.5)
    assert infer_distribution(pd.Series([1.5, "x"])) == CategoricalDistribution([1.5, "x"])


def test_given_distributions_convert_csv_values_and_reject_outsiders():
    params = pd.DataFrame({"bidirectional": ["True", "False", None], "units": [32.0, 64.0, np.nan]})
    space = param_space(params, {"bidirectional": CategoricalDistribution([False, True]), "units": IntDistribution(16, 128, log=True)})
    assert space.values["bidirectional"].tolist() == [True, False, None] and space.values["units"].tolist() == [32, 64, None]
    with pytest.raises(DataError, match="'param_units'"):
        param_space(params, {"units": IntDistribution(40, 128)})
    with pytest.raises(DataError, match="'param_bidirectional'"):
        param_space(params, {"bidirectional": CategoricalDistribution(["yes", "no"])})


def test_conditional_parameters_get_a_where_active_scope(synthetic):
    t = TrialTable.from_frame(synthetic, mode="max")
    result = fanova_importance(t, **FAST)
    scopes = {r.param: r.scope for r in result}
    assert scopes == {
        "units": ALL_TRIALS, "layers": ALL_TRIALS, "dropout_placement": ALL_TRIALS, "optimizer": ALL_TRIALS, "lr": ALL_TRIALS,
        "dropout": WHERE_ACTIVE, "momentum": WHERE_ACTIVE,
    }
    overall = [r for r in result if r.scope == ALL_TRIALS]
    assert sum(r.importance for r in overall) == pytest.approx(1.0) and overall[0].param == "lr"
    dropout = next(r for r in result if r.param == "dropout")
    assert dropout.trials == int(t.params["dropout"].notna().sum()) and 0 <= dropout.importance <= 1
    assert fanova_importance(t, **FAST) == result  # seeded


def test_given_distributions_and_min_mode(synthetic):
    t = TrialTable.from_frame(synthetic.assign(val_score=1 - synthetic["val_score"]), mode="min")
    dists = {"lr": FloatDistribution(1e-5, 1.0, log=True), "optimizer": CategoricalDistribution(["sgd", "adam", "rmsprop", "adamw"])}
    result = fanova_importance(t, dists, **FAST)
    assert result[0].param == "lr"


def test_degenerate_tables_do_not_crash():
    constant = table([0.5] * 6, [0.5] * 6, units=[16, 32, 64, 16, 32, 64], act=["relu"] * 6)
    result = fanova_importance(TrialTable.from_frame(constant, mode="max"), **FAST)
    assert {r.param: r.importance for r in result} == {"units": 0.0, "act": 0.0}
    one = table([0.5], [0.5], units=[16], dropout=[np.nan])
    assert [r.importance for r in fanova_importance(TrialTable.from_frame(one, mode="max"), **FAST)] == [0.0]
    assert fanova_importance(TrialTable.from_frame(table([0.5, 0.6], [0.5, 0.6]), mode="max")) == ()
