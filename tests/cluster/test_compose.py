"""docker-compose.yml as a real compose implementation reads it (Debian's docker-compose parses it without
an engine), what a deployment needs of it, and that the native cluster of tests/cluster runs its commands."""

from __future__ import annotations

import shutil

import pytest

from tests.cluster.native import NATIVE_ONLY, ROOT, NativeCluster, compose_config, flags

pytestmark = pytest.mark.skipif(shutil.which("docker-compose") is None,
                                reason="docker-compose is not installed (.ci/run installs Debian's docker-compose)")

SERVICES = {"postgres", "mlflow", "ray-head", "ray-worker", "ray-gpu-worker"}


def test_compose_accepts_the_file_and_every_service_is_restarted_and_checked() -> None:
    services = compose_config()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_only_loopback_ports_are_published_and_no_secret_is_in_the_repository() -> None:
    services = compose_config()["services"]
    published = {name: [str(p) for p in s.get("ports", [])] for name, s in services.items()}
    assert all(p.startswith("127.0.0.1:") for ports in published.values() for p in ports), published
    assert not any(":6379" in p or ":6380" in p for ports in published.values() for p in ports)  # Ray's GCS stays inside
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text and "${RAY_AUTH_TOKEN:?" in text  # from .env, refused when unset
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_mlflow_accepts_the_compose_networks_host_names() -> None:
    command = compose_config()["services"]["mlflow"]["command"]
    allowed = flags(command)["--allowed-hosts"].split(",")
    assert {"mlflow", "mlflow:*"} <= set(allowed)  # else MLflow 3 answers 403 to http://mlflow:5000


def test_workers_advertise_what_their_container_is_given() -> None:
    services = compose_config()["services"]
    for name in ("ray-worker", "ray-gpu-worker"):
        assert flags(services[name]["command"])["--num-cpus"] == str(services[name]["cpus"]).rstrip("0").rstrip(".")
    reserved = services["ray-gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["count"]
    assert flags(services["ray-gpu-worker"]["command"])["--num-gpus"] == str(reserved)


def test_the_native_cluster_runs_composes_commands_with_composes_flags(tmp_path) -> None:
    services = compose_config()["services"]
    for name, native in NativeCluster(tmp_path).plan().items():
        command = services[name]["command"]
        assert native.command[0].endswith(command[0]) and native.command[1:len(command) - len(flags(command))] == \
            [part for part in command[1:] if not part.startswith("--")]
        assert set(flags(command)) <= set(flags(native.command)), name
        assert set(flags(native.command)) - set(flags(command)) <= NATIVE_ONLY, name
        assert set(services[name]["environment"]) <= set(native.env), name
