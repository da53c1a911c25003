"""Counter-based trial configs: trial k's config is a pure function of (seed, k, space).

No sampler state is carried from one trial to the next, so the order of execution, the number of
workers, crashes, resumes and extending a sweep never change any trial's config. That is what makes
the Bergstra–Bengio re-partitioning of the trials valid.

* ``random``: each parameter draws one uniform from its own stream,
  ``SeedSequence([seed, k, crc32(name)])``; adding a parameter to the space leaves the others' values
  unchanged.
* ``sobol``: point k of a scrambled Sobol sequence seeded by ``seed`` (dimensions in sorted name order).
  Not i.i.d.: the analysis warns about re-partitioning it.
* ``grid``: point k of the cartesian grid (sorted names, the last name varying fastest).

Then conditions (``when``) set inactive parameters to ``None`` and the model family's rules apply
(:func:`experiments.hyperparams.normalize`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping

from experiments.hyperparams import normalize
from searchsvc.sweep.space import Param

TrialConfig = dict[str, object]


def trial_seed(seed: int, k: int) -> int:
    """The seed of trial k's training (weights init, batch order, dropout masks)."""
    import numpy as np

    return int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint32)[0])


def trial_config(space: Mapping[str, Param], strategy: str, seed: int, k: int, grid_points: int = 3) -> TrialConfig:
    return trial_configs(space, strategy, seed, k, k + 1, grid_points)[0]


def trial_configs(
    space: Mapping[str, Param], strategy: str, seed: int, start: int, stop: int, grid_points: int = 3
) -> list[TrialConfig]:
    """Configs of trials ``start .. stop-1``."""
    if strategy == "random":
        draws = [_random_uniforms(space, seed, k) for k in range(start, stop)]
    elif strategy == "sobol":
        draws = _sobol_uniforms(space, seed, start, stop)
    elif strategy == "grid":
        return [_finish(space, _grid_point(space, grid_points, k)) for k in range(start, stop)]
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return [_finish(space, {name: space[name].ppf(u) for name, u in d.items()}) for d in draws]


def grid_size(space: Mapping[str, Param], grid_points: int) -> int:
    return math.prod(len(p.grid(grid_points)) for p in space.values())


def _random_uniforms(space: Mapping[str, Param], seed: int, k: int) -> dict[str, float]:
    import numpy as np

    return {
        name: float(np.random.default_rng(np.random.SeedSequence([seed, k, zlib.crc32(name.encode())])).random())
        for name in space
    }


def _sobol_uniforms(space: Mapping[str, Param], seed: int, start: int, stop: int) -> list[dict[str, float]]:
    import warnings

    import numpy as np
    from scipy.stats import qmc

    names = sorted(space)
    sobol = qmc.Sobol(d=len(names), scramble=True, rng=np.random.default_rng(seed))
    if start:  # scipy rejects fast_forward(0)
        sobol.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance properties want powers of two; trial k must not depend on S
        points = sobol.random(stop - start)
    return [dict(zip(names, map(float, row))) for row in points]


def _grid_point(space: Mapping[str, Param], grid_points: int, k: int) -> dict[str, object]:
    names = sorted(space)
    axes = [space[name].grid(grid_points) for name in names]
    point: dict[str, object] = {}
    for name, axis in zip(reversed(names), reversed(axes)):
        k, i = divmod(k, len(axis))
        point[name] = axis[i]
    return point


def _finish(space: Mapping[str, Param], raw: dict[str, object]) -> TrialConfig:
    """Spec order, plain Python types, conditions applied, then the model family's rules."""
    values = {name: _plain(raw[name]) for name in space}
    return normalize({name: v if space[name].active(values) else None for name, v in values.items()})


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value  # a numpy scalar
