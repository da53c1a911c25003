"""Small tables shared by the analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

from analysis.synthetic import synthetic_trials


@pytest.fixture(scope="session")
def synthetic() -> pd.DataFrame:
    """200 synthetic LSTM trials with set sizes, failures, conditional params."""
    return synthetic_trials(200, seed=3)


def table(val, test, *, status=None, val_n=None, test_n=None, **params) -> pd.DataFrame:
    """A trials table from plain lists (trial_index 0..S-1, status ok unless given)."""
    frame = pd.DataFrame({"trial_index": np.arange(len(val)), "status": status or ["ok"] * len(val), "val_score": val, "test_score": test})
    if val_n is not None:
        frame["val_n"], frame["test_n"] = val_n, test_n
    for name, values in params.items():
        frame["param_" + name] = values
    return frame


@st.composite
def tables(draw):
    """Random small tables: ties, all-equal scores, S = 1, failures, optional set sizes, conditional NaN."""
    size = draw(st.integers(1, 40))
    val = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.5, 0.75, 1.0]), min_size=size, max_size=size))
    test = draw(st.lists(st.floats(0, 1), min_size=size, max_size=size))
    status = draw(st.lists(st.sampled_from(["ok", "ok", "ok", "diverged", "error", "infra"]), min_size=size, max_size=size))
    status[0] = "ok"
    sizes = draw(st.sampled_from([None, 2, 100, 10**6]))
    frame = table(val, test, status=status, val_n=sizes, test_n=sizes, units=[16.0] * size)
    frame.loc[[s == "diverged" for s in status], ["val_score", "test_score"]] = np.nan
    frame["param_dropout"] = [np.nan if v < 0.5 else v for v in val]
    return frame, draw(st.sampled_from(["max", "min"]))
