"""Model architectures: typed specs in, `keras.Model`s that take raw 0-255 pixels out."""

from core import runtime  # noqa: F401  (thread settings before the first model is built)
from core.architectures.facts import LayerRow, flops_per_image, layer_table, parameter_count
from core.architectures.live_dropout import LiveDropout
from core.architectures.registry import ARCHITECTURES, ArchitectureInfo, architecture_info, build_model, default_spec
from core.architectures.spec import Augmentation, ModelSpec

__all__ = [
    "ARCHITECTURES",
    "ArchitectureInfo",
    "Augmentation",
    "LayerRow",
    "LiveDropout",
    "ModelSpec",
    "architecture_info",
    "build_model",
    "default_spec",
    "flops_per_image",
    "layer_table",
    "parameter_count",
]
