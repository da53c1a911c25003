"""What ``training.flush_denormal`` buys: one trial trained with subnormal floats computed as zero and as
they are, side by side, in alternating rounds, one thread each, on this CPU.

The default trial is trial 5 of experiments/imbalanced.yaml (RMSprop, a bidirectional LSTM(54)): in the
sweep it took 107.5 s for 15 epochs where a larger Adam trial took 16.8 s. The scores must be the same
both ways for the trade to be free; the script prints them.

    python bench/denormal.py                        # about 4 minutes
    python bench/denormal.py --spec experiments/quickstart.yaml --trial 23 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["OMP_NUM_THREADS"] = "1"


def train(spec_path: Path, k: int, flush: bool):
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.home import datasets_dir
    from searchsvc.sweep.sampling import trial_config, trial_seed
    from searchsvc.sweep.spec import load_spec

    spec = load_spec(spec_path)
    config = LSTMConfig.from_params(trial_config(spec.space, spec.strategy, spec.seed, k))
    training = spec.training.model_copy(update={"flush_denormal": flush})
    data = load_dataset(spec.dataset, datasets_dir())
    return config, train_trial(config, data, training, spec.metric, trial_seed(spec.seed, k), threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=Path(__file__).resolve().parent.parent / "experiments/imbalanced.yaml")
    parser.add_argument("--trial", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for r in range(args.rounds):
        for flush in ((True, False) if r % 2 == 0 else (False, True)):
            config, result = train(args.spec, args.trial, flush)
            seconds[flush].append(result.train_seconds)
            print(f"round {r + 1}, flush_denormal {str(flush).lower():>5}: {result.train_seconds:6.1f} s, "
                  f"{result.epochs} epochs, val {result.val_score}, test {result.test_score}", flush=True)
    on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(f"{args.spec.name} trial {args.trial} ({config.optimizer}, units {config.units}, layers {config.layers}, "
          f"bidirectional {config.bidirectional}): median {on:.1f} s flushing, {off:.1f} s not: {off / on:.1f}x")


if __name__ == "__main__":
    main()
