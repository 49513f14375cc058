"""Preprocessing against hand-made images with known answers, real digits, and broken or hostile files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from scipy import ndimage
from upload_files import bar, encode, hostile_uploads, peak_memory_of_preprocessing, photographed

from core.datasets import load_dataset
from core.preprocessing import ImageInputError, enclosed_background, naive_resize, preprocess_image


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    return ndimage.center_of_mass(image.astype(np.float64))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two images' pixels."""
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def test_a_centred_mnist_digit_stays_put():
    digit = load_dataset("mnist").x_test[0]
    result = preprocess_image(digit, "mnist")
    assert result.model_input.shape == (28, 28) and result.model_input.dtype == np.uint8
    assert similarity(result.model_input, digit) > 0.9


def test_an_off_centre_shape_is_centred_by_mass():
    result = preprocess_image(bar(40, 120, offset=(-100, 80)), "mnist")
    row, column = centre_of_mass(result.model_input)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5  # where MNIST puts its digits' centre of mass


def test_dark_on_light_is_inverted():
    light = bar(40, 120)
    dark = Image.eval(light, lambda value: 255 - value)
    np.testing.assert_array_equal(
        preprocess_image(dark, "mnist").model_input, preprocess_image(light, "mnist").model_input
    )
    assert "inverted" in preprocess_image(dark, "mnist").steps[2][0]


def test_the_aspect_ratio_is_kept_and_the_box_depends_on_the_dataset():
    digit = preprocess_image(bar(20, 200), "mnist").model_input
    rows, columns = np.nonzero(digit > 64)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills MNIST's 20-pixel box
    assert columns.max() - columns.min() + 1 <= 3  # and the short side stays short
    clothing = preprocess_image(bar(200, 100), "fashion_mnist").model_input
    rows, columns = np.nonzero(clothing > 64)
    assert columns.max() - columns.min() + 1 == 28  # Fashion-MNIST items fill the frame
    assert 13 <= rows.max() - rows.min() + 1 <= 15


def test_an_empty_canvas_is_nothing_drawn_not_a_prediction():
    for empty in (np.zeros((280, 280, 4), np.uint8), np.full((280, 280, 4), 255, np.uint8)):
        result = preprocess_image(empty, "mnist")
        assert result.is_empty and "No shape to read" in result.message


def test_a_transparent_canvas_drawing_is_read_whatever_the_ink_colour():
    for ink in (0, 255):
        rgba = np.zeros((280, 280, 4), np.uint8)
        rgba[60:220, 130:150] = (ink, ink, ink, 255)  # a vertical stroke, transparent everywhere else
        result = preprocess_image(rgba, "mnist")
        assert not result.is_empty
        rows, columns = np.nonzero(result.model_input > 128)
        assert rows.max() - rows.min() + 1 == 20 and columns.max() - columns.min() + 1 <= 4  # a white bar, upright


def test_every_step_is_kept_for_the_page_to_show():
    names = [name for name, _ in preprocess_image(bar(40, 120), "mnist").steps]
    assert names[0] == "EXIF orientation applied"
    assert any("cropped" in name for name in names) and any("centre of mass" in name for name in names)


def test_exif_orientation_is_applied():
    upright = bar(20, 200)
    rotated = upright.rotate(90, expand=True)  # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...with a tag saying "rotate 90 degrees clockwise to view"
    data = encode(rotated.convert("RGB"), "JPEG", exif=exif, quality=95)
    result = preprocess_image(data, "mnist").model_input
    rows, columns = np.nonzero(result > 64)
    assert rows.max() - rows.min() > 3 * (columns.max() - columns.min())  # tall again


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(1, 60), st.floats(0.02, 0.5), st.integers(0, 2))
def test_the_enclosed_background_is_what_scipy_fills(seed, height, width, density, thickening):
    """The one-pass labelling agrees with scipy's hole filling, on random ink of any thickness."""
    ink = np.random.default_rng(seed).random((height, width)) < density
    if thickening:
        ink = ndimage.binary_dilation(ink, iterations=thickening)
    np.testing.assert_array_equal(enclosed_background(ink), ndimage.binary_fill_holes(ink) & ~ink)


def test_fill_outlines_makes_a_drawn_shirt_solid():
    outline = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(outline).rectangle((60, 40, 220, 240), outline=255, width=12)
    hollow = preprocess_image(outline, "fashion_mnist", fill_outlines=False).model_input
    solid = preprocess_image(outline, "fashion_mnist").model_input  # clothing's outlines are filled by default
    assert hollow[14, 14] < 30 and solid[14, 14] > 200


def test_a_real_digit_survives_a_trip_through_a_photo_like_jpeg():
    """Rendered 10x larger, off-centre, dark on white, saved as JPEG: it comes back close to the original."""
    digit = load_dataset("mnist").x_test[3]
    big = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR)
    page = Image.new("L", (500, 420), 255)
    page.paste(big, (190, 20))
    result = preprocess_image(encode(page.convert("RGB"), "JPEG", quality=90), "mnist")
    assert similarity(result.model_input, digit) > 0.85
    assert similarity(naive_resize(page), digit) < similarity(result.model_input, digit)


