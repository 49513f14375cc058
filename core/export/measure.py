"""Measure the Keras model and each exported format on the same images: accuracy, agreement, latency.

Latency is the median time for one image, the way a device or the Predict page asks: the Keras
model through the app's compiled `Predictor`, each .tflite through LiteRT with the same threads.
The formats take turns within every repeat, in an order that rotates, so a busy moment on a
shared machine lands on all of them alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.evaluation import in_batches, read_steadily

if TYPE_CHECKING:  # drawing the test set needs TensorFlow; only exporting loads it
    from core.drawn_test_set import DrawnTestSet

# Single-image calls timed per format: enough for a stable median of sub-millisecond calls.
LATENCY_REPEATS = 200
# Untimed calls first, so one-time costs (tracing, first allocation) stay out of the median.
WARMUP_CALLS = 10
# Images per Keras call when scoring a test set: bounded memory for any test-set size.
KERAS_BATCH = 500

Probabilities = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Scores:
    """One model's answers on the test set and on each drawn version of it."""

    test_answers: np.ndarray
    test_accuracy: float
    drawn_accuracy: dict[str, float]


def score(
    batch_probabilities: Probabilities, x_test: np.ndarray, y_test: np.ndarray, drawn: list[DrawnTestSet]
) -> Scores:
    """Top-1 answers and accuracy on the test images, and accuracy on each drawn set."""

    def answers_for(images: np.ndarray) -> np.ndarray:
        return in_batches(batch_probabilities, images, KERAS_BATCH).argmax(axis=1)

    answers = answers_for(x_test)
    # Drawings are read steadily, as the Predict page reads one (core.steady_reading).
    drawn_accuracy = {}
    for drawing in drawn:
        drawn_answers = read_steadily(batch_probabilities, drawing.images).argmax(axis=1)
        drawn_accuracy[drawing.style] = float(np.mean(drawn_answers == drawing.labels))
    return Scores(answers, float(np.mean(answers == y_test)), drawn_accuracy)


def agreement(answers: np.ndarray, reference: np.ndarray) -> float:
    """Share of images where two models give the same top-1 answer."""
    return float(np.mean(answers == reference)) if len(reference) else 1.0


def single_image_latency_ms(
    models: dict[str, Probabilities], images: np.ndarray, repeats: int = LATENCY_REPEATS
) -> dict[str, float]:
    """Median milliseconds per single-image call for each model, measured interleaved."""
    timings = single_image_timings_ms(models, images, repeats)
    return {name: float(np.median(values)) for name, values in timings.items()}


def single_image_timings_ms(
    models: dict[str, Probabilities], images: np.ndarray, repeats: int = LATENCY_REPEATS
) -> dict[str, list[float]]:
    """Milliseconds of every timed single-image call for each model, the models taking turns in rotating order."""
    names = list(models)
    for name in names:
        for index in range(WARMUP_CALLS):
            models[name](images[index % len(images)])
    timings: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift, image = repeat % len(names), images[repeat % len(images)]
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            models[name](image)
            timings[name].append(1000 * (time.perf_counter() - started))
    return timings
