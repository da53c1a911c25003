"""Counter-based sampling: trial k's config depends on (seed, k, space) only."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc.sweep.sampling import grid_size, trial_config, trial_configs, trial_seed
from searchsvc.sweep.spec import parse_spec

SPEC = parse_spec("""
name: t
trials: 64
dataset: {name: mnist1d}
space:
  units: {type: log_int, low: 16, high: 256}
  layers: {type: int, low: 1, high: 3}
  dropout_placement: {type: choice, values: [none, input, between, output]}
  dropout: {type: uniform, low: 0.0, high: 0.5}
  optimizer: {type: choice, values: [sgd, adam, rmsprop]}
  lr: {type: log_uniform, low: 1.0e-4, high: 1.0e-1}
  momentum: {type: uniform, low: 0.0, high: 0.99, when: {optimizer: sgd}}
  bidirectional: false
""")


def test_any_order_and_any_chunking_give_the_same_configs() -> None:
    whole = trial_configs(SPEC.space, "random", 7, 0, 64)
    order = list(range(64))
    random.Random(1).shuffle(order)
    assert [trial_config(SPEC.space, "random", 7, k) for k in order] == [whole[k] for k in order]
    chunks = trial_configs(SPEC.space, "random", 7, 0, 20) + trial_configs(SPEC.space, "random", 7, 20, 64)
    assert chunks == whole


def test_extending_a_sweep_keeps_the_first_configs() -> None:
    assert trial_configs(SPEC.space, "random", 3, 0, 100)[:64] == trial_configs(SPEC.space, "random", 3, 0, 64)


def test_adding_a_parameter_leaves_the_others_unchanged() -> None:
    bigger = dict(SPEC.space) | parse_spec("name: t\ntrials: 1\ndataset: {name: mnist1d}\nspace: {batch_size: {type: choice, values: [32, 64]}}").space
    for k in range(20):
        old, new = trial_config(SPEC.space, "random", 0, k), trial_config(bigger, "random", 0, k)
        assert {n: new[n] for n in old} == old


def test_seed_changes_configs_and_trial_seeds() -> None:
    assert trial_configs(SPEC.space, "random", 0, 0, 8) != trial_configs(SPEC.space, "random", 1, 0, 8)
    assert len({trial_seed(0, k) for k in range(1000)}) == 1000


def test_conditions_and_family_rules() -> None:
    for config in trial_configs(SPEC.space, "random", 0, 0, 500):
        assert (config["momentum"] is None) == (config["optimizer"] != "sgd")
        assert (config["dropout"] is None) == (config["dropout_placement"] == "none")
        assert not (config["dropout_placement"] == "between" and config["layers"] < 2)


def test_values_stay_in_bounds_and_cover_the_range() -> None:
    configs = trial_configs(SPEC.space, "random", 0, 0, 2000)
    units = [c["units"] for c in configs]
    lrs = [c["lr"] for c in configs]
    assert min(units) == 16 and max(units) == 256
    assert all(1e-4 <= lr <= 1e-1 for lr in lrs)
    # log-uniform: about half the mass below the geometric middle
    below = sum(lr < math.sqrt(1e-4 * 1e-1) for lr in lrs) / len(lrs)
    assert 0.45 < below < 0.55
    assert {c["optimizer"] for c in configs} == {"sgd", "adam", "rmsprop"}


def test_sobol_and_grid_are_counter_based_too() -> None:
    for strategy in ("sobol", "grid"):
        whole = trial_configs(SPEC.space, strategy, 5, 0, 40, 3)
        assert [trial_config(SPEC.space, strategy, 5, k, 3) for k in (39, 3, 17)] == [whole[39], whole[3], whole[17]]
    units = len(SPEC.space["units"].grid(3))
    assert grid_size(SPEC.space, 3) == units * 3 * 4 * 3 * 3 * 3 * 3 * 1


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 10**6))
def test_configs_are_pure_functions(seed: int, k: int) -> None:
    assert trial_config(SPEC.space, "random", seed, k) == trial_config(SPEC.space, "random", seed, k)
