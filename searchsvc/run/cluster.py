"""Where trials run: the embedded Ray, or a Ray cluster this driver joins; what a trial asks of it, and
how many trials run at once.

``connect(address)`` is the executor's factory: ``None`` starts an embedded Ray on this machine;
``host:port`` joins the cluster whose head listens there (the driver runs on a node of it, as a job's
driver does, ``auto``). Ray Client (``ray://``) is refused: Tune would run searchsvc's recorder on the
head, away from this process, so results would not be recorded; a sweep is submitted to a cluster
through the Jobs API instead (``submit --cluster``, :mod:`searchsvc.run.jobs`).

On a cluster, ``gpus: auto`` and ``max_concurrent: auto`` follow what the cluster has *when each bundle
of trials starts* (:meth:`Cluster.capacity`), so GPU workers that join a running sweep are used.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from searchsvc.errors import SearchSvcError, UsageError
from searchsvc.stores.locations import CONNECT_TIMEOUT_S
from searchsvc.sweep.spec import SweepSpec

#: GPU share per trial under ``gpus: auto`` when the GPUs' memory is not known (four small LSTMs per GPU)
AUTO_GPU_SHARE = 0.25
#: seconds a cluster's resources are taken as known before they are asked again
RESOURCES_TTL_S = 5.0


@dataclass(frozen=True)
class Capacity:
    """What the next bundle of trials gets: each trial's GPU share, and how many trials run at once."""

    gpu_share: float
    slots: int


