"""experiments.metrics: equal to scikit-learn's metrics on random predictions, and defined where a class is absent."""

import warnings

import numpy as np
import pytest

from experiments.metrics import (
    Evaluation,
    accuracy,
    auroc,
    balanced_accuracy,
    binary_rates,
    confusion_matrix,
    macro_f1,
)


def _cases(seed):
    """Random labels and predictions of 2-5 classes; some seeds drop a class from y_true or from y_pred."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    n = int(rng.integers(1, 60))
    y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
    if seed % 3 == 1:
        y_true[y_true == k - 1] = 0  # a class absent from y_true, maybe still predicted
    if seed % 3 == 2:
        y_pred[y_pred == 0] = 1  # a class absent from y_pred, maybe still true
    return y_true, y_pred, k


@pytest.mark.parametrize("seed", range(60))
def test_confusion_metrics_equal_scikit_learn(seed):
    sk = pytest.importorskip("sklearn.metrics")
    y_true, y_pred, k = _cases(seed)
    cm = confusion_matrix(y_true, y_pred, k)
    np.testing.assert_array_equal(cm, sk.confusion_matrix(y_true, y_pred, labels=range(k)))
    assert accuracy(cm) == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=1e-12)
    with warnings.catch_warnings():  # scikit-learn warns where a class is absent
        warnings.simplefilter("ignore")
        expected_balanced = sk.balanced_accuracy_score(y_true, y_pred)
        expected_f1 = sk.f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert balanced_accuracy(cm) == pytest.approx(expected_balanced, abs=1e-12)
    assert macro_f1(cm) == pytest.approx(expected_f1, abs=1e-12)


@pytest.mark.parametrize("seed", range(60))
def test_auroc_equals_scikit_learn_ties_included(seed):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    y_true = rng.integers(0, 2, n)
    y_true[:2] = [0, 1]  # both classes
    scores = rng.normal(size=n) + y_true * rng.random()
    if seed % 2:
        scores = np.round(scores, 1)  # ties
    assert auroc(y_true, scores) == pytest.approx(sk.roc_auc_score(y_true, scores), abs=1e-12)


def test_a_class_absent_from_y_true_adds_no_recall_but_counts_in_f1():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 2, 1, 1])  # class 2 only predicted
    cm = confusion_matrix(y_true, y_pred, 3)
    assert balanced_accuracy(cm) == (0.5 + 1.0) / 2
    assert macro_f1(cm) == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)


def test_a_class_absent_from_y_pred_has_f1_zero():
    cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert macro_f1(cm) == pytest.approx((1.0 + 0.8 + 0.0) / 3)
    assert balanced_accuracy(cm) == pytest.approx((1 + 1 + 0) / 3)


def test_a_class_absent_everywhere_is_left_out():
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 1]), 4)
    assert (accuracy(cm), balanced_accuracy(cm), macro_f1(cm)) == (1.0, 1.0, 1.0)


def test_auroc_of_one_class_and_an_empty_split_are_refused():
    with pytest.raises(ValueError, match="one class"):
        auroc(np.zeros(5, dtype=int), np.arange(5.0))
    with pytest.raises(ValueError, match="no samples"):
        balanced_accuracy(np.zeros((2, 2), dtype=int))


def test_binary_rates_and_why_one_is_undefined():
    rates = binary_rates(confusion_matrix(np.array([1, 1, 1, 0]), np.array([1, 0, 1, 0])))
    assert (rates.sensitivity, rates.specificity, rates.note) == (2 / 3, 1.0, None)
    no_positives = binary_rates(confusion_matrix(np.array([0, 0]), np.array([0, 1]), 2), "the validation split")
    assert (no_positives.sensitivity, no_positives.specificity) == (None, 0.5)
    assert no_positives.note == "sensitivity undefined: the validation split has no positives (class 1)"
    no_negatives = binary_rates(confusion_matrix(np.array([1, 1]), np.array([1, 1]), 2))
    assert (no_negatives.sensitivity, no_negatives.specificity) == (1.0, None) and "no negatives" in no_negatives.note
    with pytest.raises(ValueError, match="2 classes"):
        binary_rates(np.eye(3, dtype=int))


def test_evaluation_scores_every_metric():
    cm = confusion_matrix(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), 2)
    ev = Evaluation(0.25, cm, np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.9, 0.8]))
    assert ev.score("loss") == 0.25 and ev.score("accuracy") == 0.75
    assert ev.score("balanced_accuracy") == pytest.approx((2 / 3 + 1) / 2)
    assert ev.score("macro_f1") == pytest.approx((0.8 + 2 / 3) / 2)
    assert ev.score("auroc") == pytest.approx(2 / 3)  # the positive (0.8) outscores 2 of 3 negatives
    with pytest.raises(ValueError, match="classification"):
        Evaluation(0.5).score("accuracy")
