"""The architectures a user can pick: what each is, where it comes from, and how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from core.architectures import classic, modern
from core.architectures.factory import LayerFactory
from core.architectures.spec import ModelSpec
from core.datasets.registry import NUM_CLASSES


@dataclass(frozen=True)
class ArchitectureInfo:
    """One entry of the architecture menu."""

    name: str
    display_name: str
    description: str
    origin: str
    build: Callable[[LayerFactory], keras.Model]
    # Regularisation a user starts from: the tutorial's own choices for the seed models.
    default_dropout: float
    default_batch_norm: bool
    has_dropout: bool = True


ARCHITECTURES: dict[str, ArchitectureInfo] = {
    info.name: info
    for info in (
        ArchitectureInfo(
            "compact", "Compact BN CNN (default)",
            "16 channels at full resolution, 32 at 14x14, 64 at 7x7, batch norm throughout: about the cost of "
            "the tutorial CNN per image but learns faster. Designed for CPU speed; widen it for accuracy.",
            "This app", modern.compact_cnn, default_dropout=0.25, default_batch_norm=True,
        ),
        ArchitectureInfo(
            "resnet", "Small ResNet",
            "Two residual blocks with skip connections and global average pooling: few parameters, deep paths.",
            "This app, after He et al. 2015", modern.small_resnet, default_dropout=0.1, default_batch_norm=True,
        ),
        ArchitectureInfo(
            "simple_cnn", "Simple CNN",
            "Conv32-Pool-Conv64-Pool-Dense128-Dropout: the classic MNIST tutorial network (about 99 % on MNIST).",
            "Seed tutorial 001", classic.simple_cnn, default_dropout=0.5, default_batch_norm=False,
        ),
        ArchitectureInfo(
            "three_conv", "3-conv CNN",
            "Conv32-Pool-Conv64-Pool-Conv64-Dense64, the Fashion-MNIST tutorial net with dropout and L2.",
            "Seed tutorial 000", classic.three_conv_cnn, default_dropout=0.5, default_batch_norm=False,
        ),
        ArchitectureInfo(
            "vgg", "VGG-style",
            "3x3 'same' conv stacks 32-32-64 and 128-128-256 with pooling and dropout, Dense 512-64: about 7 M "
            "parameters, 93.04 % on Fashion-MNIST in its tutorial but slow on a CPU and overfits after epoch 10.",
            "Seed tutorial 002", classic.vgg_style, default_dropout=0.25, default_batch_norm=False,
        ),
        ArchitectureInfo(
            "wide_5x5", "Wide 5x5 CNN",
            "Two Conv128 5x5 layers with pooling and Dense 256: "
            "90.21 % on Fashion-MNIST after 10 epochs in its tutorial.",
            "Seed tutorial 004", classic.wide_5x5, default_dropout=0.0, default_batch_norm=False,
        ),
        ArchitectureInfo(
            "mlp", "MLP (no convolutions)",
            "Two dense hidden layers of 256 and 128: a baseline that sees pixels, not shapes.",
            "Baseline", classic.mlp, default_dropout=0.2, default_batch_norm=False,
        ),
        ArchitectureInfo(
            "softmax", "Softmax regression",
            "A single linear layer from pixels to classes: the floor every network must beat.",
            "Baseline", classic.softmax_regression, default_dropout=0.0, default_batch_norm=False,
            has_dropout=False,
        ),
    )
}  # fmt: skip


def architecture_info(name: str) -> ArchitectureInfo:
    """Look an architecture up by name, with a clear error for an unknown one."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"Unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}.") from None


def default_spec(name: str, **overrides) -> ModelSpec:
    """The spec a user starts from for an architecture."""
    info = architecture_info(name)
    settings = {"dropout": info.default_dropout, "batch_norm": info.default_batch_norm, **overrides}
    return ModelSpec(architecture=name, **settings)


def build_model(
    spec: ModelSpec, seed: int = 0, dtype_policy: str | None = None, num_classes: int = NUM_CLASSES
) -> keras.Model:
    """Build an uncompiled model for a spec and a dataset's class count; same spec and seed, same weights."""
    return architecture_info(spec.architecture).build(LayerFactory(spec, seed, dtype_policy, num_classes))
