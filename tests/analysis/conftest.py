"""Small tables shared by the analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
