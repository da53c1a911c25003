"""Random over- and undersampling of a classification's training part, drawn again every epoch.

``oversample``: every class's samples, plus as many drawn again (with replacement) from each class as
it lacks to reach the largest class's count: K · max_k n_k samples an epoch, every sample among them
at least once. ``undersample``: from each class, min_k n_k of its samples drawn without replacement:
K · min_k n_k samples an epoch, a new subset of the larger classes each epoch (so over a trial's
epochs they are seen more widely than a subset drawn once would be). K counts the classes present in
the training part. The draws come from a generator seeded by the trial's seed, so the config and its
seed fix every epoch's samples. Validation and test parts are never resampled.
"""

from __future__ import annotations

import numpy as np

from experiments.hyperparams import RESAMPLES


class Resampler:
    """The training rows of each epoch for ``how`` (``oversample`` / ``undersample``) of ``labels``."""

    def __init__(self, labels: np.ndarray, how: str, rng: np.random.Generator):
        if how not in RESAMPLES or how == "none":
            raise ValueError(f"resample: expected oversample or undersample, got {how!r}")
        labels = np.asarray(labels)
        self.how, self.rng = how, rng
        self.classes = [np.flatnonzero(labels == k) for k in np.unique(labels)]
        counts = [len(rows) for rows in self.classes]
        self.per_class = max(counts) if how == "oversample" else min(counts)

    @property
    def size(self) -> int:
        """Rows an epoch."""
        return self.per_class * len(self.classes)

    def draw(self) -> np.ndarray:
        """The next epoch's rows (int64), class by class; the trainable shuffles them."""
        if self.how == "undersample":
            parts = [self.rng.choice(rows, self.per_class, replace=False) for rows in self.classes]
        else:
            parts = [np.concatenate([rows, self.rng.choice(rows, self.per_class - len(rows), replace=True)])
                     for rows in self.classes]
        return np.concatenate(parts).astype(np.int64)
