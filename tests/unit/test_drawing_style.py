"""Robust to drawings: the augmentation's contract, the drawn test set, and outline detection."""

from __future__ import annotations

import factories
import keras
import numpy as np
import pytest
import tensorflow as tf

from core.architectures import Augmentation, ModelSpec, build_model
from core.architectures.drawing_style import SILHOUETTE_VARIANTS, VARIANTS, DrawingStyle, redraw
from core.datasets.registry import DrawingRecipe
from core.drawn_cache import CACHE_DIR_ENV
from core.drawn_test_set import draw, drawn_styles, drawn_test_set
from core.preprocessing import outline_inside, preprocess_image


def ring(side: int = 112, outer: float = 0.4, inner: float = 0.3) -> np.ndarray:
    y, x = np.mgrid[:side, :side] / side - 0.5
    radius = np.hypot(y, x)
    return (((radius < outer) & (radius > inner)) * 255).astype(np.uint8)


def disk(side: int = 112) -> np.ndarray:
    y, x = np.mgrid[:side, :side] / side - 0.5
    return ((np.hypot(y, x) < 0.4) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clothes() -> np.ndarray:
    return factories.tiny_fashion().x_test[:64]


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return factories.tiny_mnist().x_test[:64]


@pytest.mark.parametrize("recipe", list(DrawingRecipe))
@pytest.mark.parametrize("variant", range(VARIANTS))
def test_every_variant_gives_full_intensity_images_of_the_same_shape(recipe, variant, clothes, digits):
    images = clothes if recipe is DrawingRecipe.FILL_FRAME else digits
    drawn = redraw(tf.constant(images[..., None], tf.float32), recipe, tf.fill([len(images)], variant)).numpy()
    assert drawn.shape == (len(images), 28, 28, 1) and drawn.dtype == np.float32
    assert drawn.min() >= 0 and np.allclose(drawn.max(axis=(1, 2, 3)), 255, atol=0.5)


def test_clothing_is_redrawn_as_a_solid_silhouette_or_a_closed_outline(clothes):
    batch = tf.constant(clothes[..., None], tf.float32)
    silhouettes = redraw(batch, DrawingRecipe.FILL_FRAME, tf.zeros(len(clothes), tf.int32)).numpy()[..., 0]
    first_outline = tf.fill([len(clothes)], SILHOUETTE_VARIANTS)
    thin_outlines = redraw(batch, DrawingRecipe.FILL_FRAME, first_outline).numpy()[..., 0]
    # Ink as preprocessing sees it: brighter than a fifth of the brightest pixel.
    assert np.mean([outline_inside(image > 51) is not None for image in thin_outlines]) >= 0.8
    # Only an item with real openings (a sandal's straps, a bag's handle) may look like an outline.
    assert np.mean([outline_inside(image > 51) is not None for image in silhouettes]) <= 0.05
    for silhouette in silhouettes:  # placed as preprocessing places clothing: the longer side fills the frame
        rows, columns = np.nonzero(silhouette > 51)
        assert max(np.ptp(rows), np.ptp(columns)) >= 25


def test_digits_are_placed_in_the_20_pixel_box(digits):
    drawn = redraw(tf.constant(digits[..., None], tf.float32), DrawingRecipe.DIGIT_BOX, tf.zeros(len(digits), tf.int32))
    for image in drawn.numpy()[..., 0]:
        rows, columns = np.nonzero(image > 50)
        assert max(np.ptp(rows), np.ptp(columns)) + 1 <= 21 and rows.min() >= 3 and columns.min() >= 3


def test_the_layer_is_seeded_and_acts_only_in_training(digits):
    batch = tf.constant(digits[..., None], tf.float32)
    first = DrawingStyle(0.5, "digit_box", seed=7)(batch, training=True).numpy()
    again = DrawingStyle(0.5, "digit_box", seed=7)(batch, training=True).numpy()
    np.testing.assert_array_equal(first, again)
    changed = np.any(first != digits[..., None], axis=(1, 2, 3))
    assert 0.2 < changed.mean() < 0.8  # about half redrawn
    np.testing.assert_array_equal(DrawingStyle(1.0, "digit_box", seed=7)(batch, training=False).numpy(), batch)


def test_a_model_with_drawings_predicts_the_same_as_without_and_reloads_in_safe_mode(digits, tmp_path):
    plain = build_model(ModelSpec("softmax", dropout=0.0, batch_norm=False), seed=3)
    spec = ModelSpec("softmax", dropout=0.0, batch_norm=False, augmentation=Augmentation(drawing_rate=1.0))
    drawn = build_model(spec, seed=3)
    drawn.set_weights(plain.get_weights())
    np.testing.assert_allclose(drawn.predict(digits[..., None], verbose=0), plain.predict(digits[..., None], verbose=0))
    drawn.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert reloaded.get_layer("drawing_style").rate == 1.0


def test_augmentation_follows_the_dataset():
    both = Augmentation(horizontal_flip=True, drawing_rate=0.5)
    assert both.for_dataset("mnist") == Augmentation(drawing_rate=0.5, drawing_recipe="digit_box")
    assert both.for_dataset("fashion_mnist") == Augmentation(
        horizontal_flip=True, drawing_rate=0.5, drawing_recipe="fill_frame"
    )


def test_outlines_are_detected_and_filled_for_clothing_but_a_drawn_zero_stays_open():
    assert outline_inside(ring() > 0) is not None
    assert outline_inside(disk() > 0) is None
    clothing = preprocess_image(ring(), "fashion_mnist")
    assert "outline detected, filled" in [name for name, _ in clothing.steps]
    assert clothing.model_input[14, 14] > 200  # the inside is now solid
    kept = preprocess_image(ring(), "fashion_mnist", fill_outlines=False)
    assert kept.model_input[14, 14] < 20
    zero = preprocess_image(ring(inner=0.33), "mnist")  # a "0" (or an "O")
    assert "outline detected, filled" not in [name for name, _ in zero.steps]
    assert zero.model_input[14, 14] < 20


def test_the_drawn_test_set_derives_the_same_way_every_time(tmp_path, monkeypatch):
    data = factories.tiny_fashion()
    for style in drawn_styles("fashion_mnist"):
        # Each drawn in an empty cache of its own: two real drawings, not one read back.
        monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / f"{style}-first"))
        first = drawn_test_set("fashion_mnist", data.x_test, data.y_test, style)
        monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / f"{style}-again"))
        again = drawn_test_set("fashion_mnist", data.x_test, data.y_test, style)
        np.testing.assert_array_equal(first.images, again.images)
        np.testing.assert_array_equal(first.labels, data.y_test[first.test_indices])
        assert first.images.dtype == np.uint8 and first.images.shape[1:] == (28, 28)
    outline = draw(data.x_test[0], "outline")
    assert outline_inside(outline > 0) is not None
    assert drawn_styles("mnist") == ("strokes", "bold strokes")


def test_a_job_refuses_settings_not_made_for_its_dataset():
    from core.training import TrainConfig, TrainingJob

    clothes = factories.tiny_fashion()
    digit_style = ModelSpec("softmax", augmentation=Augmentation(drawing_rate=0.5))  # drawings drawn as digits
    with pytest.raises(ValueError, match="not made for Fashion-MNIST"):
        TrainingJob(clothes, digit_style, TrainConfig(dataset="fashion_mnist"))
    TrainingJob(clothes, digit_style.for_dataset("fashion_mnist"), TrainConfig(dataset="fashion_mnist"))
