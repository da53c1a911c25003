"""Training-memory estimate (``experiments.model.estimate_training_memory``) against the measured peak.

For each LSTM config (a fixed list spanning units 16–384, layers 1–4, timesteps 20–150, batch
16–256, every dropout placement, uni/bidirectional and every optimizer, plus ``--configs N``
random ones), the table prints the estimate by part, the measured peak, and estimate/measured.

Measurement: on CPU, one thread, synthetic float32 inputs (batch, timesteps, features) and 10-class
labels. Under ``torch.profiler.profile(profile_memory=True)`` the script builds the model, its
optimizer and the batch, then runs ``--steps`` training steps as ``train_trial`` does
(``zero_grad(set_to_none=True)``, forward, cross-entropy, backward, ``clip_grad_norm_(1.0)``,
optimizer step), so from the second step on the optimizer state exists while activations are
alive; everything is deleted before the profiler stops. It then walks
``prof.profiler.kineto_results.experimental_event_tree()``: every allocation and free event
carries ``total_allocated``, the torch CPU allocator's running total of the live bytes allocated
while a profiler was on. The measured peak is the largest ``total_allocated`` minus the total just
before the first event (which is not 0 if blocks allocated under an earlier profiler were freed
after it stopped; here it is 0, as each config frees all it made). This is the allocator
peak, not RSS: oneDNN reserves workspace that it never touches, so peak RSS grows less. Memory that
torch itself, Python and the data set hold is excluded, as in the estimate. "peak in" is the
phase (forward, backward, clip, step) and innermost op of the allocation that reached the peak.

With ``--device cuda`` the same configs train on the GPU as ``train_trial`` does there: model,
optimizer and batch on the GPU, the forward pass in float16 autocast, the loss in float32, backward
through a ``GradScaler``, ``unscale_`` before the clipping, ``scaler.step``/``update``
(``--no-amp``: float32, no scaler). The measured peak is ``torch.cuda.max_memory_allocated()``
after ``reset_peak_memory_stats()``, minus what was allocated before the config (the CUDA caching
allocator's bytes in live tensors, cuDNN's workspace and reserve space included; not what it keeps
cached, nor the CUDA context, nor the ~65 MiB that stays allocated after the warm-up). "peak in" is
the step and phase (forward, backward, clip, step) after which the peak was first reached.

    python bench/memory.py                  # 16 fixed + 4 random configs, ~15 s on 2 cores
    python bench/memory.py --configs 20 --seed 1
    python bench/memory.py --device cuda    # the same on the GPU, AMP as in train_trial
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from dataclasses import dataclass

# Kineto logs two "USDT" lines per profiler session at its highest level (5); 6 silences them.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch._C._profiler import _EventType  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from experiments.hyperparams import MOMENTUM_OPTIMIZERS, OPTIMIZERS, PLACEMENTS, LSTMConfig  # noqa: E402
from experiments.model import LSTMModel, MemoryEstimate, estimate_training_memory  # noqa: E402
from experiments.trainable import batch_loss, make_optimizer  # noqa: E402

MIB = 2**20
N_OUTPUTS = 10
DROPOUT = 0.2
WITHIN = 0.25  # the "within ±25%" band of estimate/measured


@dataclass(frozen=True)
class Case:
    """One config to measure: the model's hyperparameters and the data's shape."""

    config: LSTMConfig
    timesteps: int
    features: int = 1

    def describe(self) -> str:
        c = self.config
        opt = c.optimizer
        if opt in MOMENTUM_OPTIMIZERS:
            opt += f"(m={c.momentum:g})"
        drop = c.dropout_placement if c.dropout_placement != "none" else "-"
        return (
            f"h{c.units} L{c.layers} {'bi' if c.bidirectional else 'uni'} T{self.timesteps} "
            f"B{c.batch_size} F{self.features} drop:{drop} {opt}"
        )


def case(
    units, layers, timesteps, batch, placement="none", bidirectional=False, optimizer="adam", momentum=0.0, features=1
) -> Case:
    """A :class:`Case`; dropout is ``DROPOUT`` at ``placement`` (none: no dropout)."""
    config = LSTMConfig(
        units=units,
        layers=layers,
        dropout_placement=placement,
        dropout=DROPOUT if placement != "none" else 0.0,
        bidirectional=bidirectional,
        optimizer=optimizer,
        momentum=momentum,
        batch_size=batch,
    )
    return Case(config, timesteps, features)


# Each range end, placement, direction and optimizer (sgd and rmsprop with and without momentum) at
# least once; the largest products of units, layers, timesteps and batch are kept apart to bound time.
FIXED = [
    case(16, 1, 20, 16, optimizer="sgd"),
    case(32, 1, 100, 256, "input", optimizer="adam"),
    case(64, 2, 50, 64, "between", optimizer="sgd", momentum=0.9),
    case(64, 1, 150, 32, "output", True, "rmsprop", features=8),
    case(128, 2, 60, 128, optimizer="adamw"),
    case(128, 3, 40, 32, "between", True, "adagrad", features=4),
    case(256, 1, 30, 64, "input", optimizer="rmsprop", momentum=0.9, features=16),
    case(256, 2, 20, 16, "output", True, "adam"),
    case(384, 1, 20, 16, optimizer="sgd", momentum=0.9),
    case(384, 2, 50, 32, "between", optimizer="adamw"),
    case(32, 4, 150, 128, "between", optimizer="adam"),
    case(96, 4, 80, 48, "input", True, "sgd", features=2),
    case(192, 3, 120, 96, "output", optimizer="rmsprop", momentum=0.9),
    case(48, 2, 100, 256, "between", True, "adagrad"),
    case(384, 4, 20, 16, "between", True, "adam"),
    # Units just above a multiple of 16: oneDNN pads part of its workspace, which the estimate omits.
    case(17, 1, 82, 128, bidirectional=True, optimizer="adam", features=16),
]

# Random configs whose forward pass needs more multiply-adds than this are drawn again (time bound).
MAX_FORWARD_MACS = 6e9


def forward_macs(c: Case) -> float:
    h, d = c.config.units, 2 if c.config.bidirectional else 1
    widths = [c.features] + [h * d] * (c.config.layers - 1)
    return sum(d * c.config.batch_size * c.timesteps * 4 * h * (i + h) for i in widths)


def random_cases(n: int, seed: int) -> list[Case]:
    """``n`` configs drawn uniformly (units log-uniform) over the ranges, redrawn above the time bound."""
    rng = random.Random(seed)
    out: list[Case] = []
    while len(out) < n:
        layers = rng.randint(1, 4)
        placement = rng.choice([p for p in PLACEMENTS if p != "between" or layers > 1])
        optimizer = rng.choice(OPTIMIZERS)
        momentum = rng.choice([0.0, 0.9]) if optimizer in MOMENTUM_OPTIMIZERS else 0.0
        c = case(
            units=round(16 * 24 ** rng.random()),
            layers=layers,
            timesteps=rng.randint(20, 150),
            batch=rng.choice([16, 32, 64, 128, 256]),
            placement=placement,
            bidirectional=rng.random() < 0.5,
            optimizer=optimizer,
            momentum=momentum,
            features=rng.choice([1, 4, 16]),
        )
        if forward_macs(c) <= MAX_FORWARD_MACS:
            out.append(c)
    return out


def _phase(event) -> str:
    """Training phase and innermost op of a profiler allocation event, from its ancestors' names."""
    names = []
    parent = event.parent
    while parent is not None:
        names.append(parent.name)
        parent = parent.parent
    joined = " ".join(names)
    if "Optimizer.step" in joined:
        phase = "step"
    elif "autograd::engine" in joined:
        phase = "backward"
    elif "norm" in joined:
        phase = "clip"
    else:
        phase = "forward"
    op = names[0].removeprefix("aten::") if names else "?"
    return f"{phase}/{op}"


