"""Steady reading: the views of an image, and the answer averaged over them, asked in one batch."""

from __future__ import annotations

import numpy as np

from core.evaluation import EVALUATION_BATCH, read_steadily
from core.steady_reading import SHIFTS, VIEW_COUNT, ZOOMS, steady_probabilities, views


def square(side: int = 8) -> np.ndarray:
    """A white square centred on a black 28x28 image."""
    image = np.zeros((28, 28), np.uint8)
    start = (28 - side) // 2
    image[start : start + side, start : start + side] = 255
    return image


def linear_softmax(images: np.ndarray) -> np.ndarray:
    """A fixed 10-class softmax over the pixels: a real, position-sensitive classifier for the tests."""
    weights = np.random.default_rng(1).normal(size=(28 * 28, 10)).astype(np.float32) / 255
    logits = images.reshape(len(images), -1) @ weights
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_views_are_the_image_shifted_a_pixel_each_way_then_zoomed_out_and_in():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    stacked = views(images)
    assert stacked.shape == (VIEW_COUNT, 3, 28, 28) and stacked.dtype == np.float32
    assert VIEW_COUNT == len(SHIFTS) + len(ZOOMS) == 11
    assert 0 <= stacked.min() and stacked.max() <= 255
    for view, (down, right) in zip(stacked, SHIFTS, strict=False):
        expected = np.zeros((3, 30, 30), np.float32)
        expected[:, 1 + down : 29 + down, 1 + right : 29 + right] = images
        np.testing.assert_array_equal(view, expected[:, 1:29, 1:29])  # moved, with zeros moved in
    ink = [float(view.sum()) for view in views(square()[None])[len(SHIFTS) :, 0]]
    smaller, larger = ink
    assert smaller < square().sum() < larger  # 8 % smaller, then 8 % larger: ink area scales with the zoom
    np.testing.assert_allclose(larger / square().sum(), 1.08**2, rtol=0.1)


def test_a_blank_image_has_blank_views():
    assert not views(np.zeros((2, 28, 28), np.uint8)).any()


def test_the_steady_answer_is_the_mean_answer_over_the_views_asked_in_one_batch():
    images = np.random.default_rng(1).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    batches = []

    def classifier(batch: np.ndarray) -> np.ndarray:
        batches.append(len(batch))
        return linear_softmax(batch)

    steady = steady_probabilities(classifier, images)
    assert batches == [VIEW_COUNT * len(images)]
    expected = np.mean([linear_softmax(view) for view in views(images)], axis=0)
    np.testing.assert_allclose(steady, expected, atol=1e-6)
    np.testing.assert_allclose(steady.sum(axis=1), 1.0, atol=1e-5)
    # A one-pixel shift moves this classifier's answer; the steady answer differs from the plain one.
    assert np.abs(steady - linear_softmax(images.astype(np.float32))).max() > 1e-3


def test_many_images_are_read_in_parts_each_image_once_and_in_order():
    count = EVALUATION_BATCH // VIEW_COUNT * 2 + 7  # two full parts and a short one
    images = np.random.default_rng(2).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(
        read_steadily(linear_softmax, images), steady_probabilities(linear_softmax, images), atol=1e-6
    )
