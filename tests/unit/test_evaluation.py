"""Evaluation numbers against scikit-learn's, and the example pickers against hand-made answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion
from sklearn.metrics import precision_recall_fscore_support

from core.evaluation import (
    Evaluation,
    cell_examples,
    confident_mistakes,
    confusion_matrix,
    diagnose_fit,
    hardest_examples,
    most_confused_pairs,
    per_class_scores,
    row_percentages,
)

RNG = np.random.default_rng(3)
LABELS = RNG.integers(0, 9, 500)  # class 9 never occurs: scores must still be defined
PROBABILITIES = RNG.dirichlet(np.ones(10) * 0.3, 500).astype(np.float32)
EVALUATION = Evaluation(PROBABILITIES, LABELS)


def test_confusion_and_per_class_scores_equal_scikit_learns():
    confusion = confusion_matrix(LABELS, EVALUATION.predictions)
    np.testing.assert_array_equal(confusion, sklearn_confusion(LABELS, EVALUATION.predictions, labels=range(10)))
    scores = per_class_scores(confusion)
    precision, recall, f1, support = precision_recall_fscore_support(
        LABELS, EVALUATION.predictions, labels=range(10), zero_division=0
    )
    np.testing.assert_allclose(scores.precision, precision)
    np.testing.assert_allclose(scores.recall, recall)
    np.testing.assert_allclose(scores.f1, f1)
    np.testing.assert_array_equal(scores.support, support)


def test_accuracy_loss_and_row_percentages():
    assert EVALUATION.accuracy == pytest.approx(np.mean(PROBABILITIES.argmax(1) == LABELS))
    expected_loss = -np.mean(np.log(np.clip(PROBABILITIES[np.arange(500), LABELS], 1e-7, 1)))
    assert EVALUATION.loss == pytest.approx(expected_loss, rel=1e-5)
    percentages = row_percentages(EVALUATION.confusion)
    np.testing.assert_allclose(percentages[:9].sum(axis=1), 100.0)
    assert not percentages[9].any()


def test_example_pickers_find_the_right_images_in_the_right_order():
    probabilities = np.full((5, 10), 0.01, np.float32)
    for index, (answer, confidence) in enumerate([(1, 0.9), (1, 0.6), (2, 0.95), (3, 0.5), (1, 0.99)]):
        probabilities[index, answer] = confidence
    probabilities[4, 2], probabilities[3, 1] = 0.005, 0.05  # distinct losses: 5.3 (image 4) > 4.6 (1) > 3.0 (3)
    evaluation = Evaluation(probabilities, np.array([1, 2, 2, 1, 2]))
    assert list(cell_examples(evaluation, true_class=2, predicted_class=1)) == [4, 1]
    assert list(confident_mistakes(evaluation)) == [4, 1, 3]
    assert list(hardest_examples(evaluation, limit=3)) == [4, 1, 3]
    assert most_confused_pairs(evaluation.confusion) == [(2, 1, 2), (1, 3, 1)]


def test_diagnosis_names_overfitting_underfitting_and_a_good_fit():
    assert "Overfitting" in diagnose_fit([0.90, 0.95, 0.99], [0.89, 0.90, 0.90], [0.3, 0.1, 0.03], [0.3, 0.28, 0.35])
    assert "Underfitting" in diagnose_fit([0.60, 0.70], [0.61, 0.70], [1.2, 0.9], [1.2, 0.9])
    assert "good fit" in diagnose_fit(
        [0.91, 0.92, 0.921], [0.91, 0.915, 0.918], [0.25, 0.24, 0.239], [0.26, 0.25, 0.249]
    )
    assert "Too early to tell" in diagnose_fit([0.79], [0.925], [0.6], [0.3])  # one epoch: no trend yet
    assert "Held back by regularisation" in diagnose_fit([0.90, 0.92], [0.97, 0.975], [0.3, 0.29], [0.1, 0.09])
