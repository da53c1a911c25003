"""Fixtures of the analysis tests (their builders: tests/analysis/tables.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.synthetic import synthetic_trials


@pytest.fixture(scope="session")
def synthetic() -> pd.DataFrame:
    """200 synthetic LSTM trials with set sizes, failures, conditional params."""
    return synthetic_trials(200, seed=3)
