"""How sure a model should be: Monte-Carlo dropout for one input, calibration over a test set."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from core.architectures.live_dropout import LiveDropout
from core.insight.probes import as_batch, inspected_model


class _AlwaysOnDropout(LiveDropout):
    """LiveDropout that drops units even in inference, so only dropout (not batch norm) turns random."""

    def call(self, inputs, training=False):
        return super().call(inputs, training=True)


def dropout_rates(model: keras.Model) -> list[float]:
    """The current rate of every dropout layer, input side first (an ensemble's: its first member's)."""
    return [float(layer.rate.numpy()) for layer in inspected_model(model).layers if isinstance(layer, LiveDropout)]


def mc_dropout_model(model: keras.Model) -> keras.Model:
    """A copy of the model whose dropout stays on at inference; everything else (batch norm too) as trained.

    For an ensemble, a copy of its first member: the same one the other views look into.
    """
    model = inspected_model(model)

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        kind = _AlwaysOnDropout if isinstance(layer, LiveDropout) else type(layer)
        return kind.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())  # includes each dropout layer's live rate
    return copy


def plain_probabilities(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """With dropout off, the answer of the model `mc_dropout_model` copies (an ensemble's first member, not the mean).

    The Monte-Carlo passes are compared against it, so both must come from the same model.
    """
    return np.asarray(inspected_model(model)(as_batch(np.asarray(image)[np.newaxis]), training=False))[0]


@dataclass(frozen=True)
class MonteCarloPrediction:
    """Class probabilities from N stochastic forward passes of one image."""

    samples: np.ndarray  # (passes, 10)

    @property
    def mean(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    @property
    def spread(self) -> np.ndarray:
        """Standard deviation of each class's probability across the passes."""
        return self.samples.std(axis=0)

    @property
    def agreement(self) -> float:
        """Share of passes whose top class is the mean prediction's top class."""
        return float(np.mean(self.samples.argmax(axis=1) == self.mean.argmax()))


def mc_dropout(mc_model: keras.Model, image: np.ndarray, passes: int = 50) -> MonteCarloPrediction:
    """Run one 28x28 image `passes` times through a `mc_dropout_model`, as one batch (each row its own masks)."""
    if passes < 2:
        raise ValueError("Monte-Carlo dropout needs at least 2 passes.")
    batch = as_batch(np.repeat(np.asarray(image)[np.newaxis], passes, axis=0))
    return MonteCarloPrediction(np.asarray(mc_model(batch, training=False), dtype=np.float64))


@dataclass(frozen=True)
class Calibration:
    """A reliability diagram's bins: how often answers given with a confidence were right."""

    edges: np.ndarray  # (bins + 1,)
    confidence: np.ndarray  # mean confidence per bin (NaN when empty)
    accuracy: np.ndarray  # accuracy per bin (NaN when empty)
    counts: np.ndarray  # answers per bin

    @property
    def expected_calibration_error(self) -> float:
        """Sum over bins of |accuracy - confidence|, weighted by the share of answers in the bin."""
        used = self.counts > 0
        weights = self.counts[used] / self.counts.sum()
        return float(np.sum(weights * np.abs(self.accuracy[used] - self.confidence[used])))


def calibration(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> Calibration:
    """Bin the top-class confidence into equal-width bins over (0, 1]; each bin's accuracy and mean confidence."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidences in (edges[i], edges[i + 1]]; a confidence of exactly 0 joins the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=correct, minlength=bins) / counts
    return Calibration(edges, mean_confidence, accuracy, counts)
