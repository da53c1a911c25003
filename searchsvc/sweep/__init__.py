"""What a sweep is: its spec, its search space, its trials' configs and costs, and its data set, checked.

Owns: the YAML spec (:mod:`.spec`), distributions and conditions (:mod:`.space`), counter-based configs
(:mod:`.sampling`: trial k's config is a pure function of (seed, k, space)), memory estimates and the
limit (:mod:`.costs`), and loading and checking the data set once (:mod:`.data`).

May import: ``experiments`` (the model family's hyperparameters, data sets and checks), numpy, scipy,
pydantic and yaml. Never Ray, SQLAlchemy or MLflow (``tests/test_layout.py`` holds it to that).
"""

from searchsvc.exports import lazy

_NAMES = {"SweepSpec": "spec", "load_spec": "spec", "parse_spec": "spec", "trial_config": "sampling",
          "trial_seed": "sampling", "check_memory_limit": "costs", "load_data": "data"}
__all__ = sorted(_NAMES)
__getattr__ = lazy(__name__, _NAMES)
