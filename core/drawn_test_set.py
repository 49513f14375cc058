"""Drawn versions of a test set: each test image redrawn as a person would draw it, read by `preprocess_image`.

A model that reads the test images well can still misread drawings: Fashion-MNIST is grey product
photos, and a canvas gives flat white outlines or silhouettes. Each test image is drawn here on a
canvas (white on black, four times its size, one brush width), then goes through the very
preprocessing that the canvas and uploads use. The same images always give the same drawings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.architectures.drawing_style import ITEM_THRESHOLD
from core.datasets.registry import DrawingRecipe, dataset_info
from core.drawn_cache import drawn_set_key, load_drawn_images, save_drawn_images
from core.preprocessing import preprocess_image

# Canvas pixels per image pixel: a 28x28 image is drawn on a 112x112 canvas.
CANVAS_SCALE = 4
# A brush of 2 image pixels, like the Predict page's default brush on its 280-pixel canvas.
BRUSH = 2 * CANVAS_SCALE
# Image pixels of empty canvas around the item: people draw in the middle, not over the edges.
MARGIN = 4
# Test images per class that are drawn: enough for a per-class accuracy, quick to preprocess.
PER_CLASS = 100
# The ways people draw each kind of dataset.
STYLES: dict[DrawingRecipe, tuple[str, ...]] = {
    DrawingRecipe.FILL_FRAME: ("outline", "silhouette"),
    DrawingRecipe.DIGIT_BOX: ("strokes", "bold strokes"),
}


def drawn_styles(dataset_name: str) -> tuple[str, ...]:
    """The drawn versions a dataset's test set has, e.g. ("outline", "silhouette") for clothing.

    None for a dataset of your own: its images are already drawings (or your scans) through the same
    preprocessing, so redrawing its test set would measure nothing new.
    """
    info = dataset_info(dataset_name)
    return () if info.custom else STYLES[info.drawing_recipe]


def draw(image: np.ndarray, style: str) -> np.ndarray:
    """One 28x28 uint8 test image as a person's canvas drawing in `style`: white on black, uint8."""
    canvas = ndimage.zoom(np.pad(image.astype(np.float32), MARGIN), CANVAS_SCALE, order=1)
    peak = max(float(canvas.max()), 1.0)
    if style in ("outline", "silhouette"):
        # The item's shape, as a person fills it in: every pixel of it, with no holes inside.
        item = ndimage.binary_fill_holes(canvas > ITEM_THRESHOLD * peak)
        drawn = item if style == "silhouette" else item & ~ndimage.binary_erosion(item, iterations=BRUSH)
    elif style in ("strokes", "bold strokes"):
        # Pen strokes of one width: the digit's ink, binarised; a bold brush is wider still.
        drawn = canvas > 0.5 * peak
        if style == "bold strokes":
            drawn = ndimage.binary_dilation(drawn, iterations=CANVAS_SCALE)
    else:
        raise ValueError(f"Unknown drawing style {style!r}.")
    return drawn.astype(np.uint8) * 255


def sample_indices(labels: np.ndarray, per_class: int = PER_CLASS) -> np.ndarray:
    """The first `per_class` test images of each class, in test-set order: the same ones every time."""
    chosen = [np.flatnonzero(labels == label)[:per_class] for label in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


@dataclass(frozen=True)
class DrawnTestSet:
    """Test images drawn in one style and preprocessed as the Predict page would, with their labels."""

    style: str
    images: np.ndarray  # (N, 28, 28) uint8, model input
    labels: np.ndarray  # (N,)
    test_indices: np.ndarray  # which test image each one was drawn from


def drawn_test_set(dataset_name: str, x_test: np.ndarray, y_test: np.ndarray, style: str) -> DrawnTestSet:
    """A sample of the test set drawn in `style`, through `preprocess_image` with the Predict page's defaults.

    Drawn once per machine and kept on disk (core.drawn_cache): the same images give the same drawings.
    """
    indices = sample_indices(y_test)
    labels = y_test[indices].astype(np.int64)
    key = drawn_set_key(dataset_name, style, x_test, y_test)
    images = load_drawn_images(key)
    if images is not None and images.dtype == np.uint8 and images.shape == (len(indices), *x_test.shape[1:]):
        return DrawnTestSet(style, images, labels, indices)
    images = np.zeros((len(indices), *x_test.shape[1:]), dtype=np.uint8)
    for position, index in enumerate(indices):
        result = preprocess_image(draw(x_test[index], style), dataset_name)
        if result.model_input is not None:  # a blank drawing stays blank: the model must still answer
            images[position] = result.model_input
    save_drawn_images(key, images)
    return DrawnTestSet(style, images, labels, indices)


# Points of accuracy a drawing may lose against the test images before it is called a gap.
GAP_POINTS = 3.0


def drawing_gap_reading(test_accuracy: float, drawn: dict[str, float], trained_with_drawings: bool) -> str:
    """The gap between test images and drawings in plain words, with what to try."""
    parts = " and ".join(f"{style} at {100 * accuracy:.0f} %" for style, accuracy in drawn.items())
    worst = min(drawn.values())
    if 100 * (test_accuracy - worst) <= GAP_POINTS:
        return (
            f"**Reads drawings about as well as the test images:** {100 * test_accuracy:.0f} % on the test images, "
            f"{parts}."
        )
    advice = (
        "raise its share, or train longer, to close more of the gap"
        if trained_with_drawings
        else "train with *Robust to drawings* to close the gap"
    )
    return (
        f"**A gap between the test images and drawings:** this model reads the test images at "
        f"{100 * test_accuracy:.0f} % but {parts}: {advice}."
    )
