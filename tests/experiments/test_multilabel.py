"""experiments.multilabel: equal to scikit-learn's multi-label metrics on random predictions, labels without
positives included; never NaN: an undefined value is None with the reason, or a ValueError."""

import warnings

import numpy as np
import pytest

from experiments.metrics import Evaluation
from experiments.multilabel import (
    label_counts,
    label_list,
    label_rates,
    macro_auroc,
    macro_f1,
    micro_f1,
    subset_accuracy,
)


def _cases(seed):
    """Random 0/1 labels, scores and predictions of 2-7 labels; some labels without positives (or without
    negatives) in y_true, some never predicted."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(2, 60)), int(rng.integers(2, 8))
    y_true = (rng.random((n, k)) < rng.random(k)).astype(np.int64)
    if seed % 3 == 1:
        y_true[:, 0] = 0  # a label with no positives in the split
    if seed % 5 == 2:
        y_true[:, -1] = 1  # a label with no negatives
    scores = rng.normal(size=(n, k)) + y_true * rng.random(k)
    if seed % 2:
        scores = np.round(scores, 1)  # ties
    y_pred = (scores > 0).astype(np.int64)
    if seed % 4 == 3:
        y_pred[:, 1] = 0  # a label never predicted
    return y_true, y_pred, scores


@pytest.mark.parametrize("seed", range(60))
def test_multilabel_metrics_equal_scikit_learn(seed):
    sk = pytest.importorskip("sklearn.metrics")
    y_true, y_pred, scores = _cases(seed)
    counts = label_counts(y_true, y_pred)
    assert subset_accuracy(counts) == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=1e-12)
    with warnings.catch_warnings():  # scikit-learn warns where a label's F1 or recall is 0/0
        warnings.simplefilter("ignore")
        micro = sk.f1_score(y_true, y_pred, average="micro", zero_division=np.nan)
        macro = sk.f1_score(y_true, y_pred, average="macro", zero_division=np.nan)
        sensitivity = sk.recall_score(y_true, y_pred, average=None, zero_division=np.nan)
        specificity = sk.recall_score(1 - y_true, 1 - y_pred, average=None, zero_division=np.nan)
    for ours, theirs in ((micro_f1, micro), (macro_f1, macro)):
        if np.isnan(theirs):
            with pytest.raises(ValueError, match="undefined"):
                ours(counts)
        else:
            assert ours(counts) == pytest.approx(theirs, abs=1e-12)
    rates = label_rates(counts)
    for ours, theirs, mean in ((rates.sensitivity, sensitivity, rates.mean_sensitivity),
                               (rates.specificity, specificity, rates.mean_specificity)):
        assert [v is None for v in ours] == list(np.isnan(theirs))
        np.testing.assert_allclose([v for v in ours if v is not None], theirs[~np.isnan(theirs)], atol=1e-12)
        assert (mean is None) == np.isnan(theirs).all()
        if mean is not None:
            assert mean == pytest.approx(np.nanmean(theirs), abs=1e-12)
    both = [j for j in range(y_true.shape[1]) if 0 < y_true[:, j].sum() < len(y_true)]
    if both:
        expected = sk.roc_auc_score(y_true[:, both], scores[:, both], average="macro")
        assert macro_auroc(y_true, scores) == pytest.approx(expected, abs=1e-12)
    else:
        with pytest.raises(ValueError, match="macro AUROC is undefined"):
            macro_auroc(y_true, scores)


def test_the_cases_cover_labels_without_positives_and_undefined_rates():
    seen = [label_rates(label_counts(*_cases(seed)[:2])) for seed in range(60)]
    assert any(None in r.sensitivity for r in seen) and any(None in r.specificity for r in seen)


def test_a_label_without_positives_is_left_out_with_the_reason():
    y_true = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1]])
    y_pred = np.array([[1, 0, 1], [0, 0, 0], [0, 0, 1]])
    counts = label_counts(y_true, y_pred)
    assert (counts.tp.tolist(), counts.fn.tolist(), counts.exact) == ([1, 0, 2], [1, 0, 1], 1)
    assert macro_f1(counts) == pytest.approx((2 / 3 + 0.8) / 2)  # label 1: no positive anywhere, left out
    rates = label_rates(counts, "the validation split")
    assert rates.sensitivity == (0.5, None, 2 / 3) and rates.specificity == (1.0, 1.0, None)
    assert rates.mean_sensitivity == pytest.approx((0.5 + 2 / 3) / 2) and rates.mean_specificity == 1.0
    assert rates.note == (
        "sensitivity undefined for 1 of 3 labels (label 1): the validation split has no positives of them; its "
        "mean and the macro AUROC leave them out; specificity undefined for 1 of 3 labels (label 2): the "
        "validation split has no negatives of them; its mean and the macro AUROC leave them out")
    assert macro_auroc(y_true, np.array([[0.9, 0, 0], [0.1, 0, 0], [0.4, 0, 0]])) == 1.0  # label 0 alone


def test_undefined_everywhere_raises_and_no_samples_has_no_metric():
    counts = label_counts(np.zeros((4, 2)), np.zeros((4, 2)))
    assert subset_accuracy(counts) == 1.0
    for metric in (micro_f1, macro_f1):
        with pytest.raises(ValueError, match="undefined"):
            metric(counts)
    assert label_rates(counts).mean_sensitivity is None and label_rates(counts).mean_specificity == 1.0
    with pytest.raises(ValueError, match="no samples"):
        subset_accuracy(label_counts(np.zeros((0, 2)), np.zeros((0, 2))))


def test_a_long_list_of_labels_is_cut():
    assert label_list([3]) == "label 3" and label_list([0, 4]) == "labels 0, 4"
    assert label_list(range(20)) == "labels 0, 1, 2, 3, 4, 5, 6, 7 and 12 more"


def test_evaluation_scores_every_multilabel_metric():
    y_true = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    y_pred = np.array([[1, 0], [0, 0], [1, 1], [1, 0]])
    scores = np.array([[0.9, 0.2], [0.3, 0.4], [0.8, 0.7], [0.6, 0.5]])
    ev = Evaluation(0.3, labels=y_true, scores=scores, label_counts=label_counts(y_true, y_pred))
    assert ev.score("loss") == 0.3 and ev.score("subset_accuracy") == 0.5
    assert ev.score("micro_f1") == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert ev.score("macro_f1") == pytest.approx((0.8 + 2 / 3) / 2)
    assert ev.score("macro_auroc") == pytest.approx((1.0 + 0.75) / 2)
    with pytest.raises(ValueError, match="multi-label split is scored by"):
        ev.score("accuracy")
    with pytest.raises(ValueError, match="did not keep"):
        Evaluation(0.3, label_counts=ev.label_counts).score("macro_auroc")
