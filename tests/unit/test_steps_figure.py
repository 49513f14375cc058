"""Preprocessing steps as shown: squared, at the size they are drawn, small ones with sharp pixels."""

from __future__ import annotations

import numpy as np

from core.figures.steps import STEP_SIDE, on_black_square, step_thumbnail
from core.preprocessing import preprocess_image


def test_a_thin_crop_is_centred_on_a_black_square():
    crop = np.full((20, 8), 200, dtype=np.uint8)
    square = on_black_square(crop)
    assert square.shape == (20, 20)
    assert (square[:, 6:14] == 200).all() and square[:, :6].max() == 0 and square[:, 14:].max() == 0


def test_every_step_of_a_drawing_comes_at_the_shown_size():
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    canvas[60:220, 100:180, :3] = 255  # a tall white bar, drawn on the canvas's black
    steps = preprocess_image(canvas, "fashion_mnist").steps
    thumbnails = [step_thumbnail(image) for _, image in steps]
    assert all(t.dtype == np.uint8 and max(t.shape[:2]) == STEP_SIDE for t in thumbnails)
    assert thumbnails[0].shape == (STEP_SIDE, STEP_SIDE, 4)  # the canvas keeps its colour channels


def test_a_28_pixel_step_is_enlarged_with_square_pixels():
    image = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(step_thumbnail(image), np.kron(image, np.ones((4, 4), dtype=np.uint8)))


def test_a_large_step_is_shrunk_by_averaging():
    image = np.zeros((280, 280), dtype=np.uint8)
    image[:, ::2] = 255  # one-pixel stripes: averaged they are grey, sampled they would stay black or white
    thumbnail = step_thumbnail(image, side=56)
    assert thumbnail.shape == (56, 56)
    assert np.all(np.abs(thumbnail.astype(int) - 127) <= 26)


def test_a_tall_colour_upload_is_shown_square_with_its_proportions():
    photo = np.full((512, 384, 4), 255, dtype=np.uint8)
    thumbnail = step_thumbnail(photo)
    assert thumbnail.shape == (STEP_SIDE, STEP_SIDE, 4)
    assert thumbnail[:, : STEP_SIDE // 8, 3].max() == 0  # transparent bars either side, not a stretched photo
    assert thumbnail[:, STEP_SIDE // 4 : -STEP_SIDE // 4, 3].min() == 255
