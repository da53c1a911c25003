"""P(best of s in the top q), trials for 95%, and the gain and cost of doubling."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import TrialTable, top_probability, trials_for, trials_needed
from analysis.budget import time_unit
from tests.analysis.tables import table


def test_top_probability_and_trials_for_95_percent():
    assert top_probability(1, 0.05) == pytest.approx(0.05)
    assert top_probability(60, 0.05) == pytest.approx(1 - 0.95**60)
    assert [trials_for(q) for q in (0.01, 0.02, 0.05, 0.10)] == [299, 149, 59, 29]
    for q in (0.01, 0.02, 0.05, 0.1, 0.3):
        s = trials_for(q)
        assert 1 - (1 - q) ** s >= 0.95 > 1 - (1 - q) ** (s - 1)
    with pytest.raises(ValueError):
        trials_for(0.0)


def test_table_gains_and_hours(synthetic):
    t = TrialTable.from_frame(synthetic, mode="max")
    need = trials_needed(t)
    assert need.sizes[0] == 1 and need.sizes[-1] >= 299 and all(b == 2 * a for a, b in zip(need.sizes, need.sizes[1:]))
    assert need.probability.shape == (len(need.sizes), 4) and need.needed == (299, 149, 59, 29)
    assert [d.s for d in need.doublings] == [1, 2, 4, 8, 16, 32, 64]
    first = need.doublings[0]
    assert first.gain > 0 and first.extra_trials == 1
    assert first.extra_hours == pytest.approx(np.nanmean(t.train_seconds) / 3600)


def test_min_mode_gain_is_positive_when_loss_falls_and_no_hours_without_seconds():
    need = trials_needed(TrialTable.from_frame(table([0.9, 0.1, 0.5, 0.3], [0.8, 0.2, 0.4, 0.3]), mode="min"))
    assert need.mean_train_seconds is None and all(d.extra_hours is None for d in need.doublings)
    assert need.doublings[0].expected_2s < need.doublings[0].expected_s and need.doublings[0].gain > 0


def test_single_trial_has_no_doublings():
    need = trials_needed(TrialTable.from_frame(table([0.5], [0.5]), mode="max"))
    assert need.doublings == () and need.sizes[-1] == 512


@pytest.mark.parametrize(("hours", "shown"), [(4.0 / 3600, "4.0 seconds"), (89.0 / 3600, "89.0 seconds"),
                                              (0.5, "30.0 minutes"), (1.49, "89.4 minutes"), (12.0, "12.0 hours")])
def test_compute_is_shown_in_seconds_minutes_or_hours(hours, shown) -> None:
    unit, size = time_unit(hours)
    assert f"{hours / size:.1f} {unit}" == shown
