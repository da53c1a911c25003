"""Classification metrics over a whole split, defined for every split: never a silent NaN.

All but AUROC are read from a confusion matrix (rows: true class, columns: predicted class), which
the trainable counts on the device batch by batch and reads once per evaluation. Definitions, equal
to scikit-learn's where it defines them (``tests/experiments/test_metrics.py`` checks):

* accuracy = correct / n.
* balanced accuracy = the mean recall over the classes present in ``y_true`` (a class that is only
  predicted adds no term), as ``sklearn.metrics.balanced_accuracy_score``.
* macro-F1 = the mean over the classes present in ``y_true`` or ``y_pred`` of
  F1_k = 2·TP / (2·TP + FP + FN): F1_k = 0 where precision or recall is 0/0, as
  ``sklearn.metrics.f1_score(average="macro", zero_division=0)``.
* AUROC (two classes, positive class 1) = the probability that a positive scores above a negative,
  ties counting one half (Mann–Whitney U / (n₁·n₀)), as ``sklearn.metrics.roc_auc_score``. Undefined
  when ``y_true`` holds one class: :func:`auroc` raises ``ValueError``; the data checks refuse such a
  split before training (:func:`experiments.checks.check_objective`).
* sensitivity = recall of class 1, specificity = recall of class 0 (two classes). ``None`` with the
  reason in :attr:`BinaryRates.note` when the split has no positives or no negatives.

A split without samples has no metric: every function raises ``ValueError``. Multi-label metrics
(subset accuracy, micro/macro-F1, macro AUROC, per-label rates) are in :mod:`experiments.multilabel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from experiments.auroc import auroc

if TYPE_CHECKING:
    from experiments.multilabel import LabelCounts


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts (n_classes, n_classes), int64: ``[k, j]`` = samples of class k predicted as j.

    ``n_classes`` defaults to 1 + the largest label of either array; labels are integers 0..K-1.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got shapes {y_true.shape} and {y_pred.shape}")
    k = n_classes if n_classes is not None else int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _counts(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, true counts and predicted counts per class; refuses an empty split."""
    confusion = np.asarray(confusion)
    if confusion.sum() == 0:
        raise ValueError("the split has no samples: no metric is defined")
    return np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)


def accuracy(confusion: np.ndarray) -> float:
    """Correct / n."""
    tp, true, _ = _counts(confusion)
    return int(tp.sum()) / int(true.sum())


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean recall over the classes present in y_true."""
    tp, true, _ = _counts(confusion)
    present = true > 0
    return float(np.mean(tp[present] / true[present]))


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over the classes present in y_true or y_pred; 0 for a class with precision or recall 0/0."""
    tp, true, predicted = _counts(confusion)
    present = (true + predicted) > 0
    return float(np.mean(2 * tp[present] / (true[present] + predicted[present])))


@dataclass(frozen=True)
class BinaryRates:
    """Recall of the positive class (1) and of the negative class (0); ``None`` where undefined, and why."""

    sensitivity: float | None
    specificity: float | None
    note: str | None = None


def binary_rates(confusion: np.ndarray, split: str = "the split") -> BinaryRates:
    """Sensitivity and specificity of a 2×2 confusion matrix; ``split`` names it in the note."""
    tp, true, _ = _counts(confusion)
    if len(true) != 2:
        raise ValueError(f"sensitivity and specificity need 2 classes, got a {len(true)}-class confusion matrix")
    missing = [name for name, n in (("positives (class 1)", true[1]), ("negatives (class 0)", true[0])) if n == 0]
    note = None
    if missing:
        undefined = "sensitivity" if true[1] == 0 else "specificity"
        note = f"{undefined} undefined: {split} has no {missing[0]}"
    return BinaryRates(
        sensitivity=float(tp[1] / true[1]) if true[1] else None,
        specificity=float(tp[0] / true[0]) if true[0] else None,
        note=note,
    )


@dataclass(frozen=True)
class Evaluation:
    """What one pass over a split measured: the mean loss and, for a classification, the confusion
    matrix, plus the true labels and scores of class 1 where AUROC needs them (two classes). For a
    multi-label classification, ``label_counts`` instead of the confusion matrix, and the labels and
    scores (samples, labels) where the macro AUROC needs them."""

    loss: float
    confusion: np.ndarray | None = None
    labels: np.ndarray | None = None
    scores: np.ndarray | None = None
    label_counts: LabelCounts | None = None

    def score(self, metric: str) -> float:
        """The objective ``metric`` (a key of :data:`experiments.settings.METRICS`) on this split."""
        if metric in ("loss", "mse"):
            return self.loss
        if self.label_counts is not None:
            return self._multilabel_score(metric)
        if self.confusion is None:
            raise ValueError(f"metric: {metric!r} needs a classification, but this split was a regression")
        if metric == "auroc":
            if self.scores is None or self.labels is None:
                raise ValueError("metric: 'auroc' needs the scores of class 1, which this evaluation did not keep")
            return auroc(self.labels, self.scores)
        by_name = {"accuracy": accuracy, "balanced_accuracy": balanced_accuracy, "macro_f1": macro_f1}
        if metric not in by_name:
            raise ValueError(f"metric: expected one of loss, mse, auroc, {', '.join(by_name)}; got {metric!r}")
        return by_name[metric](self.confusion)

    def _multilabel_score(self, metric: str) -> float:
        from experiments import multilabel

        if metric == "macro_auroc":
            if self.scores is None or self.labels is None:
                raise ValueError("metric: 'macro_auroc' needs the scores of every label, which this evaluation did "
                                 "not keep")
            return multilabel.macro_auroc(self.labels, self.scores)
        by_name = {"subset_accuracy": multilabel.subset_accuracy, "micro_f1": multilabel.micro_f1,
                   "macro_f1": multilabel.macro_f1}
        if metric not in by_name:
            raise ValueError(f"metric: a multi-label split is scored by loss, macro_auroc, {', '.join(by_name)}; "
                             f"got {metric!r}")
        return by_name[metric](self.label_counts)
