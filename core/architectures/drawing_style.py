""" "Robust to drawings": training images redrawn the way people draw on the canvas, inside the model.

Fashion-MNIST is grey product photos and MNIST is pen strokes scanned in grey; what a person draws
is a flat white silhouette, an outline, or strokes of one brush width. With probability `rate`
this layer redraws a training image in one of those styles, then places it as
`core.preprocessing.preprocess_image` places a drawing (ink cropped, fitted into the 20x20 digit box
or the full frame, full intensity). Batched TensorFlow ops only, active only in training.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from core.datasets.registry import IMAGE_SIDE, DrawingRecipe

DIGIT_BOX = 20
# A pixel belongs to the item when brighter than this share of its brightest pixel (Fashion-MNIST's
# background is black); dark parts inside the item are filled in as holes. No closing: it would
# merge a pair of trousers' legs into a dress.
ITEM_THRESHOLD = 0.05
# Steps of the flood fill from the frame's edge that finds the background: longer than any path
# around a 28x28 item.
FLOOD_STEPS = 40
# A digit's pen stroke is what is brighter than half its brightest pixel.
STROKE_THRESHOLD = 0.5
# Outline widths in pixels at 28x28: a canvas brush of 10-30 px on a 280-px canvas.
OUTLINE_WIDTHS = (1, 2, 3)
# Each clothing image draws one of its variants: a silhouette for the first SILHOUETTE_VARIANTS (two
# thirds: the Predict page fills a closed outline, so a drawing mostly reaches the model as a
# silhouette), then an outline of each width, a ninth each. Digits draw strokes as drawn, thickened or
# thinned, a third each.
SILHOUETTE_VARIANTS = 6
VARIANTS = SILHOUETTE_VARIANTS + len(OUTLINE_WIDTHS)
DIGIT_STYLES = 3


def _dilate(mask: tf.Tensor, size: int) -> tf.Tensor:
    return tf.nn.max_pool2d(mask, size, 1, "SAME")


def _erode(mask: tf.Tensor, size: int) -> tf.Tensor:
    # Beyond the frame is background, so an item touching the edge gets a closed outline there too.
    before = size // 2
    padded = tf.pad(mask, [[0, 0], [before, size - 1 - before], [before, size - 1 - before], [0, 0]])
    return -tf.nn.max_pool2d(-padded, size, 1, "VALID")


def _fill_holes(mask: tf.Tensor) -> tf.Tensor:
    """The mask with every hole filled: background is what a flood from the frame's edge reaches."""
    edge = tf.pad(tf.zeros_like(mask[:, 1:-1, 1:-1]), [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=1.0)
    outside = edge * (1.0 - mask)
    for _ in range(FLOOD_STEPS):
        outside = _dilate(outside, 3) * (1.0 - mask)
    return 1.0 - outside


def _pick(choices: list[tf.Tensor], which: tf.Tensor) -> tf.Tensor:
    """For each image in the batch, the version `which` names (an int per image)."""
    stacked = tf.stack(choices, axis=0)
    one_hot = tf.one_hot(which, len(choices), axis=0)[..., tf.newaxis, tf.newaxis, tf.newaxis]
    return tf.reduce_sum(stacked * one_hot, axis=0)


def _soften(image: tf.Tensor) -> tf.Tensor:
    """The anti-aliased edge a canvas stroke gets when preprocessing scales it down."""
    kernel = tf.constant([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    return tf.nn.conv2d(image, kernel[:, :, tf.newaxis, tf.newaxis], 1, "SAME")


def _place(image: tf.Tensor, box: int) -> tf.Tensor:
    """Crop each image to its ink, square around its centre, fit into `box` pixels, centre in the frame."""
    side = float(IMAGE_SIDE)
    ink = image > 0.2 * tf.reduce_max(image, axis=[1, 2, 3], keepdims=True)
    rows = tf.reduce_any(ink, axis=[2, 3])
    columns = tf.reduce_any(ink, axis=[1, 3])
    positions = tf.range(IMAGE_SIDE, dtype=tf.float32)

    def extent(present: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        present = tf.cast(present, tf.float32)
        first = tf.reduce_min(positions + (1.0 - present) * side, axis=1)
        last = tf.reduce_max(positions * present - (1.0 - present), axis=1)
        return first, last

    top, bottom = extent(rows)
    left, right = extent(columns)
    half = (tf.maximum(bottom - top, right - left) + 1.0) / 2.0
    centre_y, centre_x = (top + bottom + 1.0) / 2.0, (left + right + 1.0) / 2.0
    boxes = tf.stack([centre_y - half, centre_x - half, centre_y + half, centre_x + half], axis=1) / side
    placed = tf.image.crop_and_resize(image, boxes, tf.range(tf.shape(image)[0]), (box, box), "bilinear")
    margin = (IMAGE_SIDE - box) // 2
    return tf.pad(placed, [[0, 0], [margin, IMAGE_SIDE - box - margin], [margin, IMAGE_SIDE - box - margin], [0, 0]])


def redraw(images: tf.Tensor, recipe: DrawingRecipe, variant: tf.Tensor) -> tf.Tensor:
    """Each image (B, 28, 28, 1), 0-255, drawn in the variant (0 to VARIANTS - 1) given for it.

    Clothing: below SILHOUETTE_VARIANTS a solid silhouette, then an outline of each of OUTLINE_WIDTHS.
    Digits: uniform strokes as drawn, thickened or thinned, by variant % DIGIT_STYLES.
    """
    peak = tf.maximum(tf.reduce_max(images, axis=[1, 2, 3], keepdims=True), 1.0)
    if recipe is DrawingRecipe.FILL_FRAME:
        silhouette = _fill_holes(tf.cast(images > ITEM_THRESHOLD * peak, tf.float32))
        outlines = [silhouette - _erode(silhouette, 2 * width + 1) for width in OUTLINE_WIDTHS]
        drawn = _pick([silhouette, *outlines], tf.maximum(variant - SILHOUETTE_VARIANTS + 1, 0))
        box = IMAGE_SIDE
    else:
        strokes = tf.cast(images > STROKE_THRESHOLD * peak, tf.float32)
        thinned = _erode(strokes, 2)
        # Thinning a thin stroke can erase it: keep the strokes then.
        thinned = tf.where(tf.reduce_sum(thinned, axis=[1, 2, 3], keepdims=True) > 10.0, thinned, strokes)
        drawn = _pick([strokes, _dilate(strokes, 2), thinned], variant % DIGIT_STYLES)
        box = DIGIT_BOX
    placed = _place(_soften(drawn) * 255.0, box)
    return placed * (255.0 / tf.maximum(tf.reduce_max(placed, axis=[1, 2, 3], keepdims=True), 1e-6))


@keras.saving.register_keras_serializable(package="explorer")
class DrawingStyle(keras.layers.Layer):
    """With probability `rate`, redraw each training image as a person would draw it; inference passes through."""

    def __init__(self, rate: float = 0.5, recipe: str = DrawingRecipe.DIGIT_BOX.value, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.recipe = DrawingRecipe(recipe)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate <= 0:
            return inputs
        batch = tf.shape(inputs)[0]
        chosen = keras.random.uniform((batch,), seed=self.seed_generator) < self.rate
        variant = keras.random.randint((batch,), 0, VARIANTS, seed=self.seed_generator)
        drawn = redraw(tf.cast(inputs, tf.float32), self.recipe, variant)
        return tf.where(chosen[:, tf.newaxis, tf.newaxis, tf.newaxis], tf.cast(drawn, inputs.dtype), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "recipe": self.recipe.value, "seed": self.seed}
