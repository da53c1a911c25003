"""Multi-label metrics over a whole split: each sample has L labels of 0/1, each predicted 1 when its
probability exceeds 0.5 (its logit > 0). Defined for every split that has samples: never a silent NaN.

Read from per-label counts (:class:`LabelCounts`, counted on the device and read once per evaluation),
but the AUROC, which needs the scores. Definitions, equal to scikit-learn's on a label-indicator
matrix (``tests/experiments/test_multilabel.py`` checks):

* subset accuracy = samples with every label right / n, as ``sklearn.metrics.accuracy_score``.
* micro-F1 = 2·ΣTP / (2·ΣTP + ΣFP + ΣFN) over all labels, as ``f1_score(average="micro")``.
  Undefined (0/0) when neither ``y_true`` nor ``y_pred`` has a positive: raises ``ValueError``.
* macro-F1 = the mean over the labels with a positive in ``y_true`` or ``y_pred`` of
  F1_l = 2·TP / (2·TP + FP + FN): a label with none in either (F1 is 0/0) is left out, as a class
  absent everywhere is in the multi-class macro-F1; ``f1_score(average="macro", zero_division=np.nan)``.
  ``ValueError`` when no label has a positive.
* macro AUROC = the mean over the labels with both classes in ``y_true`` of each label's AUROC
  (:func:`experiments.auroc.auroc`); a label with no positives or no negatives in the split is left
  out (its AUROC is undefined), as ``roc_auc_score(average="macro")`` on the other labels. ``ValueError``
  when no label has both.
* per label, sensitivity = TP / (TP + FN) (undefined without positives) and specificity = TN / (TN + FP)
  (undefined without negatives); summarised as their means over the labels where they are defined,
  the undefined ones ``None`` with the reason in :attr:`LabelRates.note`
  (``recall_score(average=None / "macro", zero_division=np.nan)``, of ``y`` and of ``1 - y``).

The data checks refuse a validation or test split where the objective would be undefined whatever the
model predicts (:func:`experiments.checks.check_objective`), so an objective is always a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.auroc import auroc

#: labels a note names one by one before it only counts the rest
NOTE_LABELS = 8


@dataclass(frozen=True)
class LabelCounts:
    """Per-label true/false positives/negatives (int64, (labels,)) and the samples with every label right."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    exact: int

    @property
    def n(self) -> int:
        """Samples of the split."""
        return int(self.tp[0] + self.fp[0] + self.fn[0] + self.tn[0]) if len(self.tp) else 0

    @property
    def labels(self) -> int:
        return len(self.tp)


def label_counts(y_true: np.ndarray, y_pred: np.ndarray) -> LabelCounts:
    """Counts of 0/1 arrays (samples, labels) of true and predicted labels."""
    y_true, y_pred = np.asarray(y_true) > 0.5, np.asarray(y_pred) > 0.5
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ValueError(f"y_true and y_pred must be 2-D (samples, labels) of one shape, got {y_true.shape} and "
                         f"{y_pred.shape}")
    count = lambda a: a.sum(axis=0).astype(np.int64)  # noqa: E731
    return LabelCounts(count(y_true & y_pred), count(~y_true & y_pred), count(y_true & ~y_pred),
                       count(~y_true & ~y_pred), int((y_true == y_pred).all(axis=1).sum()))


def _checked(counts: LabelCounts) -> LabelCounts:
    if counts.n == 0:
        raise ValueError("the split has no samples: no metric is defined")
    return counts


def subset_accuracy(counts: LabelCounts) -> float:
    """Samples with every label right / n."""
    return _checked(counts).exact / counts.n


def micro_f1(counts: LabelCounts) -> float:
    """F1 of all labels' decisions pooled."""
    c = _checked(counts)
    tp, wrong = int(c.tp.sum()), int(c.fp.sum() + c.fn.sum())
    if tp + wrong == 0:
        raise ValueError("micro-F1 is undefined: neither the labels nor the predictions have a positive")
    return 2 * tp / (2 * tp + wrong)


def macro_f1(counts: LabelCounts) -> float:
    """Mean F1 over the labels with a positive in the labels or the predictions."""
    c = _checked(counts)
    denominator = 2 * c.tp + c.fp + c.fn
    present = denominator > 0
    if not present.any():
        raise ValueError("macro-F1 is undefined: no label has a positive in the labels or the predictions")
    return float(np.mean(2 * c.tp[present] / denominator[present]))


def macro_auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Mean AUROC over the labels with both classes in ``y_true`` ((samples, labels) 0/1; scores alike)."""
    y_true, scores = np.asarray(y_true) > 0.5, np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or y_true.ndim != 2:
        raise ValueError(f"y_true and scores must be 2-D (samples, labels) of one shape, got {y_true.shape} and "
                         f"{scores.shape}")
    defined = [j for j in range(y_true.shape[1]) if 0 < y_true[:, j].sum() < len(y_true)]
    if not defined:
        raise ValueError("macro AUROC is undefined: no label has both positives and negatives in y_true")
    return float(np.mean([auroc(y_true[:, j].astype(np.int64), scores[:, j]) for j in defined]))


@dataclass(frozen=True)
class LabelRates:
    """Sensitivity and specificity of each label (``None`` where undefined), their means over the labels
    where defined (``None`` if none is), and why some are undefined."""

    sensitivity: tuple[float | None, ...]
    specificity: tuple[float | None, ...]
    mean_sensitivity: float | None
    mean_specificity: float | None
    note: str | None = None


def label_rates(counts: LabelCounts, split: str = "the split") -> LabelRates:
    """Per-label sensitivity and specificity and their means; ``split`` names it in the note."""
    c = _checked(counts)
    positives, negatives = c.tp + c.fn, c.tn + c.fp
    sensitivity = tuple(float(tp / p) if p else None for tp, p in zip(c.tp, positives))
    specificity = tuple(float(tn / n) if n else None for tn, n in zip(c.tn, negatives))
    notes = [_undefined("sensitivity", np.flatnonzero(positives == 0), "positives", c.labels, split),
             _undefined("specificity", np.flatnonzero(negatives == 0), "negatives", c.labels, split)]
    return LabelRates(sensitivity, specificity, _mean(sensitivity), _mean(specificity),
                      "; ".join(n for n in notes if n) or None)


def _mean(values: tuple[float | None, ...]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _undefined(rate: str, labels: np.ndarray, missing: str, total: int, split: str) -> str | None:
    """Why ``rate`` is undefined for ``labels`` (and left out of its mean and of the macro AUROC)."""
    if not len(labels):
        return None
    return (f"{rate} undefined for {len(labels)} of {total} labels ({label_list(labels)}): {split} has no "
            f"{missing} of them; its mean and the macro AUROC leave them out")


def label_list(labels: np.ndarray | list[int]) -> str:
    """'label 3', 'labels 0, 4, 7', or the first few and how many more."""
    labels = [int(j) for j in labels]
    shown = ", ".join(map(str, labels[:NOTE_LABELS]))
    more = f" and {len(labels) - NOTE_LABELS} more" if len(labels) > NOTE_LABELS else ""
    return f"label{'s' if len(labels) > 1 else ''} {shown}{more}"
