"""Dataset summaries and their figures, checked against plain numpy answers."""

from __future__ import annotations

import numpy as np

from core.datasets.registry import FASHION_MNIST
from core.datasets.summary import class_counts, examples_per_class, mean_images, mosaic, pixel_histogram
from core.figures.data import class_distribution_figure, example_grid_figure, image_figure, mean_images_figure

RNG = np.random.default_rng(7)
IMAGES = RNG.integers(0, 256, (5_000, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 9, 5_000).astype(np.uint8)  # class 9 deliberately absent


def test_class_counts_cover_all_ten_classes():
    counts = class_counts(LABELS)
    assert counts.shape == (10,)
    assert counts[9] == 0
    assert counts.sum() == len(LABELS)


def test_mean_images_match_numpy():
    means = mean_images(IMAGES, LABELS)
    for label in range(9):
        np.testing.assert_allclose(means[label], IMAGES[LABELS == label].astype(np.float64).mean(axis=0))
    assert not means[9].any()


def test_pixel_histogram_matches_numpy_across_chunk_boundaries():
    expected, _ = np.histogram(IMAGES, bins=256, range=(0, 256))
    np.testing.assert_array_equal(pixel_histogram(IMAGES), expected)


def test_examples_are_of_the_right_class_reproducible_and_reshuffle():
    picks = examples_per_class(LABELS, per_class=6, seed=1)
    assert len(picks) == 10
    for label, indices in enumerate(picks[:9]):
        assert len(indices) == 6 and (LABELS[indices] == label).all()
    assert len(picks[9]) == 0
    again = examples_per_class(LABELS, per_class=6, seed=1)
    assert all((a == b).all() for a, b in zip(picks, again, strict=True))
    other = examples_per_class(LABELS, per_class=6, seed=2)
    assert any((a != b).any() for a, b in zip(picks[:9], other[:9], strict=True))


def test_mosaic_puts_each_image_in_its_tile_and_leaves_short_rows_blank():
    rows = [np.array([3, 4]), np.array([5])]
    picture = mosaic(IMAGES, rows, columns=2)
    assert picture.shape == (56, 56)
    np.testing.assert_array_equal(picture[:28, 28:], IMAGES[4])
    np.testing.assert_array_equal(picture[28:, :28], IMAGES[5])
    assert not picture[28:, 28:].any()


def test_figures_carry_the_class_names_and_the_numbers():
    names = FASHION_MNIST.class_names
    counts = class_counts(LABELS)
    bars = class_distribution_figure(counts, counts // 2, names)
    assert [trace.name for trace in bars.data] == ["Train", "Test"]
    assert list(bars.data[0].x) == list(names)
    np.testing.assert_array_equal(bars.data[1].y, counts // 2)

    means = mean_images_figure(mean_images(IMAGES, LABELS), names)
    assert sorted(a.text for a in means.layout.annotations) == sorted(names)

    grid = example_grid_figure(mosaic(IMAGES, examples_per_class(LABELS, 4, 0), 4), names)
    assert list(grid.layout.yaxis.ticktext) == list(names)

    single = image_figure(IMAGES[0])
    np.testing.assert_array_equal(np.array(single.data[0].z), IMAGES[0])
