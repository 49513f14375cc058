"""Evaluation numbers and the example pickers against answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.architectures import ModelSpec, build_model
from core.evaluation import (
    EVALUATION_BATCH,
    Evaluation,
    cell_examples,
    confident_mistakes,
    diagnose_fit,
    evaluate_model,
    hardest_examples,
    most_confused_pairs,
    row_percentages,
)

RNG = np.random.default_rng(3)
LABELS = RNG.integers(0, 9, 500)  # class 9 never occurs: scores must still be defined
PROBABILITIES = RNG.dirichlet(np.ones(10) * 0.3, 500).astype(np.float32)
EVALUATION = Evaluation(PROBABILITIES, LABELS)


def test_confusion_and_per_class_scores_count_by_hand():
    # Three images of class 0 (two right, one called 2), one of class 2 called 0; no image of any other class.
    evaluation = Evaluation(np.eye(10, dtype=np.float32)[[0, 0, 2, 0]], np.array([0, 0, 0, 2]))
    expected = np.zeros((10, 10), np.int64)
    expected[0, 0], expected[0, 2], expected[2, 0] = 2, 1, 1
    np.testing.assert_array_equal(evaluation.confusion, expected)
    scores = evaluation.scores
    np.testing.assert_allclose(scores.precision[[0, 2]], [2 / 3, 0])
    np.testing.assert_allclose(scores.recall[[0, 2]], [2 / 3, 0])
    np.testing.assert_allclose(scores.f1[[0, 2]], [2 / 3, 0])
    np.testing.assert_array_equal(scores.support, [3, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    # Classes that never occur and are never predicted score 0, not NaN, and the table keeps all ten rows.
    assert not scores.precision[3:].any() and not np.isnan(scores.f1).any()


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


def test_evaluate_model_answers_as_the_model_does_batch_by_batch():
    """Every image answered once, in order, the last part-batch too; no images gives no answers."""
    model = build_model(ModelSpec("compact"), seed=0, num_classes=7)
    images = np.random.default_rng(0).integers(0, 256, (EVALUATION_BATCH + 300, 28, 28), dtype=np.uint8)
    labels = np.arange(len(images)) % 7
    evaluation = evaluate_model(model, images, labels)
    expected = model(images[..., None].astype(np.float32), training=False).numpy()
    np.testing.assert_allclose(evaluation.probabilities, expected, atol=1e-5)
    assert evaluate_model(model, images[:0], labels[:0]).probabilities.shape == (0, 7)
