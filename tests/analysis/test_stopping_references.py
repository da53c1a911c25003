"""searchsvc's rules against the schedulers of Ray Tune and Optuna, fed as a one-worker run feeds them.

Each sweep runs trial after trial in index order, epoch after epoch, and each trial reports its best
validation score so far (the rung value) to our :class:`RungBoard` and to the reference. The runs go
in lockstep: a trial trains on as long as *our* rule keeps it, and the reference is told of every
epoch it trains, whatever the reference decided. So both judge every decision on the same results,
and the test asserts, decision by decision, that they agree or differ exactly as analysis/STOPPING.md
says (the deliberate differences), with the reference's own cutoff recomputed to show why.

Parameter mapping: Ray ``AsyncHyperBandScheduler(grace_period=min_epochs, reduction_factor=eta,
max_t=max_epochs, brackets=1)``, ``time_attr`` the epoch; Optuna ``SuccessiveHalvingPruner(
min_resource=min_epochs, reduction_factor=eta, min_early_stopping_rate=0, bootstrap_count=0)`` and
``MedianPruner(n_startup_trials=1, n_warmup_steps=min_epochs, interval_steps=1, n_min_trials=min_trials)``,
the step being the epoch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.rung_board import RungBoard
from analysis.stopping import Asha, Decision, Median

pytest.importorskip("optuna")
ray_schedulers = pytest.importorskip("ray.tune.schedulers")

GRID = np.array([0.0, 0.25, 0.5, 0.625, 0.75, 1.0])  # dyadic: medians and ties are exact in floats
SEEDS = range(12)


def random_sweep(seed: int, *, errors: bool = True):
    """Curves of up to 14 trials on a coarse grid (ties), cut by patience, some diverged or failed."""
    rng = np.random.default_rng(seed)
    max_epochs, mode, patience = int(rng.integers(3, 11)), str(rng.choice(["max", "min"])), rng.choice([None, 1, 2, 3])
    sign = 1.0 if mode == "max" else -1.0
    sweep = []
    for _ in range(int(rng.integers(1, 15))):
        val = GRID[rng.integers(0, len(GRID), max_epochs)]
        best, end = np.maximum.accumulate(sign * val), max_epochs
        if patience is not None:  # the trainable's rule: no better score for `patience` epochs
            last_better = np.array([np.flatnonzero(sign * val[: e + 1] == best[e])[0] for e in range(max_epochs)])
            ends = [e + 1 for e in range(max_epochs) if e - last_better[e] >= patience]
            end = ends[0] if ends else max_epochs
        outcome = str(rng.choice(["ok"] * 6 + ["diverged"] + (["error"] if errors else [])))
        if outcome != "ok":  # it fails or diverges before the epoch where patience would end it
            end = int(rng.integers(0, end))
        sweep.append((val[:end], outcome))
    return sweep, max_epochs, mode, patience


def lockstep(sweep, rule, max_epochs, mode, patience, reference):
    """Run the sweep with one worker in index order under our rule, telling ``reference`` everything.

    ``reference`` gets ``start(k)``, ``epoch(k, epoch, best_so_far) -> keeps`` (its decision, on the
    metric's own scale) and ``end(k, last_epoch, stopped, outcome)``. Returns one row per decision at
    one of our rungs: (ours keeps, theirs keeps, this trial's oriented value, the earlier oriented values),
    except at the epoch where a trial ends by itself: there ours never stops it (deliberate: the stop
    would save nothing), which is asserted here.
    """
    sign = 1.0 if mode == "max" else -1.0
    board = RungBoard(rule, max_epochs=max_epochs, mode=mode, patience=patience)
    rows, at_rungs = [], {r: [] for r in board.rungs}  # the oriented values the earlier trials left at each rung
    for k, (val, outcome) in enumerate(sweep):
        reference.start(k)
        stopped, best = None, np.maximum.accumulate(sign * val)
        for epoch, v in enumerate(val, start=1):
            board.record(k, epoch, float(v))
            theirs = reference.epoch(k, epoch, float(sign * best[epoch - 1]))
            if epoch in at_rungs:
                ours = board.decision(k, epoch) == Decision.CONTINUE
                if outcome == "ok" and epoch == len(val):  # it ends here by itself (patience)
                    assert ours
                else:
                    rows.append((ours, theirs, float(best[epoch - 1]), sorted(at_rungs[epoch])))
                at_rungs[epoch].append(float(best[epoch - 1]))
                if not ours:
                    stopped = epoch
                    break
        board.ended(k, stopped or len(val), "stopped" if stopped else outcome)
        reference.end(k, stopped or len(val), stopped is not None, outcome)
    return rows


class RayAsha:
    def __init__(self, rule: Asha, max_epochs: int, mode: str):
        from ray.tune.experiment import Trial

        self._new = lambda: Trial("__fake", stub=True)
        self.scheduler = ray_schedulers.AsyncHyperBandScheduler(
            time_attr="training_iteration", metric="best", mode=mode, max_t=max_epochs,
            grace_period=rule.min_epochs, reduction_factor=rule.eta, brackets=1)
        self.trials = {}

    def start(self, k):
        self.trials[k] = self._new()
        self.scheduler.on_trial_add(None, self.trials[k])

    def epoch(self, k, epoch, best):
        self.last = {"training_iteration": epoch, "best": best}
        return self.scheduler.on_trial_result(None, self.trials[k], self.last) == "CONTINUE"

    def end(self, k, last_epoch, stopped, outcome):
        if last_epoch:
            self.scheduler.on_trial_complete(None, self.trials[k], self.last)


@pytest.mark.parametrize("eta", [2, 3, 4])
@pytest.mark.parametrize("seed", SEEDS)
def test_asha_against_ray_tune(seed, eta):
    sweep, max_epochs, mode, patience = random_sweep(seed)
    rule = Asha(min(1 + seed % 3, max_epochs - 1), eta)
    rows = lockstep(sweep, rule, max_epochs, mode, patience, RayAsha(rule, max_epochs, mode))
    for ours, theirs, value, earlier in rows:
        n, m = len(earlier), len(earlier) + 1
        # Ray: the (1 - 1/eta) quantile of the earlier results, interpolated linearly; stop strictly below it
        cutoff = np.nanpercentile(earlier, 100 * (1 - 1 / eta)) if earlier else -math.inf
        assert theirs == (not value < cutoff)
        if m < eta:  # deliberate: too few results to cut, so ours keeps the trial; Ray judges it on one or two
            assert ours
            continue
        ours_cutoff = earlier[n - m // eta]  # ours: the (m // eta)-th best earlier result, an order statistic
        assert ours == (value >= ours_cutoff) and ours_cutoff >= cutoff  # ours is never the more lenient
        if not theirs:
            assert not ours  # every trial Ray cuts, ours cuts
        if ours != theirs:
            assert cutoff <= value < ours_cutoff  # only between Ray's interpolated cutoff and ours
        if eta == 2 and n % 2 == 1:
            assert ours == theirs  # there the quantile is an order statistic: the same cutoff
    assert rows or all(len(val) < rule.min_epochs for val, _ in sweep)


class OptunaPruner:
    """An in-memory study, one trial after another; ``standings`` also reports each finished trial's
    result at the steps after its end (what our median counts)."""

    def __init__(self, pruner, mode: str, max_epochs: int, standings: bool = False):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.standings, self.max_epochs = optuna, standings, max_epochs
        self.study = optuna.create_study(direction="maximize" if mode == "max" else "minimize", pruner=pruner)

    def start(self, k):
        self.trial, self.best = self.study.ask(), None

    def epoch(self, k, epoch, best):
        self.trial.report(best, epoch)
        self.best = best
        return not self.trial.should_prune()

    def end(self, k, last_epoch, stopped, outcome):
        if self.standings and (stopped or outcome != "error"):  # a failed trial has no standing after its end
            # a diverged trial stands below every score (ours: at −∞; numpy's percentile turns ∞ into NaN)
            worst = -1e9 if self.study.direction.name == "MAXIMIZE" else 1e9
            value = worst if outcome == "diverged" and not stopped else self.best
            for step in range(last_epoch + 1, self.max_epochs):
                self.trial.report(value, step)
        self.study.tell(self.trial, self.best if self.best is not None else 0.0)


@pytest.mark.parametrize("eta", [2, 3, 4])
@pytest.mark.parametrize("seed", SEEDS)
def test_asha_against_optuna_successive_halving(seed, eta):
    import optuna

    sweep, max_epochs, mode, patience = random_sweep(seed)
    rule = Asha(min(1 + seed % 3, max_epochs - 1), eta)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=rule.min_epochs, reduction_factor=eta,
                                                    min_early_stopping_rate=0, bootstrap_count=0)
    rows = lockstep(sweep, rule, max_epochs, mode, patience, OptunaPruner(pruner, mode, max_epochs))
    for ours, theirs, value, earlier in rows:
        if len(earlier) + 1 < eta:  # deliberate: ours keeps every trial; Optuna keeps only the best of fewer than eta
            assert ours and theirs == all(value >= e for e in earlier)
        else:
            assert ours == theirs  # otherwise the same rule: rank within the top 1/eta, ties kept
    assert rows or all(len(val) < rule.min_epochs for val, _ in sweep)


@pytest.mark.parametrize("min_trials", [1, 3])
@pytest.mark.parametrize("seed", SEEDS)
def test_median_against_optuna_median_pruner_fed_our_standings(seed, min_trials):
    import optuna

    sweep, max_epochs, mode, patience = random_sweep(seed)
    rule = Median(min(1 + seed % 3, max_epochs - 1), min_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=rule.min_epochs, interval_steps=1,
                                         n_min_trials=min_trials)
    rows = lockstep(sweep, rule, max_epochs, mode, patience, OptunaPruner(pruner, mode, max_epochs, standings=True))
    assert [ours for ours, *_ in rows] == [theirs for _, theirs, *_ in rows]
    assert rows or all(len(val) < rule.min_epochs for val, _ in sweep)


def test_median_counts_every_earlier_trial_where_optuna_counts_the_survivors():
    """Free-running, on curves whose ranking never changes: Optuna's median is over the completed trials
    only (pruned ones drop out), so each trial must beat the median of the survivors; ours counts every
    earlier trial as of its stop, so about half the trials go on."""
    import optuna

    rng = np.random.default_rng(7)
    quality = rng.uniform(0.2, 0.9, 60)
    curves = [q * (1 - np.exp(-np.arange(1, 11) / 3)) for q in quality]
    board = RungBoard(Median(2, 3), max_epochs=10, mode="max")
    for k, val in enumerate(curves):
        board.record_curve(k, val, outcome="ok")
    ours = sum(board.verdict(k).decision == Decision.STOP for k in range(len(curves)))
    reference = OptunaPruner(optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2), "max", 10)
    theirs = 0
    for k, val in enumerate(curves):
        reference.start(k)
        for epoch, v in enumerate(val, start=1):
            if not reference.epoch(k, epoch, float(v)) and epoch < 10:
                theirs += 1
                reference.study.tell(reference.trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            reference.study.tell(reference.trial, reference.best)
    assert 24 <= ours <= 36 and theirs >= 45  # 30 and 52 of the 60


def one_rung(reference, values):
    """Trials of one epoch each at a single rung (epoch 1), one after another: the reference's keeps."""
    keeps = []
    for k, v in enumerate(values):
        reference.start(k)
        keeps.append(reference.epoch(k, 1, v))
        reference.end(k, 1, False, "ok")
    return keeps


def test_the_documented_differences_one_by_one():
    import optuna

    def ours(values, rule):
        board = RungBoard(rule, max_epochs=4, mode="max")
        for k, v in enumerate(values):
            board.record(k, 1, v)
        return [board.decision(k, 1) == Decision.CONTINUE for k in range(len(values))]

    asha = Asha(1, 3)
    # few results (m < eta): Ray and Optuna cut the second trial on the first alone; ours keeps it
    assert ours([0.9, 0.5], asha) == [True, True]
    assert one_rung(RayAsha(asha, 4, "max"), [0.9, 0.5]) == [True, False]
    sha = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    assert one_rung(OptunaPruner(sha, "max", 4), [0.9, 0.5]) == [True, False]
    # Ray interpolates its cutoff: of {0.2, 0.8} the 2/3 quantile is 0.6, so 0.7 goes on; ours keeps the best of 3
    assert ours([0.2, 0.8, 0.7], asha) == [True, True, False]
    assert one_rung(RayAsha(asha, 4, "max"), [0.2, 0.8, 0.7]) == [True, True, True]
    # Optuna's median counts only completed trials; fed our standings (see above) it agrees
    # Optuna decides at the last epoch too (a rung at max_epochs); ours never: the trial has ended
    reference = OptunaPruner(optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=2), "max", 2)
    keeps = []
    for k, v in enumerate([0.9, 0.5]):
        reference.start(k)
        keeps.append([reference.epoch(k, 1, v), reference.epoch(k, 2, v)])
        reference.end(k, 2, False, "ok")
    assert keeps == [[True, True], [True, False]] and Asha(2, 2).rungs(2) == ()
