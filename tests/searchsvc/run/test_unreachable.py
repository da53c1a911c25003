"""A cluster, MLflow server or database that does not answer: exit 1 within 15 s, naming the address and what
to check; no traceback, nothing written. And what a cluster cannot be given: Ray Client addresses, file
stores for a cluster's driver, a data file too large to upload."""

from __future__ import annotations

import time

import pytest

from tests.cluster.native import free_port

CLOSED = free_port()  # nothing listens there
UNROUTABLE = "10.255.255.1"  # packets go nowhere: only a timeout ends the wait


@pytest.mark.parametrize(("flags", "named"), [
    (["--cluster", f"http://127.0.0.1:{CLOSED}"], f"Jobs API at http://127.0.0.1:{CLOSED}"),
    (["--cluster", f"http://{UNROUTABLE}:8265"], f"Jobs API at http://{UNROUTABLE}:8265"),
    (["--tracking-uri", f"http://127.0.0.1:{CLOSED}"], f"tracking server at http://127.0.0.1:{CLOSED}"),
    (["--tracking-uri", f"http://{UNROUTABLE}:5000"], f"tracking server at http://{UNROUTABLE}:5000"),
    (["--ledger", f"postgresql://searchsvc:secret@127.0.0.1:{CLOSED}/db"], f"127.0.0.1:{CLOSED}/db"),
    (["--ledger", f"postgresql://searchsvc@{UNROUTABLE}:5432/db"], f"{UNROUTABLE}:5432/db"),
    (["--address", f"127.0.0.1:{CLOSED}"], f"Ray: nothing answers at 127.0.0.1:{CLOSED}"),
])
def test_an_unreachable_service_fails_within_15_s_naming_it(flags, named, run, tiny_spec, searchsvc_home) -> None:
    started = time.monotonic()
    code, out, err = run("submit", tiny_spec(), "-q", *flags)
    took = time.monotonic() - started
    assert code == 1 and named in err and "Traceback" not in err and "secret" not in err, err
    assert took < 15, f"{took:.1f} s to give up"
    written = {p.name for p in searchsvc_home.iterdir()} if searchsvc_home.exists() else set()
    assert written <= {"datasets"}, f"nothing is written for a sweep that cannot start: {written}"


@pytest.mark.parametrize(("flags", "needle"), [
    (["--address", "ray://head:10001"], "--cluster http://HEAD:8265"),
    (["--cluster", "http://127.0.0.1:1", "--ledger", "sqlite:///x.db"], "a database server that the cluster"),
    (["--cluster", "http://127.0.0.1:1", "--tracking-uri", "sqlite:///m.db"], "an MLflow tracking server"),
    (["--cluster", "head:8265"], "--cluster: expected the Ray dashboard's address"),
    (["--cluster", "http://127.0.0.1:1", "--address", "head:6380"], "give one"),
])
def test_what_a_cluster_cannot_be_given_exits_2(flags, needle, run, tiny_spec) -> None:
    code, _, err = run("submit", tiny_spec(), "-q", *flags)
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_a_data_file_over_the_upload_limit_is_refused_before_anything_is_sent(run, tmp_path, monkeypatch) -> None:
    import numpy as np

    monkeypatch.setattr("searchsvc.run.jobs.UPLOAD_LIMIT_BYTES", 1000)
    np.savez(tmp_path / "big.npz", X=np.zeros((50, 10, 1), np.float32), y=np.arange(50) % 2)
    spec = tmp_path / "npz.yaml"
    spec.write_text("name: npz\ntrials: 2\ndataset: {name: npz, path: big.npz}\nspace: {units: 8}\n")
    code, _, err = run("submit", spec, "--cluster", "http://127.0.0.1:1", "-q")
    assert code == 2 and "--data-on-cluster" in err and "MiB a Ray job can upload" in err, err


def test_a_jobs_driver_refuses_file_stores_before_anything_is_written(tiny_spec, searchsvc_home) -> None:
    """What the cluster's nodes name is checked where the driver runs: a SQLite ledger or MLflow store would
    be a file on the head, out of reach of every other machine."""
    from searchsvc.run.driver import Job, submit
    from searchsvc.errors import UsageError
    from searchsvc.sweep.spec import load_spec

    spec = load_spec(tiny_spec())
    job = Job("j-1", "http://head:8265")
    with pytest.raises(UsageError, match="a database server that the cluster"):
        submit(spec, job=job)  # the defaults: SQLite files under $SEARCHSVC_HOME
    with pytest.raises(UsageError, match="an MLflow tracking server"):
        submit(spec, job=job, ledger="postgresql://searchsvc@127.0.0.1:5432/x")
    assert not (searchsvc_home / "ledger.db").exists() and not (searchsvc_home / "mlflow.db").exists()
