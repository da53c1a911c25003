"""End to end on a GPU: a sweep through the real driver (embedded Ray, SQLite ledger, SQLite MLflow)
whose trials each get a quarter of the GPU, and really train on it.

Every trial records the device it trained on; and while the sweep runs, NVML (or ``nvidia-smi``) is
polled for the processes that hold a context on the GPU: those must be Ray workers, never the
driver, and at most 1 / 0.25 = 4 at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

TRIALS, EPOCHS, SHARE = 8, 3, 0.25

SPEC = f"""\
name: gpu-tiny
seed: 5
trials: {TRIALS}
dataset: {{name: mnist1d, samples: 1000}}
training: {{max_epochs: {EPOCHS}, patience: null}}
objective: {{metric: accuracy}}
resources: {{cpus: 1, gpus: {SHARE}}}
space:
  units: {{type: log_int, low: 16, high: 64}}
  layers: {{type: int, low: 1, high: 2}}
  dropout_placement: {{type: choice, values: [none, input, between, output]}}
  dropout: {{type: uniform, low: 0.0, high: 0.3}}
  optimizer: {{type: choice, values: [adam, rmsprop]}}
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
  batch_size: 64
"""


class GpuProcesses(threading.Thread):
    """Polls, until stopped, which processes other than this one hold a context on a GPU.

    ``seen``: pid → command line at first sight (a Ray worker's is its process title, ``ray::…``);
    ``most_at_once``: the largest number of such processes seen in one poll.
    """

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.seen: dict[int, str] = {}
        self.most_at_once = 0
        self.stopped = threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._pids = lambda: {p.pid for h in handles for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h)}
        except Exception:  # no pynvml, or NVML did not load
            smi = shutil.which("nvidia-smi")
            if smi is None:
                pytest.skip("neither pynvml nor nvidia-smi to see which processes use the GPU")
            query = [smi, "--query-compute-apps=pid", "--format=csv,noheader"]
            self._pids = lambda: {int(x) for x in subprocess.run(query, capture_output=True, text=True).stdout.split()}

    def run(self) -> None:
        while not self.stopped.is_set():
            pids = self._pids() - {os.getpid()}
            for pid in pids - self.seen.keys():
                self.seen[pid] = _command_line(pid)
            self.most_at_once = max(self.most_at_once, len(pids))
            self.stopped.wait(self.interval_s)

    def __enter__(self) -> GpuProcesses:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"  # gone already


@pytest.fixture
def ray_shutdown():
    yield
    import ray

    ray.shutdown()


def test_a_sweep_with_a_gpu_share_per_trial_trains_every_trial_on_the_gpu(tmp_path, ray_shutdown) -> None:
    from searchsvc.run.driver import submit
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.sweep.spec import parse_spec

    spec = parse_spec(SPEC)
    ledger = get_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with GpuProcesses() as gpu:
        outcome = submit(spec, ledger=ledger, tracker=f"sqlite:///{tmp_path / 'mlflow.db'}", quiet=True)

    import ray

    assert ray.cluster_resources().get("GPU", 0) >= 1
    assert outcome.status == "completed" and outcome.counts == {"ok": TRIALS}, outcome.counts
    trials = ledger.trials(outcome.sweep_id)
    assert len(trials) == TRIALS
    for t in trials:
        assert (t.status, t.message, t.result.epochs, len(t.epoch_metrics)) == ("ok", None, EPOCHS, EPOCHS), t
        assert 0 < t.val_score <= 1 and 0 < t.test_score <= 1 and t.result.samples_per_second > 0
        assert t.result.device == f"cuda ({torch.cuda.get_device_name()})", t.result.device

    # The trainings ran on the GPU: in Ray workers, never in the driver, at most 1 / SHARE at a time.
    print(f"GPU processes: {gpu.seen}; at most {gpu.most_at_once} at once")
    assert gpu.seen, "no process but the driver held a GPU context during the sweep"
    assert all(cmd.startswith("ray::") for cmd in gpu.seen.values()), gpu.seen
    assert 1 <= gpu.most_at_once <= round(1 / SHARE)
