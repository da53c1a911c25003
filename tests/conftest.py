"""Shared fixtures: every test gets its own searchsvc home, so nothing touches the user's."""

import pytest


@pytest.fixture(autouse=True)
def searchsvc_home(tmp_path, monkeypatch):
    home = tmp_path / "searchsvc-home"
    monkeypatch.setenv("SEARCHSVC_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home
