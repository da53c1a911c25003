"""Benchmark of the analysis library on a synthetic sweep (default S = 10,000 trials).

    python bench/analysis.py [--trials 10000] [--repeat 3] [--tol 1e-4]

1. ``analyze()`` without fANOVA (``importance=False``), with and without the figures, after one
   warm-up run on a small table (imports, font cache); wall and CPU seconds, best and median of
   ``--repeat`` runs, and the time of each step.
2. The expected best-of-s curve (s = 1, 2, 4, …): exact (``analysis.expected_best``) against a
   naive Monte-Carlo re-partitioning — shuffle the S trials, cut them into ⌊S/s⌋ experiments,
   average their best-by-validation test scores; repeat until the standard error of that average
   is ≤ ``--tol`` for every s.

"Same precision": the exact curve is exact up to floating point (~1e-12); no Monte Carlo reaches
that, so the comparison asks Monte Carlo for a standard error of ``--tol`` (default 1e-4, i.e. the
4 decimals the summary prints, a 95% interval of ±2e-4) at every s, which is already finer than the
test-set noise of any realistic sweep. The Monte-Carlo time grows as 1/tol².
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import (  # noqa: E402
    TrialTable,
    analyze,
    best_choice,
    efficiency_curve,
    expected_best,
    marginal_effects,
    synthetic_trials,
    trials_needed,
)
from analysis import plots  # noqa: E402
from analysis.best_of_n import curve_sizes  # noqa: E402
from analysis.efficiency import best_by_validation  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float], object]:
    """Wall and CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return walls, cpus, result


def show(name: str, walls: list[float], cpus: list[float]) -> None:
    print(f"  {name:<38} wall {min(walls):7.3f} s (median {statistics.median(walls):7.3f})   cpu {min(cpus):7.3f} s")


def monte_carlo_curve(
    oriented_val: np.ndarray, test: np.ndarray, sizes: np.ndarray, tol: float, seed: int = 0, batch: int = 64
) -> tuple[dict[int, float], dict[int, float], int]:
    """Naive re-partitioning estimate of E[best of s] per s, to standard error ≤ ``tol``."""
    rng = np.random.default_rng(seed)
    size = len(test)
    means, errors, shuffles = {}, {}, 0
    for s in map(int, sizes):
        used = (size // s) * s
        replicates: list[float] = []
        while True:
            order = rng.permuted(np.tile(np.arange(size), (batch, 1)), axis=1)[:, :used]
            val, t = oriented_val[order].reshape(batch, -1, s), test[order].reshape(batch, -1, s)
            replicates.extend(best_by_validation(val, t).mean(axis=1))
            shuffles += batch
            se = float(np.std(replicates, ddof=1) / np.sqrt(len(replicates)))
            if se <= tol:
                break
        means[s], errors[s] = float(np.mean(replicates)), se
    return means, errors, shuffles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-4, help="Monte-Carlo standard error to reach at every s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    frame = synthetic_trials(args.trials, seed=args.seed)
    out = Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    w = time.perf_counter()
    analyze(frame.head(200), out / "warmup", mode="max", importance=False)
    print(f"S = {args.trials} synthetic trials (val_n 2000, test_n 5000, 7 params); output in {out}")
    print(f"warm-up (imports, font cache) on 200 trials: {time.perf_counter() - w:.2f} s wall\n")

    print("analyze(importance=False), whole pipeline:")
    run = lambda figures: lambda: analyze(frame, out / "run", mode="max", metric_name="accuracy", importance=False, figures=figures)  # noqa: E731
    with_plots = timed(run(True), args.repeat)
    without_plots = timed(run(False), args.repeat)
    show("with figures (10 PNG/SVG files)", *with_plots[:2])
    show("without figures", *without_plots[:2])
    print(f"  figures alone ≈ {min(with_plots[0]) - min(without_plots[0]):.3f} s wall, "
          f"{min(with_plots[1]) - min(without_plots[1]):.3f} s cpu\n")

    print("figures (build + PNG + SVG):")
    report = analyze(frame, out / "figures", mode="max", metric_name="accuracy", importance=False, figures=False)
    figures = {
        "efficiency": lambda: plots.efficiency_figure(report.efficiency, metric_name="accuracy", references={"grid search": 0.85}),
        "expected_best": lambda: plots.expected_best_figure(
            report.expected_best, report.expected_best_replacement, metric_name="accuracy", size=report.counts.used
        ),
        "trials_needed": lambda: plots.trials_needed_figure(report.trials_needed, metric_name="accuracy"),
        "marginals": lambda: plots.marginals_figure(report.marginals, metric_name="accuracy"),
    }
    for name, build in figures.items():
        show(name, *timed(lambda b=build, n=name: plots.save_figure(b(), out / "figures", n), args.repeat)[:2])
    print()

    print("steps:")
    table = TrialTable.from_frame(frame, mode="max")
    steps = {
        "load + validate": lambda: TrialTable.from_frame(frame, mode="max"),
        "efficiency curve incl. eq. 5-6 per experiment": lambda: efficiency_curve(table),
        "eq. 5 weights over all S trials": lambda: best_choice(table),
        "marginal effects": lambda: marginal_effects(table),
        "trials needed": lambda: trials_needed(table),
    }
    for name, fn in steps.items():
        show(name, *timed(fn, args.repeat)[:2])

    sizes = curve_sizes(table.size)
    walls, cpus, exact = timed(lambda: expected_best(table.oriented_val, table.test, sizes), args.repeat)
    show(f"exact expected best, {len(sizes)} sizes", walls, cpus)
    exact_wall = min(walls)
    w, c = time.perf_counter(), time.process_time()
    mc, errors, shuffles = monte_carlo_curve(table.oriented_val, table.test, sizes, args.tol, seed=args.seed)
    mc_wall, mc_cpu = time.perf_counter() - w, time.process_time() - c
    show(f"Monte Carlo, SE <= {args.tol:g} at every s", [mc_wall], [mc_cpu])
    worst = max(exact, key=lambda e: abs(mc[e.n] - e.mean) / max(errors[e.n], 1e-12))
    print(f"\nexpected best-of-s: exact {exact_wall * 1e3:.2f} ms vs Monte Carlo {mc_wall:.2f} s "
          f"({shuffles} re-partitions): Monte Carlo is {mc_wall / exact_wall:,.0f}x slower")
    print(f"check: largest |MC - exact| relative to its SE at s = {worst.n}: |{mc[worst.n] - worst.mean:.2e}| "
          f"vs SE {errors[worst.n]:.2e}; largest SE {max(errors.values()):.2e}")


if __name__ == "__main__":
    main()
