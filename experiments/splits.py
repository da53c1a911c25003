"""A data set's fixed train/validation/test splits as numpy arrays (:class:`Dataset`): what every data set
becomes (:mod:`experiments.datasets`) and what a series' windows are cut into (:mod:`experiments.series`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from experiments.settings import Task

if TYPE_CHECKING:
    from experiments.hyperparams import LSTMConfig

#: most classes a classification data set may have (labels 0..MAX_CLASSES-1)
MAX_CLASSES = 65_536
#: the arrays of a Dataset, in order
SPLIT_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
#: a Dataset's static inputs, by split (None when it has none)
STATIC_ARRAYS = ("static_train", "static_val", "static_test")


@dataclass(frozen=True)
class SplitSizes:
    train: int
    val: int
    test: int


class Targets:
    """What a data set's ``task``, ``n_classes`` and ``n_labels`` (0 unless multi-label) tell of its head,
    alike for a :class:`Dataset` and a :class:`~experiments.series.SeriesData`."""

    task: Task
    n_classes: int
    n_labels: int

    @property
    def multilabel(self) -> bool:
        return self.n_labels > 0

    @property
    def n_outputs(self) -> int:
        """Width of the model's head: one logit per class or per label, or one value for regression."""
        if self.multilabel:
            return self.n_labels
        return self.n_classes if self.task == "classification" else 1


@dataclass(frozen=True, eq=False)
class Dataset(Targets):
    """Train/validation/test splits of one data set; arrays are read-only.

    ``x_*``: float32 (samples, timesteps, features). ``y_*``: int64 class labels in ``0..n_classes-1``
    (classification) or float32 targets (regression, ``n_classes == 0``), or for a multi-label
    classification (``n_labels`` ≥ 2, ``n_classes == 0``) float32 0/1 (samples, n_labels).
    ``static_*``: float32 (samples, static features) read beside the LSTM's final state, standardised
    with the training part's statistics, or None. ``source``: the file it was read from, for messages.
    Compared and hashed by identity, so it can key a per-process cache of tensors.
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
    static_train: np.ndarray | None = field(default=None, kw_only=True)
    static_val: np.ndarray | None = field(default=None, kw_only=True)
    static_test: np.ndarray | None = field(default=None, kw_only=True)
    n_labels: int = field(default=0, kw_only=True)
    source: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        for name in SPLIT_ARRAYS + STATIC_ARRAYS:
            if getattr(self, name) is not None:
                getattr(self, name).setflags(write=False)

    @property
    def static_features(self) -> int:
        """Static inputs per sample (0: none)."""
        return 0 if self.static_train is None else self.static_train.shape[1]

    @property
    def timesteps(self) -> int:
        return self.x_train.shape[1]

    @property
    def features(self) -> int:
        return self.x_train.shape[2]

    @property
    def sizes(self) -> SplitSizes:
        return SplitSizes(len(self.y_train), len(self.y_val), len(self.y_test))

    def for_trial(self, config: LSTMConfig) -> Dataset:
        """The data a trial of ``config`` trains on: this data set itself (a series cuts windows per trial)."""
        return self


def seeded_rng(seed: int, stream: int) -> np.random.Generator:
    """The generator of one of a data set's random streams (its splits, its generated samples)."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def split_indices(n: int, n_val: int, n_test: int, rng: np.random.Generator):
    """Train, validation and test indices of ``n`` samples in a random order of ``rng``."""
    perm = rng.permutation(n)
    return perm[n_val + n_test :], perm[:n_val], perm[n_val : n_val + n_test]
