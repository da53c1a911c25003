"""Every figure and number of the study, from the shipped tables alone, in seconds.

    python -m experiments.bergstra.regenerate [--tables DIR] [--early DIR] [--out DIR]
                                              (defaults: tables/, early/ and this folder)

Reads ``random.csv`` (and the random sweep's search space beside it, ``random.space.json``, as
``searchsvc export`` writes it), ``grid.csv``, ``sobol.csv``, ``provenance.json`` and any ``rerun-*.csv``
(with its ``.json``) from ``--tables``; runs :func:`analysis.analyze` on the random search with the grid
and the Sobol search to compare (fANOVA with a fixed seed); replays the early-termination rules of
:mod:`experiments.bergstra.early` on the random sweep in ``--early`` (run again with its curves); and
writes into ``--out``:

* ``report/``: everything ``analyze`` writes (figures as PNG and SVG, CSV tables, summary, report.json);
* ``figures/``: the PNGs the study's README shows (comparison, and the same cut to the top accuracies,
  efficiency, importance on all trials and on those with an adaptive optimizer, marginals, the what-if
  and the same cut to the top accuracies);
* ``results.json``: the headline numbers (:mod:`experiments.bergstra.results`), the reruns against the
  shipped table (:mod:`experiments.bergstra.reproducibility`) and the what-if's (``early``).

How long each part took goes to stderr.

The study uses searchsvc as a user does, through its command line (``run.py``, ``rerun.py``), and the
analysis library on the tables; none of the service's modules, and nothing imports the study.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

STUDY = Path(__file__).resolve().parent
SWEEPS = ("random", "grid", "sobol")
FIGURES = ("comparison", "comparison_top", "efficiency", "importance", "importance_adaptive", "marginals", "what_if",
           "what_if_top")
TOP = (0.93, 0.99)  # the accuracies where random, grid and Sobol meet: comparison_top.png shows only these
SEED = 0  # fANOVA's forest
METRIC, MODE = "accuracy", "max"  # the objective of the study's specs (validation accuracy, maximised)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=Path, default=STUDY / "tables", help="the shipped tables and provenance.json")
    parser.add_argument("--early", type=Path, default=STUDY / "early",
                        help="the random sweep run again with its curves, for the early-termination what-if")
    parser.add_argument("--out", type=Path, default=STUDY, help="where report/, figures/ and results.json go")
    args = parser.parse_args(argv)
    regenerate(args.tables, args.out, args.early)
    print(f"wrote {args.out / 'results.json'}, {len(FIGURES)} figures in {args.out / 'figures'} and the full report in "
          f"{args.out / 'report'}", file=sys.stderr)


def regenerate(tables: Path, out: Path, early_dir: Path = STUDY / "early") -> dict[str, Any]:
    """Analyse the shipped tables into ``out`` (module docstring); the ``results.json`` data."""
    start = time.perf_counter()
    import pandas as pd
    import yaml

    from analysis import analyze, read_space, write_what_if
    from experiments.bergstra import early, reproducibility, results

    metric, mode = METRIC, MODE
    distributions = read_space(tables / "random.csv")  # the random sweep's space, exported with its table
    frames = {name: pd.read_csv(tables / f"{name}.csv") for name in SWEEPS}
    provenance = json.loads((tables / "provenance.json").read_text(encoding="utf-8"))
    early_provenance = json.loads((early_dir / "provenance.json").read_text(encoding="utf-8"))
    loaded = time.perf_counter()
    report = analyze(frames["random"], out / "report", mode=mode, distributions=distributions,
                     metric_name=metric, seed=SEED,
                     compare=[("grid", "grid", frames["grid"]), ("Sobol", "sobol", frames["sobol"])])
    adaptive = results.adaptive_importance(frames["random"], distributions, SEED)
    adaptive_figure(adaptive, results.ADAPTIVE, metric, out / "report")
    top_figure(report.comparison, metric, out / "report")
    grid_line = results.comparison_numbers(report)["grid"]
    max_epochs = yaml.safe_load((STUDY / "random.yaml").read_text(encoding="utf-8"))["training"]["max_epochs"]
    what_if = early.what_if(early_dir, max_epochs)
    write_what_if(what_if, out / "report", metric_name=metric)
    early.top_figure(what_if, grid_line, metric, out / "report")
    analysed = time.perf_counter()
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for stem in FIGURES:
        shutil.copyfile(out / "report" / f"{stem}.png", out / "figures" / f"{stem}.png")
    baseline = reproducibility.report_answers(report)
    reruns = {}
    for path in sorted(tables.glob("rerun-*.csv")):
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        reruns[path.stem.removeprefix("rerun-")] = reproducibility.rerun_numbers(
            frames["random"], frames["grid"], pd.read_csv(path), meta, baseline, distributions, seed=SEED)
    sweeps = {name: results.sweep_summary(frame, provenance["sweeps"].get(name)) for name, frame in frames.items()}
    data = {
        "sweeps": sweeps,
        "total": results.totals(sweeps),
        "comparison": results.comparison_numbers(report),
        "grid": results.grid_numbers(report, frames["random"], frames["grid"]),
        "importance": results.importance_numbers(report.importance),
        "importance_adaptive": results.importance_numbers(adaptive),
        "marginals": results.marginal_numbers(report.marginals),
        "questions": results.question_numbers(frames["random"]),
        "answers": baseline,
        "reruns": reruns,
        "early": early.early_numbers(what_if, pd.read_csv(early_dir / "random.csv"),
                                     pd.read_csv(early_dir / "random.curves.csv"), early_provenance["sweeps"]["random"],
                                     frames["random"], grid_line),
        "provenance": {k: provenance[k] for k in ("git_commit", "machine", "versions", "started") if k in provenance},
    }
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False, default=_item)
    (out / "results.json").write_text(text + "\n", encoding="utf-8")
    end = time.perf_counter()
    print(f"regenerate: {end - start:.1f} s (reading {loaded - start:.1f} s, analyze {analysed - loaded:.1f} s, reruns and "
          f"numbers {end - analysed:.1f} s)", file=sys.stderr)
    return data


def adaptive_figure(importance: Any, optimizers: tuple[str, ...], metric: str, folder: Path) -> None:
    """The fANOVA bars of the trials with an adaptive optimizer, as ``importance_adaptive.png/.svg``."""
    from analysis import plots

    fig = plots.importance_figure(importance, metric_name=metric)
    trials = max(i.trials for i in importance)
    names = f"{', '.join(optimizers[:-1])} or {optimizers[-1]}"
    fig.axes[0].set_title(f"Which hyperparameters matter (fANOVA)\nin the {trials} trials with {names}\n"
                          "hatched: share within the trials where the parameter is active", fontsize=10)
    plots.save_figure(fig, folder, "importance_adaptive")


def top_figure(comparison: Any, metric: str, folder: Path) -> None:
    """The comparison figure with its accuracy axis cut to ``TOP``, as ``comparison_top.png/.svg``."""
    from analysis import plots

    fig = plots.comparison_figure(comparison, metric_name=metric)
    ax = fig.axes[0]
    ax.set_ylim(*TOP)
    ax.set_title(f"{ax.get_title()}: accuracies {TOP[0]:g}–{TOP[1]:g} only (whiskers and points below are cut)")
    plots.save_figure(fig, folder, "comparison_top")


def _item(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (JSON's fallback)."""
    return value.item()


if __name__ == "__main__":
    main()
