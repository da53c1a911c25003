"""The area under the ROC curve of scores for 0/1 labels, by ranks (Mann–Whitney U), ties sharing their mean
rank: what the binary and the multi-label metrics both use."""

from __future__ import annotations

import numpy as np


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher: more likely class 1) for labels 0/1.

    Raises ``ValueError`` when ``y_true`` holds one class only (the area is then undefined).
    """
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D of one length, got shapes {y_true.shape} and {scores.shape}")
    positive = y_true == 1
    n1 = int(positive.sum())
    n0 = len(y_true) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError(
            f"AUROC is undefined when y_true holds one class only ({n1} positives, {n0} negatives)"
        )
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    midranks = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based ranks, ties sharing their mean rank
    u = midranks[group][positive].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))
