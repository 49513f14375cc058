"""How a prediction holds up when the input is rotated, shifted, scaled, thickened or made noisy."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

from core.datasets.registry import IMAGE_SIDE

CENTRE = (IMAGE_SIDE - 1) / 2


@dataclass(frozen=True)
class Perturbation:
    """One setting of every knob; the defaults leave the image unchanged."""

    rotation: float = 0.0  # degrees, counter-clockwise
    shift_x: float = 0.0  # pixels, right
    shift_y: float = 0.0  # pixels, down
    scale: float = 1.0  # 1 = as drawn
    thickness: int = 0  # pixels of stroke added (negative: thinned)
    noise: float = 0.0  # standard deviation of added noise, as a share of full brightness
    seed: int = 0


# The knobs a sweep can run over, with the range it covers and how they are written.
SWEEPS = {
    "rotation": (np.linspace(-60, 60, 25), "rotation (degrees)"),
    "shift_x": (np.linspace(-8, 8, 17), "horizontal shift (pixels)"),
    "shift_y": (np.linspace(-8, 8, 17), "vertical shift (pixels)"),
    "scale": (np.linspace(0.5, 1.5, 21), "scale"),
    "thickness": (np.arange(-2, 4), "stroke thickness change (pixels)"),
    "noise": (np.linspace(0.0, 0.6, 13), "noise (share of full brightness)"),
}


def perturb(image: np.ndarray, change: Perturbation) -> np.ndarray:
    """The 28x28 uint8 image with every change applied: geometry first, then strokes, then noise."""
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if change.rotation or change.shift_x or change.shift_y or change.scale != 1.0:
        picture = picture.transform(
            picture.size, Image.Transform.AFFINE, _inverse_affine(change), resample=Image.Resampling.BILINEAR
        )
    if change.thickness:
        size = 2 * abs(int(change.thickness)) + 1
        picture = picture.filter(ImageFilter.MaxFilter(size) if change.thickness > 0 else ImageFilter.MinFilter(size))
    pixels = np.asarray(picture, dtype=np.float32)
    if change.noise:
        pixels = pixels + np.random.default_rng(change.seed).normal(0, 255 * change.noise, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def sweep(predict_batch, image: np.ndarray, base: Perturbation, knob: str) -> tuple[np.ndarray, np.ndarray]:
    """The knob's values and the class probabilities (values, 10) at each, other knobs as in `base`."""
    values, _ = SWEEPS[knob]
    images = np.stack([perturb(image, replace(base, **{knob: _typed(knob, value)})) for value in values])
    return values, predict_batch(images)


def _typed(knob: str, value: float):
    return int(value) if knob == "thickness" else float(value)


def _inverse_affine(change: Perturbation) -> tuple[float, ...]:
    """PIL maps each output pixel back to an input pixel: undo the shift, then the rotation and scale."""
    angle = np.deg2rad(change.rotation)
    cos, sin = np.cos(angle) / change.scale, np.sin(angle) / change.scale
    # The shifted centre maps back to the centre; around it, rotate back (y points down) and unscale.
    x0, y0 = CENTRE + change.shift_x, CENTRE + change.shift_y
    return (cos, -sin, CENTRE - cos * x0 + sin * y0, sin, cos, CENTRE - sin * x0 - cos * y0)
