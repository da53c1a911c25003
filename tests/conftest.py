"""Shared fixtures: every test gets its own searchsvc home, so nothing touches the user's."""

import pytest


@pytest.fixture(autouse=True)
def searchsvc_home(tmp_path, monkeypatch):
    home = tmp_path / "searchsvc-home"
    monkeypatch.setenv("SEARCHSVC_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away database on the machine's PostgreSQL (127.0.0.1:5432, trust auth); skipped without one."""
    psycopg = pytest.importorskip("psycopg")
    from tests.searchsvc.servers import PG_ADMIN, scratch_database

    try:
        psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3).close()
    except psycopg.OperationalError as e:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {e}")
    with scratch_database("searchsvc_test") as url:
        yield url
