"""What a sweep's trials cost before it runs: each trial's parameters and estimated training memory
(:func:`experiments.cost.trial_cost`, the optimizer's state included), and the spec's memory limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from searchsvc.errors import SpecError
from searchsvc.sweep.spec import SweepSpec


def trial_costs(spec: SweepSpec, configs: Sequence[dict[str, object]]) -> list[Any]:
    """The :class:`~experiments.cost.TrialCost` of each config (reads only the data files' headers)."""
    from experiments.cost import trial_cost
    from experiments.hyperparams import LSTMConfig

    return [trial_cost(LSTMConfig.from_params(c), spec.dataset) for c in configs]


def check_memory_limit(spec: SweepSpec, start: int = 0, stop: int | None = None) -> None:
    """Refuse (exit 2) the first of trials ``start .. stop-1`` whose estimated training memory exceeds
    ``resources.memory_limit``. Without a limit nothing is estimated; with one, every trial is."""
    limit = spec.resources.memory_limit
    if limit is None:
        return
    from experiments.cost import trial_cost
    from experiments.hyperparams import LSTMConfig

    for k, config in enumerate(spec.configs(start, stop), start=start):
        cost = trial_cost(LSTMConfig.from_params(config), spec.dataset)
        if cost.memory_bytes > limit:
            raise SpecError(f"resources.memory_limit: trial {k} needs an estimated {mib(cost.memory_bytes)} to train "
                            f"({cost.param_count:,} parameters; optimizer state {mib(cost.optimizer_state_bytes)}), "
                            f"above the limit of {mib(limit)}; raise the limit, or narrow the space (units, layers, "
                            f"batch_size{', window' if 'window' in config else ''}) "
                            f"— `searchsvc validate SPEC --show N` prints each trial's estimate")


def training_memory(spec: SweepSpec, config: dict[str, object]) -> int:
    """A trial's estimated training memory in bytes (what it asks of a GPU's, ``searchsvc.run.packing``)."""
    from experiments.cost import trial_cost
    from experiments.hyperparams import LSTMConfig

    return trial_cost(LSTMConfig.from_params(config), spec.dataset).memory_bytes


def mib(n: int) -> str:
    """Bytes in MiB (KiB below one MiB)."""
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"
