"""A generated multi-label data set of sequences with static inputs, whose answers are known by construction:
``experiments/data/multilabel.npz``, the data of ``experiments/multilabel.yaml``.

Each sample is a machine's trace of ``timesteps`` steps of two sensor channels (Gaussian noise of
standard deviation ``NOISE``) and two static inputs (``static``, standard normal: say its age and its
load). Three patterns occur independently: a bump in channel 0 (probability 0.35), a rise in channel 1
(0.25), an oscillation of period 4 in channel 0 (0.15). The six labels (expected prevalence 35, 25,
15, 10.8, 5.3 and 3.6%; 34.9, 26.6, 16.2, 10.8, 5.8 and 3.4% in the shipped file) are:

* 0, 1, 2: the bump, the rise, the oscillation: readable from the sequence alone;
* 3: the bump and ``static[0] > 0.5``; 4: the rise and ``static[1] > 0.8``; 5: the oscillation and
  ``static[0] + static[1] > 1``: the sequence tells whether the pattern occurred, only the static
  inputs tell whether it was a fault.

So without the static inputs the best a model can do for labels 3-5 is to flag every sample with the
pattern, right for 30.9%, 21.2% and 24.0% of them: F1 = 2q/(1+q) is then at most 0.47, 0.35 and 0.39,
and a model that predicts a label where its probability exceeds 1/2 flags none (F1 0): its macro-F1
is at most 1/2, or (3 + 0.47 + 0.35 + 0.39)/6 = 0.70 if it flags the patterns. With the static inputs
all six labels are learnable (macro-F1 up to 1). ``python -m experiments.generator`` writes the shipped file; the test suite checks that it
writes the same arrays again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: the standard deviation of the sensors' noise
NOISE = 0.6
#: probabilities of the three patterns: bump, rise, oscillation
PATTERNS = (0.35, 0.25, 0.15)
SHIPPED = Path(__file__).parent / "data" / "multilabel.npz"


def multilabel_sequences(samples: int = 3000, timesteps: int = 24, seed: int = 0) -> dict[str, np.ndarray]:
    """``X`` (samples, timesteps, 2) float16, ``y`` (samples, 6) int8 of 0/1, ``static`` (samples, 2) float16."""
    if timesteps < 12:
        raise ValueError(f"timesteps: the patterns need at least 12 steps, got {timesteps}")
    rng = np.random.default_rng(seed)
    steps = np.arange(timesteps)
    static = rng.normal(size=(samples, 2))
    x = NOISE * rng.normal(size=(samples, timesteps, 2))
    bump, rise, wave = (rng.random(samples) < p for p in PATTERNS)
    centre = rng.integers(3, timesteps - 3, samples)[:, None]
    x[:, :, 0] += bump[:, None] * 2.0 * np.exp(-0.5 * (steps[None, :] - centre) ** 2)
    x[:, :, 1] += rise[:, None] * np.linspace(-1.0, 1.0, timesteps)[None, :]
    phase = rng.uniform(0, 2 * np.pi, samples)[:, None]
    x[:, :, 0] += wave[:, None] * np.sin(2 * np.pi * steps[None, :] / 4 + phase)
    y = np.stack([bump, rise, wave, bump & (static[:, 0] > 0.5), rise & (static[:, 1] > 0.8),
                  wave & (static.sum(axis=1) > 1.0)], axis=1)
    return {"X": x.astype(np.float16), "y": y.astype(np.int8), "static": static.astype(np.float16)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED, help=f"where to write the .npz (default {SHIPPED})")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    arrays = multilabel_sequences(args.samples, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"{args.out}: {args.samples} samples; label prevalence "
          f"{', '.join(f'{p:.3f}' for p in arrays['y'].mean(axis=0))}")


if __name__ == "__main__":
    main()