def similarity_up_to_a_pixel(a: np.ndarray, b: np.ndarray) -> float:
    """The best correlation over shifts of up to one pixel: thin strokes one pixel apart barely correlate."""
    return max(similarity(np.roll(a, (dy, dx), (0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_a_photo_under_uneven_light_gives_the_input_an_evenly_lit_one_does(dataset):
    """A lamp to one side and a dim corner: the paper's darker side must not be taken for ink."""
    for image in load_dataset(dataset).x_test[:20]:
        uneven = preprocess_image(photographed(image, uneven=True), dataset)
        even = preprocess_image(photographed(image, uneven=False), dataset)
        assert similarity_up_to_a_pixel(uneven.model_input, even.model_input) > 0.85
    levelled = dict(uneven.steps)["background removed, uneven light evened out"]
    assert np.ptp(levelled[:30].mean(axis=0)) < 10  # bare paper across the top: the lamp's slope of 130 is gone


REFUSED = {
    "empty file": "empty",
    "PNG declaring 30000x30000": "far too large",
    "GIF declaring 30000x30000": "far too large",
    "random bytes": "not an image",
    "PDF renamed .png": "not an image",
    "PSD renamed .png": "not an image",
    "TIFF renamed .png": "TIFF files are not supported",
    "HEIC renamed .jpg": "HEIC photos cannot be read here: export it as JPEG",
}


@pytest.mark.parametrize(("name", "message"), REFUSED.items())
def test_files_that_cannot_be_used_are_refused_with_what_to_do(name, message):
    with pytest.raises(ImageInputError, match=message):
        preprocess_image(hostile_uploads()[name], "mnist")


def test_truncated_files_give_a_clear_error_or_a_correct_input_at_every_cut():
    reference = preprocess_image(bar(40, 120), "mnist").model_input
    for data in (encode(bar(40, 120), "PNG"), encode(bar(40, 120).convert("RGB"), "JPEG")):
        for cut in (8, 40, len(data) // 3, len(data) // 2, len(data) - 20):
            try:
                result = preprocess_image(data[:cut], "mnist")
            except ImageInputError as error:
                assert "damaged or truncated" in str(error) or "not an image" in str(error)
            else:  # only the end marker was lost: every pixel is there
                assert similarity(result.model_input, reference) > 0.99


def test_awkward_but_valid_images_are_handled():
    shape = bar(40, 120)
    sixteen_bit = Image.fromarray(np.asarray(shape).astype(np.uint16) * 257)
    palette = shape.convert("RGBA").convert("P")
    transparent = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    transparent.paste(Image.new("RGBA", (40, 120), (20, 20, 20, 255)), (130, 90))
    frames = [bar(40, 120), bar(120, 40)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    inputs = {
        "16-bit": encode(sixteen_bit, "PNG"),
        "palette": encode(palette, "PNG"),
        "palette with transparency": encode(transparent.convert("P"), "PNG", transparency=0),
        "CMYK": encode(shape.convert("CMYK"), "JPEG"),
        "transparent": encode(transparent, "PNG"),
        "animated GIF (first frame)": animated.getvalue(),
        "WebP": encode(shape, "WEBP"),
        "BMP": encode(shape, "BMP"),
    }
    reference = preprocess_image(shape, "mnist").model_input
    for name, data in inputs.items():
        result = preprocess_image(data, "mnist")
        assert not result.is_empty, name
        assert similarity(result.model_input, reference) > 0.9, name


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_a_one_pixel_image_is_read_as_nothing_drawn(dataset):
    # A lone pixel is all border, and the border is background: there is no ink to tell from it.
    result = preprocess_image(encode(Image.new("L", (1, 1), 255), "PNG"), dataset)
    assert result.is_empty
    assert "blank or has no contrast" in result.message


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "1", "CMYK", "I", "F"]),
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    seed=st.integers(0, 2**16),
    dataset=st.sampled_from(["mnist", "fashion_mnist"]),
)
def test_any_image_gives_a_28x28_uint8_input_or_nothing_drawn(mode, width, height, seed, dataset):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    result = preprocess_image(Image.fromarray(pixels).convert(mode), dataset)
    if result.is_empty:
        assert result.message
    else:
        assert result.model_input.shape == (28, 28) and result.model_input.dtype == np.uint8
        assert result.model_input.max() == 255


def test_an_8000x8000_photo_gives_a_correct_input_with_bounded_memory():
    photo = hostile_uploads()["8000x8000 photo (JPEG)"]
    peak = peak_memory_of_preprocessing(photo)
    assert peak["outcome"] == "28x28 input"
    assert peak["peak_growth_mb"] < 100, peak  # decoded at full size it would take 192 MB
    result = preprocess_image(photo, "mnist")
    rows, columns = np.nonzero(result.model_input > 128)
    assert rows.max() - rows.min() + 1 == 20 and columns.max() - columns.min() + 1 <= 10  # a tall, thin "1"


def test_a_large_png_is_reduced_without_a_second_full_size_copy():
    peak = peak_memory_of_preprocessing(hostile_uploads()["6000x6000 screenshot (PNG)"])
    assert peak["outcome"] == "28x28 input"
    assert peak["peak_growth_mb"] < 200, peak  # decoded, it is 108 MB; a second full-size copy would pass 216