class Cluster:
    """A Ray this process is connected to, and what one trial of a spec asks of it."""

    def __init__(self, spec: SweepSpec, address: str | None) -> None:
        self.spec, self.address = spec, address
        self._resources: dict[str, float] = {}
        self._asked = -RESOURCES_TTL_S
        self._gpu_memory: int | None = spec.resources.gpu_memory

    @property
    def embedded(self) -> bool:
        return self.address is None

    def resources(self) -> dict[str, float]:
        """The cluster's total resources, asked again after RESOURCES_TTL_S (nodes come and go)."""
        if time.monotonic() - self._asked >= RESOURCES_TTL_S:
            import ray

            self._resources, self._asked = ray.cluster_resources(), time.monotonic()
        return self._resources

    def capacity(self, need: Callable[[], int] | None = None, grown: int = 0) -> Capacity:
        """What the next bundle gets, for a trial of ``need()`` bytes of estimated GPU memory (asked only where
        there are GPUs; ``grown``: doublings after running out of it): with ``gpus: auto``, the share that
        memory needs (:mod:`searchsvc.run.packing`) where the GPUs' memory is known, else AUTO_GPU_SHARE; and
        as many at once as the cluster's CPUs, and its GPUs at that share, hold."""
        from searchsvc.run.packing import gpu_share

        spec, have = self.spec, self.resources()
        gpus = spec.resources.gpus
        if gpus == "auto":
            gpus = 0.0
            if have.get("GPU", 0) > 0:
                memory = self.gpu_memory() if need is not None else None
                gpus = gpu_share(need(), memory, grown) if memory else min(1.0, AUTO_GPU_SHARE * 2**grown)
        slots = spec.max_concurrent
        if slots == "auto":  # as many as the cluster's CPUs, and its GPUs when trials take a GPU share, fit
            slots = min(have.get("CPU", 1) // spec.resources.cpus, have.get("GPU", 0) // gpus if gpus else float("inf"))
        return Capacity(gpus, max(1, int(slots)))

    def gpu_memory(self) -> int | None:
        """The memory of one of the cluster's GPUs, in bytes: the spec's ``resources.gpu_memory``, else asked
        once of a GPU worker (None when none answers: shares fall back to AUTO_GPU_SHARE)."""
        if self._gpu_memory is None:
            import ray

            try:
                self._gpu_memory = ray.get(ray.remote(num_gpus=0.01, num_cpus=0)(_device_memory).remote(),
                                           timeout=120)
            except Exception:  # noqa: BLE001 - no GPU answered: the fixed share
                self._gpu_memory = 0
        return self._gpu_memory or None

    def check_fits(self) -> None:
        """On the embedded Ray, refuse a trial that asks for more than this machine has (it would wait
        forever); a cluster may still grow (an autoscaler, a worker that joins later)."""
        if not self.embedded:
            return
        have = self.resources()
        cpus, gpus = self.spec.resources.cpus, self.spec.resources.gpus
        for field, wanted, kind in (("cpus", cpus, "CPU"), ("gpus", 0.0 if gpus == "auto" else gpus, "GPU")):
            if wanted > have.get(kind, 0):
                raise UsageError(f"resources.{field}: each trial asks for {wanted:g} {kind}"
                                 f"{'' if wanted == 1 else 's'}, but this machine's Ray has {have.get(kind, 0):g}; ask "
                                 "for at most that (gpus: auto uses a GPU where there is one), or submit it to a "
                                 "cluster that has them (--cluster)")


def _device_memory() -> int:
    """On a GPU worker: its GPU's memory in bytes."""
    import torch

    return int(torch.cuda.get_device_properties(0).total_memory)


def connect(spec: SweepSpec, address: str | None) -> Cluster:
    """Start the embedded Ray (``address`` None) or join a cluster; checks that the spec's trials can run."""
    if address is not None and address.startswith("ray://"):
        raise UsageError(f"--address: Ray Client addresses ({address}) are not supported: Tune would record the "
                         "trials on the cluster's head instead of here; submit the sweep through the Jobs API "
                         "instead: searchsvc submit SPEC --cluster http://HEAD:8265")
    if address not in (None, "auto"):
        _check_reachable(address)
    _start_ray(address)
    cluster = Cluster(spec, address)
    cluster.check_fits()
    return cluster


def stop() -> None:
    """Leave Ray as a process that is done with it does: the embedded Ray this process started is stopped, a
    cluster is left running. Ray's own exit would wait a second on its autoscaler monitor, which answers
    SIGTERM by reporting to the GCS that Ray stops first; the embedded Ray has nothing to autoscale, so that
    monitor is killed at once, through Ray's private ``Node.kill_monitor``, before ``ray.shutdown``."""
    import contextlib

    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    if node is not None and node.is_head():
        with contextlib.suppress(AttributeError, RuntimeError):
            node.kill_monitor(check_alive=False)
    ray.shutdown()


def _check_reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address: expected HOST:PORT of a Ray head (e.g. 10.0.0.5:6380) or auto, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise SearchSvcError(f"Ray: nothing answers at {address} ({e.strerror or e}); check that the head runs "
                             f"(`ray start --head --port={port}`) and that this machine reaches it") from e


def _start_ray(address: str | None) -> None:
    """Start (or join) Ray quietly."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # we record results ourselves
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # An embedded Ray starts its workers at nice 15, below the driver and Ray's daemons; trials are the
    # work here, so they run at the priority of everything else (a cluster keeps its own setting).
    os.environ.setdefault("RAY_worker_niceness", "0")
    if address is not None and os.environ.get("RAY_AUTH_TOKEN"):
        os.environ.setdefault("RAY_AUTH_MODE", "token")  # a cluster with Ray's token authentication
    import ray

    if ray.is_initialized():
        return
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 configure_logging=True)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise SearchSvcError(f"Ray: cannot start or reach a cluster at {address or 'local'}: {e}") from e
    if address is None:
        _stop_log_monitor()


def _stop_log_monitor() -> None:
    """The embedded Ray's log monitor streams the workers' output to a driver that shows it; this one does
    not (``log_to_driver=False``), and the monitor polls the log files ten times a second, CPU taken from
    the trials. Ray has no setting for it, so its process is stopped through Ray's private
    ``Node.kill_log_monitor`` (a Ray without it, or a joined cluster, keeps its monitor)."""
    import contextlib

    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    with contextlib.suppress(AttributeError, RuntimeError):
        node.kill_log_monitor(check_alive=False)
