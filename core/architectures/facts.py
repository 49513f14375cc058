"""What the UI shows about a model: its layer table, parameter count and cost per image."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import keras
from keras import layers

from core.architectures.fused_batch_norm import FusedBatchNorm
from core.architectures.live_dropout import LiveDropout
from core.architectures.registry import build_model
from core.architectures.spec import ModelSpec
from core.datasets.registry import NUM_CLASSES


@dataclass(frozen=True)
class LayerRow:
    """One row of the layer table."""

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    parameters: int
    flops: int


@dataclass(frozen=True)
class ModelFacts:
    """Everything the architecture panel shows about a spec."""

    layers: tuple[LayerRow, ...]
    parameters: int
    flops: int


@functools.lru_cache(maxsize=64)
def model_facts(spec: ModelSpec, num_classes: int = NUM_CLASSES) -> ModelFacts:
    """Layer table, parameter count and FLOPs per image of a spec for a class count (built once, then cached)."""
    model = build_model(spec, num_classes=num_classes)
    return ModelFacts(tuple(layer_table(model)), parameter_count(model), flops_per_image(model))


def layer_table(model: keras.Model) -> list[LayerRow]:
    """Every layer with its output shape (per image), parameter count and FLOPs per image."""
    return [
        LayerRow(layer.name, type(layer).__name__, _output_shape(layer), layer.count_params(), layer_flops(layer))
        for layer in model.layers
    ]


def parameter_count(model: keras.Model) -> int:
    """Weights the model learns or normalises with; a live dropout rate is a setting, not a parameter.

    Counted through nested models too (an ensemble's members), so a run's count matches its Train page's.
    """
    return sum(
        parameter_count(layer) if isinstance(layer, keras.Model) else layer.count_params()
        for layer in model.layers
        if not isinstance(layer, LiveDropout)
    )


def flops_per_image(model: keras.Model) -> int:
    """Floating-point operations for one forward pass (a multiply-add counts as two)."""
    return sum(layer_flops(layer) for layer in model.layers)


def layer_flops(layer: keras.layers.Layer) -> int:
    """Multiply-adds of the layers that dominate cost; pooling, activations and norms are counted per element."""
    output = _output_shape(layer)
    if isinstance(layer, layers.Conv2D):
        kernel_h, kernel_w = layer.kernel_size
        in_channels = layer.input.shape[-1]
        return 2 * math.prod(output[1:]) * kernel_h * kernel_w * in_channels
    if isinstance(layer, layers.Dense):
        return 2 * layer.input.shape[-1] * layer.units
    if isinstance(layer, (FusedBatchNorm, layers.Activation, layers.Add, layers.MaxPooling2D)):
        return math.prod(d for d in output[1:] if d)
    return 0


def _output_shape(layer: keras.layers.Layer) -> tuple[int | None, ...]:
    return tuple(layer.output.shape)