def measure(c: Case, steps: int) -> tuple[int, str]:
    """Peak bytes of the torch CPU allocator over model creation and ``steps`` training steps."""
    gc.collect()
    config = c.config
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model = LSTMModel(config, c.features, N_OUTPUTS)
        model.train()
        optimizer = make_optimizer(config, model.parameters())
        x = torch.randn(config.batch_size, c.timesteps, c.features)
        y = torch.randint(0, N_OUTPUTS, (config.batch_size,))
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss("classification", model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        del model, optimizer, x, y, loss
    events, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        event = stack.pop()
        stack.extend(event.children)
        if event.tag == _EventType.Allocation:
            events.append(event)
    first = min(events, key=lambda e: e.start_time_ns).extra_fields
    baseline = first.total_allocated - first.alloc_size
    top = max(events, key=lambda e: e.extra_fields.total_allocated)
    return top.extra_fields.total_allocated - baseline, _phase(top)


def measure_cuda(c: Case, steps: int, amp: bool = True) -> tuple[int, str]:
    """Peak bytes of the CUDA caching allocator over model creation and ``steps`` training steps,
    as ``train_trial`` trains on CUDA (float16 autocast and a gradient scaler when ``amp``)."""
    gc.collect()
    torch.cuda.synchronize()  # no empty_cache() needed: max_memory_allocated counts live bytes, not cached ones
    device = torch.device("cuda")
    config = c.config
    baseline = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    peak, where = 0, "?"

    def phase_done(name: str) -> None:
        nonlocal peak, where
        now = torch.cuda.max_memory_allocated()
        if now > peak:
            peak, where = now, name

    model = LSTMModel(config, c.features, N_OUTPUTS).to(device)
    model.train()
    optimizer = make_optimizer(config, model.parameters())
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=amp)
    params = list(model.parameters())
    x = torch.randn(config.batch_size, c.timesteps, c.features, device=device)
    y = torch.randint(0, N_OUTPUTS, (config.batch_size,), device=device)
    phase_done("setup")
    for step in range(1, steps + 1):
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            out = model(x)
        loss = batch_loss("classification", out.float(), y)
        phase_done(f"step{step}/forward")
        scaler.scale(loss).backward()
        phase_done(f"step{step}/backward")
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(params, 1.0)
        phase_done(f"step{step}/clip")
        scaler.step(optimizer)
        scaler.update()
        phase_done(f"step{step}/step")
    torch.cuda.synchronize()
    del model, optimizer, scaler, params, x, y, out, loss
    return peak - baseline, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=4, help="random configs after the fixed ones")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random configs")
    parser.add_argument("--steps", type=int, default=2, help="training steps measured (2+: optimizer state exists)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: peak GPU memory, trained as train_trial trains on CUDA (AMP fp16 + GradScaler)")
    parser.add_argument("--no-amp", dest="amp", action="store_false", help="cuda: float32, no autocast or scaler")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = FIXED + random_cases(args.configs, args.seed)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no CUDA GPU")

        def run(c: Case, steps: int) -> tuple[int, str]:
            return measure_cuda(c, steps, args.amp)

        where = (f"{torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}, "
                 + ("AMP float16 autocast + GradScaler" if args.amp else "float32, no AMP"))
    else:
        run = measure
        where = f"CPU, {args.threads} thread(s)"
    run(case(16, 1, 5, 4), 1)  # warm-up: oneDNN primitives or CUDA context and cuBLAS/cuDNN handles, profiler

    columns = ("weights", "grads", "optim", "activ", "total")
    head = f"{'config':<50} " + " ".join(f"{c:>8}" for c in columns) + f" {'measured':>9} {'ratio':>6}  peak in"
    print(f"torch {torch.__version__}, {where}, {args.steps} steps a config; MiB; ratio = estimate/measured")
    print(f"{'':<50} {' estimate ':-^44}")
    print(head)
    print("-" * (len(head) + 30))
    ratios = []
    start = time.perf_counter()
    for c in cases:
        est: MemoryEstimate = estimate_training_memory(
            c.config, c.features, N_OUTPUTS, c.timesteps, c.config.batch_size
        )
        peak, peak_in = run(c, args.steps)
        ratio = est.total / peak
        ratios.append(ratio)
        parts = (est.weights, est.gradients, est.optimizer_state, est.activations, est.total)
        cells = " ".join(f"{b / MIB:8.2f}" for b in parts)
        print(f"{c.describe():<50} {cells} {peak / MIB:9.2f} {ratio:6.3f}  {peak_in}", flush=True)
    within = sum(abs(r - 1) <= WITHIN for r in ratios)
    worst = max(ratios, key=lambda r: abs(r - 1))
    print(
        f"{within}/{len(ratios)} configs within ±{WITHIN:.0%}; worst ratio {worst:.3f}; "
        f"range {min(ratios):.3f}–{max(ratios):.3f}; {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
