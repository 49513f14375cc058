"""What augmentation does to training images: the model's own augmentation layers, run in training mode."""

from __future__ import annotations

import keras
import numpy as np

from core.architectures.factory import LayerFactory
from core.architectures.spec import Augmentation, ModelSpec


def augmentation_preview(images: np.ndarray, augmentation: Augmentation, copies: int, seed: int = 0) -> np.ndarray:
    """For each uint8 (28, 28) image, `copies` augmented versions as the model would see them in training."""
    layers = LayerFactory(ModelSpec(augmentation=augmentation), seed).inputs()[1:-1]  # no Input, no scaling
    batch = np.repeat(images[:, :, :, None].astype(np.float32), copies, axis=0)
    augmented = keras.Sequential(layers)(batch, training=True) if layers else batch
    return np.clip(np.round(np.asarray(augmented)), 0, 255).astype(np.uint8).reshape(len(images), copies, 28, 28)
