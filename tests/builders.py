"""Shared builders of the tests: a small spec, a trial's result and epochs, a sweep owned by a lease, and a
fake Ray Tune trial carrying a bundle. Tests import these, never each other."""

from __future__ import annotations

from types import SimpleNamespace

from experiments.results import EpochMetrics, TrialResult
from searchsvc.run.protocol import Bundle
from searchsvc.stores.lease import Lease
from searchsvc.sweep.spec import SweepSpec, parse_spec

#: a sweep that trains in seconds, with {concurrent} and {bundle} to fill in (the ``tiny_spec`` fixture)
TINY = """\
name: tiny
seed: 11
trials: 6
dataset: {{name: mnist1d, samples: 400}}
training: {{max_epochs: 2, patience: 2}}
max_concurrent: {concurrent}
bundle: {bundle}
space:
  units: {{type: log_int, low: 4, high: 16}}
  layers: {{type: int, low: 1, high: 2}}
  dropout_placement: {{type: choice, values: [none, input, between, output]}}
  dropout: {{type: uniform, low: 0.0, high: 0.5}}
  optimizer: {{type: choice, values: [sgd, adam]}}
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
  momentum: {{type: uniform, low: 0.5, high: 0.9, when: {{optimizer: sgd}}}}
  batch_size: 64
"""

SPEC = """\
name: s
seed: 11
trials: {trials}
dataset: {{name: mnist1d, samples: 400}}
training: {{max_epochs: 2, patience: 2}}
space:
  units: {{type: log_int, low: 4, high: 16}}
  optimizer: {{type: choice, values: [sgd, adam]}}
  lr: {{type: log_uniform, low: 1.0e-3, high: 1.0e-2}}
"""


def sweep_spec(trials: int = 3) -> SweepSpec:
    return parse_spec(SPEC.format(trials=trials))


def result(val: float | None = 0.5, test: float | None = None, **fields: object) -> TrialResult:
    """An ok trial's result with these scores (any field can be given)."""
    values = dict(status="ok", val_score=val, test_score=test, val_n=640, test_n=1000, epochs=3, best_epoch=2,
                  param_count=99, memory_estimate_bytes=1, train_seconds=1.5, cpu_seconds=1.4,
                  samples_per_second=100.0)
    return TrialResult(**{**values, **fields})


def epoch(e: int, seconds: float = 0.5) -> EpochMetrics:
    return EpochMetrics(e, train_loss=1.0 / e, val_loss=1.0 / e, val_score=0.1 * e, seconds=seconds)


def owned_sweep(ledger, sweep_id: str = "s", trials: int = 3, **columns: object) -> Lease:
    """A new running sweep of :func:`sweep_spec` in ``ledger``, owned by the returned lease."""
    lease = Lease(sweep_id)
    ledger.create_sweep(sweep_id, sweep_spec(trials), lease, **columns)
    return lease


def tune_trial(trial_id: str, indices: list[int], error_file: str | None = None) -> SimpleNamespace:
    """What a Tune callback sees of a Tune trial that runs a bundle of these trials."""
    return SimpleNamespace(trial_id=trial_id, config=Bundle(tuple(indices)).to_tune(), error_file=error_file)


def expire_now(ledger, sweep_id: str) -> None:
    """Make a sweep's lease run out now, as if its holder had stopped renewing it a lease ago."""
    from searchsvc.stores.schema import sweeps_table

    with ledger._engine.begin() as db:
        db.execute(sweeps_table.update().where(sweeps_table.c.sweep_id == sweep_id)
                   .values(lease_until=sweeps_table.c.lease_until - 10 * 86400))
