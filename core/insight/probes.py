"""Finding the layers the insight views read: convolutions, the last feature map, the classifier."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from core.architectures.fused_batch_norm import FusedBatchNorm

CLASSIFIER = "class_probabilities"


def as_batch(images: np.ndarray) -> tf.Tensor:
    """uint8 images (N, 28, 28) or one (28, 28) as the float batch (N, 28, 28, 1) every model takes."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[np.newaxis]
    return tf.convert_to_tensor(images[..., np.newaxis], dtype=tf.float32)


def ensemble_members(model: keras.Model) -> list[keras.Model]:
    """The models an ensemble (core.ensemble) averages, or [] for a single model."""
    if not isinstance(model.layers[-1], keras.layers.Average):
        return []
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def inspected_model(model: keras.Model) -> keras.Model:
    """The model whose layers the views read: an ensemble's first member (its own first, if nested), else itself.

    An ensemble has no convolutions or classifier of its own, only its members' inside nested models;
    averaging heatmaps or feature spaces across different architectures would show no real layer.
    """
    members = ensemble_members(model)
    return inspected_model(members[0]) if members else model


def conv_layers(model: keras.Model) -> list[keras.layers.Conv2D]:
    """Every 2-D convolution, input side first."""
    return [layer for layer in inspected_model(model).layers if isinstance(layer, keras.layers.Conv2D)]


def classifier(model: keras.Model) -> keras.layers.Dense:
    """The final softmax layer every architecture ends with."""
    layer = inspected_model(model).layers[-1]
    if not isinstance(layer, keras.layers.Dense):
        raise ValueError("The model does not end in a dense softmax layer, so its logits cannot be read.")
    return layer


# Layers whose (H, W, C) output still covers the whole image, so a heatmap over it can be stretched onto it.
WHOLE_IMAGE_LAYERS = (
    keras.layers.Conv2D, keras.layers.Activation, keras.layers.ReLU, keras.layers.Add,
    keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, keras.layers.BatchNormalization, FusedBatchNorm,
)  # fmt: skip


def last_feature_map_layer(model: keras.Model) -> keras.layers.Layer | None:
    """The deepest layer producing a whole-image (H, W, C) map after a convolution, or None."""
    seen_conv = False
    chosen = None
    for layer in inspected_model(model).layers:
        seen_conv = seen_conv or isinstance(layer, keras.layers.Conv2D)
        if seen_conv and isinstance(layer, WHOLE_IMAGE_LAYERS) and len(layer.output.shape) == 4:
            chosen = layer
    return chosen


def logits(model: keras.Model, features: tf.Tensor) -> tf.Tensor:
    """Class scores before the softmax, from the classifier's input (gradients of probabilities vanish at 100 %)."""
    dense = classifier(model)
    return tf.matmul(tf.cast(features, tf.float32), dense.kernel) + (dense.bias if dense.use_bias else 0.0)


def run_with_taps(
    model: keras.Model, batch: tf.Tensor, taps: list[keras.layers.Layer]
) -> tuple[list[tf.Tensor], tf.Tensor]:
    """Run a model in inference mode; the outputs of the `taps` layers, and the classifier's input.

    A Sequential model is stepped through layer by layer: once loaded from a file, its layers carry
    a node for every rebuild, and `layer.output` may belong to a graph the model no longer uses.
    """
    model = inspected_model(model)
    final = classifier(model)
    if isinstance(model, keras.Sequential):
        outputs, x = {}, batch
        for layer in model.layers[:-1]:
            x = layer(x, training=False)
            outputs[id(layer)] = x
        return [outputs[id(layer)] for layer in taps], x
    probe = keras.Model(model.inputs, [*(layer.output for layer in taps), final.input])
    outputs = probe(batch, training=False)
    if not taps:  # a model with one output returns the tensor itself, not a list of one
        return [], outputs
    return list(outputs[:-1]), outputs[-1]
