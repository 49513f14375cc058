"""Where in the image the model looked: Grad-CAM on the last feature map, and plain input gradients."""

from __future__ import annotations

import threading

import keras
import numpy as np
import tensorflow as tf

from core.datasets.registry import IMAGE_SIDE
from core.insight.probes import as_batch, last_feature_map_layer, logits, run_with_taps

# Eager gradients through one model from several threads at once corrupt TensorFlow's heap (seen as
# aborts when a Streamlit session reruns while its last run still computes); one at a time is ~20 ms.
GRADIENTS = threading.Lock()


def grad_cam(model: keras.Model, images: np.ndarray, classes: np.ndarray | int, elementwise: bool = True) -> np.ndarray:
    """Class activation heatmaps (N, 28, 28) in [0, 1] on the last feature map, for each image's class.

    `elementwise=False` is Grad-CAM (Selvaraju et al., 2017): each channel is weighted by its mean
    gradient, so it lights up wherever a useful channel fires, even where the model ignores it.
    `elementwise=True` is HiResCAM (Draelos and Carin, 2020): gradient times activation at each
    position, so only places that really move the class's score light up. Without convolutions: zeros.
    """
    batch = as_batch(images)
    classes = np.broadcast_to(np.asarray(classes), (batch.shape[0],))
    target = last_feature_map_layer(model)
    if target is None:
        return np.zeros((batch.shape[0], IMAGE_SIDE, IMAGE_SIDE), np.float32)
    with GRADIENTS, tf.GradientTape() as tape:
        (feature_map,), features = run_with_taps(model, batch, [target])
        scores = tf.gather(logits(model, features), classes, batch_dims=1)
        gradients = tape.gradient(scores, feature_map)
    weights = gradients if elementwise else tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(feature_map, tf.float32), axis=-1, keepdims=True))
    cams = tf.image.resize(cams, (IMAGE_SIDE, IMAGE_SIDE), method="bilinear")[..., 0].numpy()
    return _normalise(cams)


def gradient_saliency(model: keras.Model, images: np.ndarray, classes: np.ndarray | int) -> np.ndarray:
    """|d logit / d pixel| (N, 28, 28) in [0, 1]: which single pixels would change the class's score most."""
    batch = as_batch(images)
    classes = np.broadcast_to(np.asarray(classes), (batch.shape[0],))
    with GRADIENTS, tf.GradientTape() as tape:
        tape.watch(batch)
        _, features = run_with_taps(model, batch, [])
        scores = tf.gather(logits(model, features), classes, batch_dims=1)
        gradients = tape.gradient(scores, batch)
    return _normalise(np.abs(gradients.numpy()[..., 0]))


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
