"""A sweep's data set, loaded and checked against the spec once, before anything runs: by ``validate`` and by
every driver alike, so what one refuses the other refuses with the same message."""

from __future__ import annotations

from typing import Any

from searchsvc.sweep.spec import SweepSpec
from searchsvc.sweep.space import largest_value


def load_data(spec: SweepSpec) -> Any:
    """The spec's data set, checked against its objective and against the longest window a trial of the space
    can ask for (a window's room grows with its length): invalid data raises ``experiments.errors.DataError``."""
    from experiments.checks import check_config, check_objective
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from searchsvc.home import datasets_dir

    data = load_dataset(spec.dataset, datasets_dir())
    check_objective(data, spec.metric)
    if "window" in spec.space:
        check_config(data, LSTMConfig.from_params({"window": largest_value(spec.space["window"])}))
    else:
        check_config(data, LSTMConfig())
    return data
