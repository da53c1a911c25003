"""Trials packed on one GPU, measured: one script for a GPU machine, within about 8 minutes, printing one table.

1. The CUDA memory model against the measured peak: ``bench/memory.py --device cuda`` (20 configs).
2. Trials per hour on the GPU, on the quickstart space at a GPU-sized budget (``--samples``, ``--epochs``),
   side by side: one trial per GPU (``gpus: 1``), a quarter of it (``gpus: 0.25``), and packed by memory
   (``gpus: auto``, :mod:`searchsvc.run.packing`); each a real sweep on the embedded Ray, with the GPU's
   utilisation and memory sampled from ``nvidia-smi`` every second, and the trials lost (none may be) and
   re-queued after running out of memory.
3. ``pytest -m gpu``.

    python bench/gpu.py                       # on a machine with one NVIDIA GPU
    python bench/gpu.py --skip memory pytest  # the sweeps only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (label, resources.gpus, trials): enough trials at each share to keep the GPU as busy as that share lets it
MODES = (("1 per GPU", 1.0, 8), ("gpus: 0.25", 0.25, 24), ("packed (auto)", "auto", 64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20000, help="MNIST-1D samples")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--skip", nargs="*", default=(), choices=("memory", "sweeps", "pytest"))
    args = parser.parse_args()
    lines = []
    if "memory" not in args.skip:
        memory = subprocess.run([sys.executable, str(ROOT / "bench" / "memory.py"), "--device", "cuda"],
                                capture_output=True, text=True, timeout=240)
        print(memory.stdout[-4000:], memory.stderr[-2000:])
        lines.append("memory model: " + next((line for line in memory.stdout.splitlines() if " within ±" in line),
                                             "no summary (see above)"))
    if "sweeps" not in args.skip:
        lines += sweeps(args)
    if "pytest" not in args.skip:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", str(ROOT / "tests")],
                               capture_output=True, text=True, timeout=300, cwd=ROOT)
        print(tests.stdout[-3000:])
        lines.append("pytest -m gpu: " + (tests.stdout.strip().splitlines() or ["no output"])[-1])
    print("\n".join(["", *lines]))


def sweeps(args: argparse.Namespace) -> list[str]:
    import yaml

    os.environ["SEARCHSVC_HOME"] = tempfile.mkdtemp(prefix="searchsvc-gpu-")
    from searchsvc.run import driver
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.sweep.spec import SweepSpec

    document = yaml.safe_load((ROOT / "experiments" / "quickstart.yaml").read_text())
    document["dataset"]["samples"] = args.samples
    document["training"].update(max_epochs=args.epochs, patience=args.epochs)
    rows = [f"{'':<14} {'trials':>6} {'wall s':>7} {'trials/h':>9} {'vs 1/GPU':>8} {'GPU util %':>10} "
            f"{'peak MiB':>9} {'lost':>4} {'OOM re-queued':>13}"]
    base = None
    for label, gpus, trials in MODES:
        spec = SweepSpec.model_validate({**document, "name": "gpu-bench", "trials": trials, "max_concurrent": "auto",
                                         "resources": {"cpus": 1, "gpus": gpus}})
        sampler = GpuSampler()
        started = time.perf_counter()
        with sampler:
            outcome = driver.submit(spec, quiet=True, track=False)
        wall = time.perf_counter() - started
        done = [t for t in get_ledger().trials(outcome.sweep_id) if t.status.has_result]
        lost = trials - len(done)
        rate = len(done) / wall * 3600
        base = base or rate
        rows.append(f"{label:<14} {trials:6d} {wall:7.1f} {rate:9.0f} {rate / base:8.2f} {sampler.mean_util:10.1f} "
                    f"{sampler.peak_mib:9.0f} {lost:4d} {outcome.out_of_memory:13d}")
    return rows


class GpuSampler:
    """``nvidia-smi`` every second while the block runs: the mean utilisation and the peak memory used."""

    def __init__(self) -> None:
        self.util: list[float] = []
        self.memory: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean_util(self) -> float:
        return sum(self.util) / len(self.util) if self.util else float("nan")

    @property
    def peak_mib(self) -> float:
        return max(self.memory, default=float("nan"))

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True).stdout.split(",")
            if len(out) == 2:
                self.util.append(float(out[0]))
                self.memory.append(float(out[1]))


if __name__ == "__main__":
    main()
