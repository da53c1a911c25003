"""A live sweep simulated on recorded curves: the decisions of one worker at any concurrency, and what waiting costs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.curves import Curve
from analysis.errors import UsageError
from analysis.replay import replay_rule
from analysis.simulate import simulate_sweep
from analysis.stopping import Asha
from tests.analysis.tables import stopping_sweeps


@settings(max_examples=50, deadline=None)
@given(stopping_sweeps(max_size=12), st.integers(1, 5), st.sampled_from(["speculate", "pause"]), st.randoms())
def test_any_number_of_workers_decides_as_one(args, workers, policy, random):
    curves, rule, max_epochs, mode, patience = args
    curves = [Curve(c.trial_index, c.val, c.seconds * random.uniform(0.2, 5.0), c.outcome) for c in curves]  # uneven trials
    expected = replay_rule(curves, rule, max_epochs=max_epochs, mode=mode)
    sim = simulate_sweep(curves, rule, workers=workers, max_epochs=max_epochs, mode=mode, patience=patience, policy=policy)
    assert list(sim.stops) == [t.stop_epoch for t in expected.trials]
    # what one worker in index order trains, plus what speculation wasted; pausing wastes nothing but idles
    assert sim.trained_seconds - sim.wasted_seconds == pytest.approx(expected.seconds)
    assert sim.full_seconds == pytest.approx(expected.full_seconds)
    if policy == "pause":
        assert sim.wasted_seconds == pytest.approx(0)
    else:
        assert sim.idle_seconds == 0
    if workers == 1:
        assert sim.wasted_seconds == pytest.approx(0) and sim.idle_seconds == pytest.approx(0)
        assert sim.wall_seconds == pytest.approx(expected.seconds)


def test_bad_arguments():
    curves = [Curve(0, np.array([0.5]), None, "ok")]
    with pytest.raises(UsageError, match="seconds"):
        simulate_sweep(curves, Asha(1, 2), workers=2, max_epochs=3, mode="max")
    with pytest.raises(UsageError, match="workers"):
        simulate_sweep(curves, Asha(1, 2), workers=0, max_epochs=3, mode="max")
    with pytest.raises(UsageError, match="policy"):
        simulate_sweep(curves, Asha(1, 2), workers=1, max_epochs=3, mode="max", policy="wait")
