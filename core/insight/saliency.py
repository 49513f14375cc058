"""Where in the image the model looked: Grad-CAM on the last feature map, and plain input gradients."""

from __future__ import annotations

import functools
import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from core.datasets.registry import IMAGE_SIDE
from core.insight.probes import as_batch, last_feature_map_layer, logits, run_with_taps

# Gradients through one model from several threads at once corrupt TensorFlow's heap (seen as aborts
# when a Streamlit session reruns while its last run still computes): one at a time.
GRADIENTS = threading.Lock()
_BATCH = tf.TensorSpec((None, IMAGE_SIDE, IMAGE_SIDE, 1), tf.float32)
_CLASSES = tf.TensorSpec((None,), tf.int32)
# Each model's heatmap functions, compiled once (see _compiled): eager, one heatmap held the
# interpreter for ~40 ms of Python per stroke on the Predict page; compiled, ~3 ms, mostly outside it.
# The first heatmap of a model pays for tracing (about a second), under GRADIENTS like any other.
_compiled_functions: dict[tuple[int, str], tf.types.experimental.GenericFunction] = {}


def _class_activation_maps(model: keras.Model, batch: tf.Tensor, classes: tf.Tensor, elementwise: bool) -> tf.Tensor:
    with tf.GradientTape() as tape:
        (feature_map,), features = run_with_taps(model, batch, [last_feature_map_layer(model)])
        scores = tf.gather(logits(model, features), classes, batch_dims=1)
    gradients = tape.gradient(scores, feature_map)
    weights = gradients if elementwise else tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(feature_map, tf.float32), axis=-1, keepdims=True))
    return tf.image.resize(cams, (IMAGE_SIDE, IMAGE_SIDE), method="bilinear")[..., 0]


def _input_gradients(model: keras.Model, batch: tf.Tensor, classes: tf.Tensor) -> tf.Tensor:
    with tf.GradientTape() as tape:
        tape.watch(batch)
        _, features = run_with_taps(model, batch, [])
        scores = tf.gather(logits(model, features), classes, batch_dims=1)
    return tf.abs(tape.gradient(scores, batch))[..., 0]


_METHODS = {
    "HiResCAM": functools.partial(_class_activation_maps, elementwise=True),
    "Grad-CAM": functools.partial(_class_activation_maps, elementwise=False),
    "gradient saliency": _input_gradients,
}


def _compiled(model: keras.Model, method: str) -> tf.types.experimental.GenericFunction:
    """One of _METHODS for `model` as a tf.function traced once; forgotten with the model.

    The function holds the model weakly, so caching it here does not keep an unloaded model alive.
    """
    key = (id(model), method)
    function = _compiled_functions.get(key)
    if function is None:
        held, compute = weakref.ref(model), _METHODS[method]
        function = tf.function(
            lambda batch, classes: compute(held(), batch, classes), input_signature=[_BATCH, _CLASSES]
        )
        _compiled_functions[key] = function
        weakref.finalize(model, _compiled_functions.pop, key, None)
    return function


def _classes(classes: np.ndarray | int, count: int) -> tf.Tensor:
    return tf.constant(np.broadcast_to(np.asarray(classes, dtype=np.int32), (count,)))


def grad_cam(model: keras.Model, images: np.ndarray, classes: np.ndarray | int, elementwise: bool = True) -> np.ndarray:
    """Class activation heatmaps (N, 28, 28) in [0, 1] on the last feature map, for each image's class.

    `elementwise=False` is Grad-CAM (Selvaraju et al., 2017): each channel is weighted by its mean
    gradient, so it lights up wherever a useful channel fires, even where the model ignores it.
    `elementwise=True` is HiResCAM (Draelos and Carin, 2020): gradient times activation at each
    position, so only places that really move the class's score light up. Without convolutions: zeros.
    """
    batch = as_batch(images)
    if last_feature_map_layer(model) is None:
        return np.zeros((batch.shape[0], IMAGE_SIDE, IMAGE_SIDE), np.float32)
    method = "HiResCAM" if elementwise else "Grad-CAM"
    with GRADIENTS:
        cams = _compiled(model, method)(batch, _classes(classes, batch.shape[0]))
    return _normalise(cams.numpy())


def gradient_saliency(model: keras.Model, images: np.ndarray, classes: np.ndarray | int) -> np.ndarray:
    """|d logit / d pixel| (N, 28, 28) in [0, 1]: which single pixels would change the class's score most."""
    batch = as_batch(images)
    with GRADIENTS:
        gradients = _compiled(model, "gradient saliency")(batch, _classes(classes, batch.shape[0]))
    return _normalise(gradients.numpy())


def heat_colours(heatmap: np.ndarray) -> np.ndarray:
    """A [0, 1] heatmap as RGB uint8 in warm colours: black, red, yellow, white."""
    heat = np.clip(heatmap, 0, 1)[..., None]
    ramp = np.concatenate([np.clip(3 * heat, 0, 1), np.clip(3 * heat - 1, 0, 1), np.clip(3 * heat - 2, 0, 1)], -1)
    return (255 * ramp).astype(np.uint8)


def overlay(image: np.ndarray, heatmap: np.ndarray, strength: float = 0.75) -> np.ndarray:
    """An RGB uint8 picture: the image, dimmed, with the heatmap laid over it in warm colours."""
    grey = np.repeat(image[..., None].astype(np.float32), 3, axis=-1) * 0.6
    alpha = strength * np.clip(heatmap, 0, 1)[..., None]
    return np.clip((1 - alpha) * grey + alpha * heat_colours(heatmap), 0, 255).astype(np.uint8)


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1] by its own maximum; an all-zero map stays zero."""
    peaks = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(maps, peaks, out=np.zeros_like(maps, dtype=np.float32), where=peaks > 0).astype(np.float32)
