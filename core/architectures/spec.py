"""Typed model settings: what to build and how it is regularised. Serialised with every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from core.datasets.registry import DrawingRecipe, dataset_info


@dataclass(frozen=True)
class Augmentation:
    """Random changes to training images; Keras preprocessing layers, active only in training."""

    rotation_degrees: float = 0.0
    shift_fraction: float = 0.0
    zoom_fraction: float = 0.0
    # Only sensible for clothing: a mirrored digit is a different symbol (see `for_dataset`).
    horizontal_flip: bool = False
    # "Robust to drawings": the share of training images redrawn as a person draws them.
    drawing_rate: float = 0.0
    # How this dataset's items are drawn (a `DrawingRecipe` value), set by `for_dataset`.
    drawing_recipe: str = DrawingRecipe.DIGIT_BOX.value

    @property
    def enabled(self) -> bool:
        return bool(self.rotation_degrees or self.shift_fraction or self.zoom_fraction or self.horizontal_flip) or bool(
            self.drawing_rate
        )

    def for_dataset(self, dataset_name: str) -> Augmentation:
        """These settings as they apply to one dataset: flips only where a mirror image is the same class,
        and drawings drawn the way that dataset's items are drawn."""
        info = dataset_info(dataset_name)
        return replace(
            self,
            horizontal_flip=self.horizontal_flip and info.mirror_invariant,
            drawing_recipe=info.drawing_recipe.value,
        )


@dataclass(frozen=True)
class ModelSpec:
    """An architecture by registry name plus its regularisation settings."""

    architecture: str = "compact"
    dropout: float = 0.25
    l2: float = 0.0
    batch_norm: bool = True
    # Multiplies every layer's channels or units: 2 doubles them, 0.5 halves them.
    width: float = 1.0
    augmentation: Augmentation = field(default_factory=Augmentation)

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"Dropout rate must be at least 0 and below 1, got {self.dropout}.")
        if not 0.25 <= self.width <= 4:
            raise ValueError(f"Width multiplier must be 0.25-4, got {self.width}.")
        if self.l2 < 0:
            raise ValueError(f"L2 weight decay cannot be negative, got {self.l2}.")
        augmentation = self.augmentation
        if not 0 <= augmentation.rotation_degrees <= 180:
            raise ValueError(f"Rotation must be 0-180 degrees, got {augmentation.rotation_degrees}.")
        for name in ("shift_fraction", "zoom_fraction"):
            if not 0 <= getattr(augmentation, name) < 1:
                raise ValueError(f"{name.replace('_', ' ').capitalize()} must be 0 to below 1.")
        if not 0 <= augmentation.drawing_rate <= 1:
            raise ValueError(f"The share of images redrawn must be 0-1, got {augmentation.drawing_rate}.")
        DrawingRecipe(augmentation.drawing_recipe)  # an unknown recipe raises ValueError

    def for_dataset(self, dataset_name: str) -> ModelSpec:
        """This spec as it applies to a dataset (see `Augmentation.for_dataset`)."""
        return replace(self, augmentation=self.augmentation.for_dataset(dataset_name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Rebuild from `to_dict` output, refusing unknown keys so a typo never passes silently."""
        data = dict(data)
        augmentation = Augmentation(**_known(Augmentation, data.pop("augmentation", {}) or {}))
        return cls(augmentation=augmentation, **_known(cls, data))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}.")
    return data
