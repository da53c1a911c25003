"""A real two-node Ray cluster with the Jobs API, a real MLflow server on PostgreSQL: docker-compose.yml's
services, started natively (tests/cluster/native.py), once for the module's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.native import NativeCluster

SPEC = """\
name: cluster
seed: 3
trials: {trials}
dataset: {{name: mnist1d, samples: 2000}}
training: {{max_epochs: {epochs}, patience: null}}
resources: {{cpus: 1}}
space:
  units: {{type: log_int, low: 16, high: 32}}
  optimizer: {{type: choice, values: [sgd, adam]}}
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
  momentum: {{type: uniform, low: 0.5, high: 0.9, when: {{optimizer: sgd}}}}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    native = NativeCluster(tmp_path_factory.mktemp("cluster"))
    try:
        native.start()
    except Exception:
        native.stop()
        pytest.fail(f"the native cluster did not start:\n{native.logs()}")
    yield native
    native.stop()


@pytest.fixture
def cluster_logs_on_failure(request, cluster):
    """A failed test shows what the services printed."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(cluster.logs())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def spec(tmp_path):
    def write(trials: int = 8, epochs: int = 12) -> Path:
        path = tmp_path / f"cluster-{trials}-{epochs}.yaml"
        path.write_text(SPEC.format(trials=trials, epochs=epochs))
        return path

    return write


@pytest.fixture
def searchsvc(cluster, tmp_path):
    """``searchsvc(*args)`` in a new process of a user's machine (it reaches the cluster and the stores)."""

    def run(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "searchsvc", *map(str, args)], capture_output=True, text=True,
                                timeout=timeout, env={**cluster.client_env, "SEARCHSVC_HOME": str(tmp_path / "laptop")})
        if check:
            assert result.returncode == 0, f"searchsvc {' '.join(map(str, args))}: {result.stderr[-3000:]}"
        return result

    return run
