"""A sweep's data set, loaded and checked against the spec once, before anything runs: by ``validate`` and by
every driver alike, so what one refuses the other refuses with the same message."""

from __future__ import annotations

from typing import Any

from searchsvc.sweep.spec import SweepSpec
from searchsvc.sweep.space import extreme_values


def load_data(spec: SweepSpec) -> Any:
    """The spec's data set, checked against its objective and against what any trial of the space can ask of it:
    each hyperparameter's extreme values (every choice; a range's ends, such as the longest window), one at a
    time, since each check concerns one of them. Invalid data raises ``experiments.errors.DataError``."""
    from experiments.checks import check_config, check_objective
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from searchsvc.home import datasets_dir

    data = load_dataset(spec.dataset, datasets_dir())
    check_objective(data, spec.metric)
    check_config(data, LSTMConfig())
    for name, param in spec.space.items():
        for value in extreme_values(param):
            check_config(data, LSTMConfig.from_params({name: value}))
    return data
