"""Model architectures: typed specs in, `keras.Model`s that take raw 0-255 pixels out."""

from core import runtime  # noqa: F401  (thread settings before the first model is built)
from core.architectures.facts import LayerRow, ModelFacts, flops_per_image, layer_table, model_facts, parameter_count
from core.architectures.fused_batch_norm import FusedBatchNorm
from core.architectures.live_dropout import LiveDropout
from core.architectures.registry import ARCHITECTURES, ArchitectureInfo, architecture_info, build_model, default_spec
from core.architectures.spec import Augmentation, ModelSpec

__all__ = [
    "ARCHITECTURES",
    "ArchitectureInfo",
    "Augmentation",
    "FusedBatchNorm",
    "LayerRow",
    "LiveDropout",
    "ModelFacts",
    "ModelSpec",
    "architecture_info",
    "build_model",
    "default_spec",
    "flops_per_image",
    "layer_table",
    "model_facts",
    "parameter_count",
]
