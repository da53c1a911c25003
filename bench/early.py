"""Early termination on the quickstart space, side by side in one run: the full random search, ASHA and the
median rule, each a real sweep (``searchsvc.run.driver.submit``: Ray Tune, ledger and MLflow on SQLite).

For each: the wall time, the core-seconds of training (each trial's training wall time on its one core,
summed), their share of the full search's, the best-by-validation trial and its test score with the
binomial standard deviation of eq. 5–6 (sqrt(p(1−p)/(n−1)), n the test set's size), and what waiting for
earlier trials cost: the seconds trained past a stop while its decision waited, against the training the
rule saved. Then the same rules replayed on the full search's recorded epochs (``--what-if``), which a
live sweep of the same spec and seed must equal: stopped trials, stop epochs and the returned trial.

    python bench/early.py                    # 64 trials, 2 at a time (about 15 minutes on 2 cores)
    python bench/early.py --trials 128
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RULES = {"asha": {"type": "asha", "min_epochs": 2, "eta": 3}, "median": {"type": "median", "min_epochs": 3}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--concurrent", type=int, default=2)
    args = parser.parse_args()

    import os

    import yaml

    os.environ["SEARCHSVC_HOME"] = tempfile.mkdtemp(prefix="searchsvc-early-")
    from searchsvc.run import driver
    from searchsvc.stores.ledger import get_ledger
    from searchsvc.stores.records import best_trial
    from searchsvc.sweep.spec import SweepSpec

    document = yaml.safe_load((Path(__file__).resolve().parent.parent / "experiments" / "quickstart.yaml").read_text())
    document.update(trials=args.trials, max_concurrent=args.concurrent)
    rows, ids = [], {}
    for label, rule in (("full", None), *RULES.items()):
        spec = SweepSpec.model_validate({**document, "name": f"early-{label}", "early_terminate": rule})
        started = time.perf_counter()
        outcome = driver.submit(spec, quiet=True)
        wall = time.perf_counter() - started
        trials = get_ledger().trials(outcome.sweep_id)
        ids[label] = outcome.sweep_id
        best = best_trial(trials, spec.mode)
        core = sum(t.result.train_seconds for t in trials if t.result)
        n = best.result.test_n
        sd = math.sqrt(best.test_score * (1 - best.test_score) / (n - 1))
        rows.append({"search": label, "wall_s": wall, "core_s": core, "stopped": sum(t.status == "stopped" for t in trials),
                     "epochs": sum(t.result.epochs for t in trials if t.result), "best": best.trial_index,
                     "test": best.test_score, "sd": sd, "speculative_s": outcome.speculative_seconds})
    full = rows[0]
    print(f"{args.trials} trials of the quickstart space, {args.concurrent} at a time\n")
    print(f"{'search':<8} {'wall s':>8} {'core-s':>8} {'share':>6} {'stopped':>7} {'epochs':>6} {'best':>5} "
          f"{'test (sd)':>16} {'waited s':>9} {'saved s':>8}")
    for r in rows:
        saved = full["core_s"] - r["core_s"]
        print(f"{r['search']:<8} {r['wall_s']:8.1f} {r['core_s']:8.1f} {r['core_s'] / full['core_s']:6.2f} "
              f"{r['stopped']:7d} {r['epochs']:6d} {r['best']:5d} {r['test']:8.4f} ({r['sd']:.4f}) "
              f"{r['speculative_s']:9.1f} {saved:8.1f}")
        if r is not full:
            within = abs(r["test"] - full["test"]) <= full["sd"]
            print(f"         test vs the full search's: {r['test'] - full['test']:+.4f}, "
                  f"{'within' if within else 'beyond'} one sd ({full['sd']:.4f})")
    _what_if(ids, rows)


def _what_if(ids: dict[str, str], rows: list[dict]) -> None:
    """The rules replayed on the full search's epochs, against the live sweeps."""
    import tempfile

    from analysis.stopping import parse_rule, spec_text
    from searchsvc.analyze import what_if_sweep
    from searchsvc.stores.ledger import get_ledger

    rules = [spec_text(parse_rule(rule)) for rule in RULES.values()]
    with tempfile.TemporaryDirectory() as out:
        replayed = what_if_sweep(ids["full"], rules, out)
    print("\nreplayed on the full search's epochs (what-if) against the live sweep:")
    for (label, sweep_id), outcome in zip(list(ids.items())[1:], replayed.sweeps):
        live = {t.trial_index: t.result.stop_epoch for t in get_ledger().trials(sweep_id) if t.status == "stopped"}
        would = {t.trial_index: t.stop_epoch for t in outcome.replay.stopped}
        best = next(r["best"] for r in rows if r["search"] == label)
        print(f"  {outcome.label}: stops {len(would)} (live {len(live)}), same stopped trials and epochs: "
              f"{would == live}; returns trial {outcome.best.trial_index} (live {best}); compute share "
              f"{outcome.compute_share:.2f}")


if __name__ == "__main__":
    main()
