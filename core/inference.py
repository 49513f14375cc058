"""Fast single-image prediction: one compiled, fixed-signature call instead of `model.predict`.

`model.predict` builds a data pipeline on every call (about 75 ms here for one image); a
`tf.function` with a fixed input signature is traced once and then costs about a millisecond.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.datasets.registry import IMAGE_SIDE
from core.steady_reading import steady_probabilities

# Below this top probability the answer is shown as a guess, not a prediction.
UNSURE_BELOW = 0.6
# From this one it is shown as confident; in between as probable, with its runner-up beside it.
CONFIDENT_FROM = 0.85


def answer_certainty(top_probability: float) -> str:
    """How sure an answer reads: "unsure", "probable" or "confident"."""
    if top_probability < UNSURE_BELOW:
        return "unsure"
    return "probable" if top_probability < CONFIDENT_FROM else "confident"


class Predictor:
    """Wraps a model for fast predictions on one or a few 28x28 uint8 images."""

    def __init__(self, model):
        self.model = model
        signature = tf.TensorSpec((None, IMAGE_SIDE, IMAGE_SIDE, 1), tf.float32)
        self._forward = tf.function(lambda images: model(images, training=False), input_signature=[signature])
        self.probabilities(np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.uint8))  # trace now, not on the first drawing

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities (10,) for one 28x28 image of raw 0-255 pixels, read steadily (core.steady_reading)."""
        return steady_probabilities(self.batch_probabilities, image[np.newaxis])[0]

    def batch_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for N images shaped (N, 28, 28)."""
        batch = tf.convert_to_tensor(images[..., np.newaxis], dtype=tf.float32)
        return self._forward(batch).numpy()


def top_classes(probabilities: np.ndarray, count: int = 3) -> list[tuple[int, float]]:
    """The most likely classes with their probabilities, best first."""
    order = np.argsort(probabilities)[::-1][:count]
    return [(int(index), float(probabilities[index])) for index in order]
