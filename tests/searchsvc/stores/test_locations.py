"""Where the stores are: each address parsed once into its kind, refused where it cannot serve (exit 2,
naming the flag and its variable)."""

from __future__ import annotations

import pytest

from searchsvc.errors import UsageError
from searchsvc.stores.locations import LedgerLocation, TrackingLocation


def test_a_ledger_address_is_a_file_or_a_server() -> None:
    file = LedgerLocation.parse("sqlite:////tmp/x/ledger.db")
    assert file.is_file and str(file.path) == "/tmp/x/ledger.db" and not file.present()
    server = LedgerLocation.parse("postgresql://searchsvc:secret@db:5432/searchsvc")
    assert not server.is_file and server.url.startswith("postgresql+psycopg://") and "secret" not in server.display
    assert server.present()
    server.check_cluster_use()
    with pytest.raises(UsageError, match="is a file on the machine that runs the driver"):
        file.check_cluster_use()


def test_a_tracking_address_is_a_local_store_or_a_server() -> None:
    local = TrackingLocation.parse("sqlite:////tmp/x/mlflow.db")
    assert not local.is_server and str(local.artifact_root).endswith("/tmp/x/mlartifacts")
    server = TrackingLocation.parse("https://mlflow.example:5000")
    assert server.is_server and server.artifact_root is None
    server.check_cluster_use()
    with pytest.raises(UsageError, match="is a file on the machine"):
        local.check_cluster_use()


@pytest.mark.parametrize("uri", ["http://h:abc", "mlflow:5000", "http://:5000"])
def test_a_malformed_tracking_address_names_the_flag_and_variable(uri) -> None:
    with pytest.raises(UsageError, match=r"^--tracking-uri \(or \$MLFLOW_TRACKING_URI\)"):
        TrackingLocation.parse(uri)
