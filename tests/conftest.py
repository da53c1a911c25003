"""Shared fixtures: every test gets its own searchsvc home, so nothing touches the user's."""

import pytest


@pytest.fixture(autouse=True)
def searchsvc_home(tmp_path, monkeypatch):
    home = tmp_path / "searchsvc-home"
    monkeypatch.setenv("SEARCHSVC_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away database on the machine's PostgreSQL (127.0.0.1:5432, trust auth); skipped without one."""
    import secrets

    psycopg = pytest.importorskip("psycopg")
    name = f"searchsvc_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {e}")
    admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()
