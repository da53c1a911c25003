"""The training losses of the heads and their class weights.

* one logit per class (and ``binary_head: softmax2``): cross-entropy; a regression: MSE.
* ``binary_head: sigmoid1``: binary cross-entropy of the one logit, the same loss as the softmax of
  two logits as a function of their difference (``BCE(b - a, y) = CE((a, b), y)``), class weights
  as cross-entropy's: a weighted mean, Σ w_y·l / Σ w_y.
* multi-label: binary cross-entropy of each label's logit, the mean over samples and labels; with
  ``class_weight: balanced`` each label's positives weigh ``pos_weight`` = its training negatives over
  its training positives (torch's ``pos_weight``, which the data checks keep finite and positive:
  no label is constant in the training part).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from experiments.settings import Task


def batch_loss(
    task: Task, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy on logits (classification; ``weight`` per class) or MSE on the single output (regression)."""
    if task == "classification":
        return F.cross_entropy(out, y, weight=weight, reduction=reduction)
    return F.mse_loss(out.squeeze(-1), y, reduction=reduction)


def sigmoid_loss(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean", weight: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Binary cross-entropy of one logit per sample (batch, 1) for int labels 0/1; ``weight``: per class."""
    losses = F.binary_cross_entropy_with_logits(out.squeeze(-1), y.to(out.dtype), reduction="none")
    if weight is not None:
        w = weight[y]
        return (w * losses).sum() / w.sum() if reduction == "mean" else (w * losses).sum()
    return losses.mean() if reduction == "mean" else losses.sum()


def multilabel_loss(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean",
                    pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of each label's logit (batch, labels) for 0/1 targets; mean over every entry."""
    return F.binary_cross_entropy_with_logits(out, y, pos_weight=pos_weight, reduction=reduction)


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Weights n / (K · count_k) of the K classes present in ``labels`` (float32, one per class 0..n_classes-1).

    A class absent from ``labels`` gets weight 0: no training sample has it, so it weighs nothing.
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(labels) / (int(present.sum()) * counts[present])
    return weights.astype(np.float32)


def balanced_pos_weights(labels: np.ndarray) -> np.ndarray:
    """Each label's negatives over its positives in ``labels`` (samples, labels) of 0/1 (float32)."""
    positives = labels.sum(axis=0, dtype=np.float64)
    if not (0 < positives).all() or not (positives < len(labels)).all():
        raise ValueError("pos_weight: every label needs positives and negatives in the training part")
    return ((len(labels) - positives) / positives).astype(np.float32)
