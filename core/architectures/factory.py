"""Layers made the same way for every architecture: seeded, named, regularised, and typed per model.

Each model gets its own seeds, layer names and dtype policy through this factory instead of Keras'
global state, because several threads build models in one process: Keras' automatic layer names
come from a process-wide counter that two threads can hand out twice.
"""

from __future__ import annotations

import itertools
from collections import Counter

import keras
from keras import layers

from core.architectures.drawing_style import DrawingStyle
from core.architectures.fused_batch_norm import FusedBatchNorm
from core.architectures.live_dropout import LiveDropout
from core.architectures.spec import ModelSpec
from core.datasets.registry import IMAGE_SIDE, NUM_CLASSES

INPUT_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)


class LayerFactory:
    """Builds the pieces of a model from its spec, with a fresh seed for every random layer."""

    def __init__(self, spec: ModelSpec, seed: int, dtype_policy: str | None = None, num_classes: int = NUM_CLASSES):
        self.spec = spec
        # The dataset decides: 10 for MNIST and Fashion-MNIST, 2-20 for a user's own classes.
        self.num_classes = num_classes
        self.dtype = dtype_policy
        self._seeds = itertools.count(seed * 1_000 + 1)
        self._names: Counter[str] = Counter()

    def _seed(self) -> int:
        return next(self._seeds)

    def name(self, kind: str) -> str:
        """A name unique within this model: conv_1, conv_2, relu_1, ..."""
        self._names[kind] += 1
        return f"{kind}_{self._names[kind]}"

    def _regulariser(self) -> keras.regularizers.Regularizer | None:
        return keras.regularizers.L2(self.spec.l2) if self.spec.l2 else None

    def inputs(self) -> list[layers.Layer]:
        """Raw 0-255 pixels in; augmentation (training only) and scaling to [0, 1] inside the model."""
        pieces: list[layers.Layer] = [keras.Input(INPUT_SHAPE, name="pixels")]
        augmentation = self.spec.augmentation
        # Augment raw pixels before scaling: the fill value 0 is then the background, as in the data.
        # Drawings first, so a redrawn image is then shifted and turned like any other.
        if augmentation.drawing_rate:
            pieces.append(
                DrawingStyle(
                    augmentation.drawing_rate, augmentation.drawing_recipe, seed=self._seed(), name="drawing_style"
                )
            )
        if augmentation.horizontal_flip:
            pieces.append(layers.RandomFlip("horizontal", seed=self._seed(), name="random_flip"))
        if augmentation.rotation_degrees:
            pieces.append(
                layers.RandomRotation(
                    augmentation.rotation_degrees / 360, fill_mode="constant", seed=self._seed(), name="random_rotation"
                )
            )
        if augmentation.shift_fraction:
            shift = augmentation.shift_fraction
            pieces.append(
                layers.RandomTranslation(shift, shift, fill_mode="constant", seed=self._seed(), name="random_shift")
            )
        if augmentation.zoom_fraction:
            pieces.append(
                layers.RandomZoom(
                    augmentation.zoom_fraction, fill_mode="constant", seed=self._seed(), name="random_zoom"
                )
            )
        pieces.append(layers.Rescaling(1 / 255, name="scale_to_unit", dtype=self.dtype))
        return pieces

    def width(self, units: int) -> int:
        """Channels or units scaled by the spec's width multiplier (1 keeps the published sizes)."""
        return max(1, round(units * self.spec.width))

    def conv(self, filters: int, kernel: int = 3, padding: str = "valid", strides: int = 1) -> list[layers.Layer]:
        """Convolution, then batch norm if enabled, then ReLU."""
        batch_norm = self.spec.batch_norm
        conv = layers.Conv2D(
            self.width(filters),
            kernel,
            strides=strides,
            padding=padding,
            # Batch norm adds its own shift, so a bias would be redundant.
            use_bias=not batch_norm,
            kernel_initializer=keras.initializers.HeNormal(seed=self._seed()),
            kernel_regularizer=self._regulariser(),
            dtype=self.dtype,
            name=self.name("conv"),
        )
        return [conv, *self.norm(), self.relu()]

    def dense(self, units: int) -> list[layers.Layer]:
        """Fully connected layer, then batch norm if enabled, then ReLU."""
        dense = layers.Dense(
            self.width(units),
            use_bias=not self.spec.batch_norm,
            kernel_initializer=keras.initializers.HeNormal(seed=self._seed()),
            kernel_regularizer=self._regulariser(),
            dtype=self.dtype,
            name=self.name("dense"),
        )
        return [dense, *self.norm(), self.relu()]

    def relu(self) -> layers.Layer:
        return layers.Activation("relu", dtype=self.dtype, name=self.name("relu"))

    def norm(self) -> list[layers.Layer]:
        """Batch norm when the spec asks for it, nothing otherwise."""
        return [FusedBatchNorm(dtype=self.dtype, name=self.name("batch_norm"))] if self.spec.batch_norm else []

    def dropout(self, rate: float | None = None) -> LiveDropout:
        """A live dropout layer; its rate follows the spec unless the architecture fixes one."""
        rate = self.spec.dropout if rate is None else rate
        return LiveDropout(rate, seed=self._seed(), dtype=self.dtype, name=self.name("dropout"))

    def pool(self) -> layers.Layer:
        return layers.MaxPooling2D(2, dtype=self.dtype, name=self.name("max_pool"))

    def flatten(self) -> layers.Layer:
        return layers.Flatten(dtype=self.dtype, name=self.name("flatten"))

    def global_pool(self) -> layers.Layer:
        return layers.GlobalAveragePooling2D(dtype=self.dtype, name=self.name("global_average_pool"))

    def shortcut(self, filters: int) -> layers.Layer:
        """A 1x1 convolution that projects a residual block's input to its output's channels."""
        return layers.Conv2D(self.width(filters), 1, use_bias=False, dtype=self.dtype, name=self.name("shortcut"))

    def add(self) -> layers.Layer:
        return layers.Add(dtype=self.dtype, name=self.name("add"))

    def classifier(self) -> layers.Layer:
        """One probability per class, always in float32 so mixed precision cannot overflow the softmax."""
        return layers.Dense(
            self.num_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=self._seed()),
            kernel_regularizer=self._regulariser(),
            dtype="float32",
            name="class_probabilities",
        )
