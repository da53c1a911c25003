"""Training throughput of ``train_trial`` against a bare PyTorch loop, side by side.

Both train the same model on the same MNIST-1D tensors with the same batch size, optimizer, gradient
clipping and threads; rounds alternate which runs first. The trial's figure is its own
``samples_per_second`` (training steps only); the bare loop times its steps the same way.
Target: trial >= 0.9x bare. On a shared machine, the "best" line (fastest round of each) is the
least disturbed by other processes.

    python bench/trainable.py                      # ~30 s on 2 cores
    python bench/trainable.py --units 128 --layers 2 --batch 128 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from experiments.datasets import load_dataset
from experiments.splits import Dataset
from experiments.hyperparams import LSTMConfig
from experiments.model import LSTMModel
from experiments.settings import MNIST1D, TrainingSettings
from experiments.trainable import batch_loss, dataset_tensors, make_optimizer, train_trial


def bare_loop(config: LSTMConfig, data: Dataset, epochs: int, grad_clip: float | None, seed: int) -> float:
    """Samples per second of a plain loop: shuffle, slice, forward, backward, clip, step."""
    torch.manual_seed(seed)
    tensors = dataset_tensors(data, torch.device("cpu"))
    x, y = tensors.x_train, tensors.y_train
    model = LSTMModel(config, data.features, data.n_outputs)
    optimizer = make_optimizer(config, model.parameters())
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=generator)
        for i in range(0, len(y), config.batch_size):
            idx = perm[i : i + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(data.task, model(x[idx]), y[idx])
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
    return len(y) * epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run")
    parser.add_argument("--rounds", type=int, default=4, help="trial/bare pairs, interleaved")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=4000, help="MNIST-1D samples generated")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    data = load_dataset(MNIST1D(samples=args.samples))
    config = LSTMConfig(units=args.units, layers=args.layers, batch_size=args.batch, optimizer=args.optimizer, lr=3e-3)
    training = TrainingSettings(max_epochs=args.epochs, patience=None)
    print(
        f"MNIST-1D {data.sizes.train} training samples; LSTM units={args.units} layers={args.layers} "
        f"batch={args.batch} {args.optimizer}; {args.epochs} epochs a run; {args.threads} thread(s)"
    )

    def trial(seed: int) -> float:
        return train_trial(config, data, training, "accuracy", seed, threads=args.threads).samples_per_second

    def bare(seed: int) -> float:
        return bare_loop(config, data, args.epochs, training.grad_clip, seed)

    bare(0)  # warm-up: first-call allocations and oneDNN primitive creation
    trials, bares = [], []
    for r in range(args.rounds):
        order = [("trial", trial, trials), ("bare", bare, bares)]
        for name, run, into in order if r % 2 == 0 else order[::-1]:
            into.append(run(r))
        print(f"round {r + 1}: train_trial {trials[-1]:8.0f} samples/s   bare loop {bares[-1]:8.0f} samples/s")
    for label, pick in (("median", statistics.median), ("best", max)):  # best: least disturbed by other load
        t, b = pick(trials), pick(bares)
        print(f"{label + ':':8s} train_trial {t:8.0f} samples/s   bare loop {b:8.0f} samples/s   ratio {t / b:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
