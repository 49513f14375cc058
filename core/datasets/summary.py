"""Numbers that describe a dataset at a glance: class counts, mean images, pixel histograms, samples."""

from __future__ import annotations

import numpy as np

from core.datasets.registry import NUM_CLASSES


def class_counts(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """How many examples each class has (zero for a class with none)."""
    return np.bincount(labels, minlength=num_classes)


def mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """The average image of each class, float (classes, 28, 28); zeros for a class with no examples."""
    means = np.zeros((num_classes, *images.shape[1:]), dtype=np.float64)
    for label in range(num_classes):
        members = images[labels == label]
        if len(members):
            means[label] = members.mean(axis=0, dtype=np.float64)
    return means


def pixel_histogram(images: np.ndarray) -> np.ndarray:
    """How many pixels take each intensity 0-255."""
    histogram = np.zeros(256, dtype=np.int64)
    # In chunks: bincount widens to int64, and a whole-dataset temporary would be ~380 MB.
    for start in range(0, len(images), 4096):
        histogram += np.bincount(images[start : start + 4096].reshape(-1), minlength=256)
    return histogram


def examples_per_class(
    labels: np.ndarray, per_class: int, seed: int, num_classes: int = NUM_CLASSES
) -> list[np.ndarray]:
    """For each class, up to `per_class` random example indices (reproducible by seed)."""
    rng = np.random.default_rng(seed)
    picks = []
    for label in range(num_classes):
        candidates = np.flatnonzero(labels == label)
        size = min(per_class, len(candidates))
        picks.append(np.sort(rng.choice(candidates, size=size, replace=False)) if size else candidates)
    return picks


def mosaic(images: np.ndarray, rows: list[np.ndarray], columns: int) -> np.ndarray:
    """Tile rows of images (one list of indices per row) into one uint8 picture, blank where short."""
    side = images.shape[1]
    picture = np.zeros((len(rows) * side, columns * side), dtype=np.uint8)
    for row, indices in enumerate(rows):
        for column, index in enumerate(indices[:columns]):
            picture[row * side : (row + 1) * side, column * side : (column + 1) * side] = images[index]
    return picture
