"""How well a model does on held-out images: confusion, per-class scores, and the examples behind them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics

from core.steady_reading import VIEW_COUNT, steady_probabilities

EVALUATION_BATCH = 1_000


@dataclass(frozen=True)
class Evaluation:
    """A model's class probabilities for every image of a labelled set."""

    probabilities: np.ndarray  # (N, classes) float32
    labels: np.ndarray  # (N,) true classes

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """The probability the model gave its own answer."""
        return self.probabilities.max(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Cross-entropy of each image: how surprised the model was by the true class."""
        true_probability = self.probabilities[np.arange(len(self.labels)), self.labels]
        return -np.log(np.clip(true_probability, 1e-7, 1.0))

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predictions == self.labels))

    @property
    def loss(self) -> float:
        return float(np.mean(self.losses))

    @property
    def num_classes(self) -> int:
        return self.probabilities.shape[1]

    @property
    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predictions, self.num_classes)

    @property
    def scores(self) -> ClassScores:
        return per_class_scores(self.labels, self.predictions, self.num_classes)


def in_batches(batch_probabilities: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch: int) -> np.ndarray:
    """Probabilities for many images, asked `batch` images at a time."""
    parts = [batch_probabilities(images[start : start + batch]) for start in range(0, len(images), batch)]
    return np.concatenate(parts)


def evaluate_model(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Run a model over uint8 images (N, 28, 28) in inference mode."""
    if not len(images):
        return Evaluation(np.zeros((0, model.output_shape[-1]), np.float32), labels.astype(np.int64))
    # Batch by batch, not `model.predict`: its tf.data pipeline is autotuned, and ending an autotuned iterator
    # waits out its tuning thread's sleep, which held one 10,000-image evaluation in four 2.5 s longer with no
    # CPU used (core/training/data.py says more).
    probabilities = in_batches(
        lambda chunk: model.predict_on_batch(chunk[..., None].astype(np.float32)), images, EVALUATION_BATCH
    )
    return Evaluation(probabilities.astype(np.float32), labels.astype(np.int64))


def evaluate_steadily(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Run a model over uint8 images (N, 28, 28) as the Predict page reads one: steadily (core.steady_reading)."""
    if not len(images):
        return evaluate_model(model, images, labels)
    probabilities = read_steadily(lambda views: model.predict_on_batch(views[..., None]), images)
    return Evaluation(probabilities, labels.astype(np.int64))


def read_steadily(batch_probabilities: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    """Steady probabilities for many images, asked about `EVALUATION_BATCH` views at a time."""
    chunk = max(1, EVALUATION_BATCH // VIEW_COUNT)
    return in_batches(lambda part: steady_probabilities(batch_probabilities, part), images, chunk).astype(np.float32)


# scikit-learn's definitions, not our own copies: about 3 ms for 10,000 images, once per epoch or evaluation.
def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): rows are the truth, columns the model's answer."""
    return metrics.confusion_matrix(labels, predictions, labels=np.arange(num_classes))


def row_percentages(confusion: np.ndarray) -> np.ndarray:
    """Each row as percentages of its true class (a class with no examples stays at zero)."""
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(100.0 * confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall, F1 and support per class, as scikit-learn defines them (0 where undefined)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def per_class_scores(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> ClassScores:
    """Precision, recall, F1 and support of every class, including classes absent from `labels`."""
    scores = metrics.precision_recall_fscore_support(
        labels, predictions, labels=np.arange(num_classes), zero_division=0
    )
    return ClassScores(*scores)


def most_confused_pairs(confusion: np.ndarray, count: int = 5) -> list[tuple[int, int, int]]:
    """The (true, predicted, images) pairs the model mixes up most, largest first."""
    mistakes = confusion.copy()
    np.fill_diagonal(mistakes, 0)
    order = np.argsort(mistakes, axis=None)[::-1][:count]
    classes = confusion.shape[1]
    pairs = [(int(i // classes), int(i % classes), int(mistakes.flat[i])) for i in order]
    return [pair for pair in pairs if pair[2] > 0]


def cell_examples(evaluation: Evaluation, true_class: int, predicted_class: int, limit: int = 24) -> np.ndarray:
    """Indices of images of one confusion-matrix cell, the most confident answers first."""
    members = np.flatnonzero((evaluation.labels == true_class) & (evaluation.predictions == predicted_class))
    return members[np.argsort(-evaluation.confidence[members], kind="stable")][:limit]


def confident_mistakes(evaluation: Evaluation, limit: int = 24) -> np.ndarray:
    """Misclassified images, those the model was surest about first."""
    wrong = np.flatnonzero(evaluation.predictions != evaluation.labels)
    return wrong[np.argsort(-evaluation.confidence[wrong], kind="stable")][:limit]


def hardest_examples(evaluation: Evaluation, limit: int = 24) -> np.ndarray:
    """Images with the highest loss: where the true class got the least probability."""
    return np.argsort(-evaluation.losses, kind="stable")[:limit]


def diagnose_fit(
    train_accuracy: list[float], val_accuracy: list[float], train_loss: list[float], val_loss: list[float]
) -> str:
    """The gap between training and validation curves, in plain words, with what to try."""
    if not val_accuracy:
        return "No finished epoch yet, so there is nothing to compare."
    if len(val_accuracy) == 1:
        # Training accuracy of a first epoch averages over batches seen while the model was still guessing.
        return (
            "**Too early to tell:** one epoch gives one validation point, and its training accuracy is averaged "
            "over the batches the model learned from. Train for a few epochs to see whether the curves level off "
            "or drift apart."
        )
    gap = train_accuracy[-1] - val_accuracy[-1]
    best = int(np.argmin(val_loss))
    rising = best < len(val_loss) - 1 and val_loss[-1] > val_loss[best] * 1.05
    if gap > 0.03 or rising:
        detail = (
            f"validation loss was lowest after epoch {best + 1} and has risen since"
            if rising
            else f"training accuracy is {100 * gap:.1f} points above validation accuracy"
        )
        return (
            f"**Overfitting:** {detail}. The model is memorising its training images. Try more dropout, "
            "L2 weight decay or augmentation, fewer epochs, or early stopping."
        )
    if gap < -0.03:
        return (
            f"**Held back by regularisation:** validation accuracy is {100 * -gap:.1f} points above training "
            "accuracy, because dropout and augmentation make the training images harder than the test images. "
            "The model has room to learn: try more epochs, or lighter dropout or augmentation."
        )
    if val_accuracy[-1] < 0.85 or train_loss[-1] < train_loss[-2] * 0.97:
        return (
            "**Underfitting (still learning):** training and validation accuracy are close and training loss is "
            "still falling. Try more epochs, a higher learning rate, or a wider or deeper model."
        )
    return (
        f"**A good fit:** training and validation accuracy are within {100 * abs(gap):.1f} points and the curves "
        "have levelled off. More capacity or augmentation is the way to a higher score."
    )
