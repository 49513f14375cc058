"""Train/test arrays and the checks every source's arrays must pass before they are used."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.datasets.registry import IMAGE_SIDE, NUM_CLASSES


class DatasetError(Exception):
    """A dataset file or source is unusable; the message names the file and the problem."""


class Splits(NamedTuple):
    """The four arrays of a dataset: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def validate_splits(splits: Splits, origin: str, num_classes: int = NUM_CLASSES) -> Splits:
    """Check shapes, dtypes, counts and label range (0 to num_classes - 1); return them read-only."""
    checked = []
    for split, (images, labels) in {
        "train": (splits.x_train, splits.y_train),
        "test": (splits.x_test, splits.y_test),
    }.items():
        images = _checked_images(images, f"{origin} ({split} images)")
        labels = _checked_labels(labels, f"{origin} ({split} labels)", num_classes)
        if len(images) != len(labels):
            raise DatasetError(f"{origin}: {len(images):,} {split} images but {len(labels):,} {split} labels.")
        checked += [images, labels]
    for array in checked:
        # Arrays are shared by every session in the process: nobody may write into them.
        array.setflags(write=False)
    return Splits(*checked)


def _checked_images(images: np.ndarray, where: str) -> np.ndarray:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        dtype = getattr(images, "dtype", type(images).__name__)
        raise DatasetError(f"{where}: images must be uint8 pixels 0-255, found {dtype}.")
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DatasetError(f"{where}: images must be shaped (N, {IMAGE_SIDE}, {IMAGE_SIDE}), found {images.shape}.")
    if len(images) == 0:
        raise DatasetError(f"{where}: there are no images.")
    return images


def _checked_labels(labels: np.ndarray, where: str, num_classes: int) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.ndim != 1:
        raise DatasetError(f"{where}: labels must be a flat list of class numbers.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{where}: labels must be whole numbers, found {labels.dtype}.")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(
            f"{where}: labels must be 0-{num_classes - 1}, found values from {labels.min()} to {labels.max()}."
        )
    return labels.astype(np.uint8, copy=False)
