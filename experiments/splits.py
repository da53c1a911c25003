"""A data set's fixed train/validation/test splits as numpy arrays (:class:`Dataset`): what every data set
becomes (:mod:`experiments.datasets`) and what a series' windows are cut into (:mod:`experiments.series`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from experiments.settings import Task

if TYPE_CHECKING:
    from experiments.hyperparams import LSTMConfig

#: most classes a classification data set may have (labels 0..MAX_CLASSES-1)
MAX_CLASSES = 65_536
#: the arrays of a Dataset, in order
SPLIT_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


@dataclass(frozen=True)
class SplitSizes:
    train: int
    val: int
    test: int


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/validation/test splits of one data set; arrays are read-only.

    ``x_*``: float32 (samples, timesteps, features). ``y_*``: int64 class labels in ``0..n_classes-1``
    (classification) or float32 targets (regression, ``n_classes == 0``). Compared and hashed by
    identity, so it can key a per-process cache of tensors.
    """

    name: str
    task: Task
    n_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        for name in SPLIT_ARRAYS:
            getattr(self, name).setflags(write=False)

    @property
    def timesteps(self) -> int:
        return self.x_train.shape[1]

    @property
    def features(self) -> int:
        return self.x_train.shape[2]

    @property
    def n_outputs(self) -> int:
        """Width of the model's head: one logit per class, or one value for regression."""
        return self.n_classes if self.task == "classification" else 1

    @property
    def sizes(self) -> SplitSizes:
        return SplitSizes(len(self.y_train), len(self.y_val), len(self.y_test))

    def for_trial(self, config: LSTMConfig) -> Dataset:
        """The data a trial of ``config`` trains on: this data set itself (a series cuts windows per trial)."""
        return self
