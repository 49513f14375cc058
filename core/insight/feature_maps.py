"""What each convolution responds to in one image, and what the first layer's filters look like."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from core.insight.probes import as_batch, conv_layers, run_with_taps


@dataclass(frozen=True)
class FeatureMaps:
    """One convolution's output for one image: (height, width, channels)."""

    layer: str
    maps: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.maps.shape)


def feature_maps(model: keras.Model, image: np.ndarray) -> list[FeatureMaps]:
    """The output of every Conv2D layer for one uint8 28x28 image (empty for a model without convolutions)."""
    layers = conv_layers(model)
    if not layers:
        return []
    outputs, _ = run_with_taps(model, as_batch(image), layers)
    return [FeatureMaps(layer.name, np.asarray(output[0])) for layer, output in zip(layers, outputs, strict=True)]


def first_layer_filters(model: keras.Model) -> np.ndarray | None:
    """The first convolution's kernels as (filters, height, width), averaged over input channels; None without one."""
    layers = conv_layers(model)
    if not layers:
        return None
    kernel = np.asarray(layers[0].kernel)  # (height, width, in, out)
    return np.moveaxis(kernel.mean(axis=2), -1, 0)


def mosaic(stack: np.ndarray, columns: int | None = None, gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Tile (count, height, width) maps into one picture, each scaled to [0, 1] on its own, gaps NaN;
    and, for every pixel of it, which map it shows (-1 in the gaps)."""
    count, height, width = stack.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    shape = (rows * (height + gap) - gap, columns * (width + gap) - gap)
    picture = np.full(shape, np.nan, dtype=np.float32)
    tiles = np.full(shape, -1, dtype=np.int32)
    for index, tile in enumerate(stack):
        low, high = float(tile.min()), float(tile.max())
        scaled = (tile - low) / (high - low) if high > low else np.zeros_like(tile, dtype=np.float32)
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        picture[top : top + height, left : left + width] = scaled
        tiles[top : top + height, left : left + width] = index
    return picture, tiles
