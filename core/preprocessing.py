"""Anything a user draws or uploads, turned into what every model takes: 28x28 uint8, white ink on black.

MNIST's own recipe, step by step, each step's image kept so the Predict page can show it: decode
safely, apply EXIF orientation, composite transparency over a contrasting background, grayscale,
invert dark-on-light input, crop to the ink, scale into a 20x20 box keeping the aspect ratio
(Fashion-MNIST: fill the 28x28 frame), centre by centre of mass, pad to 28x28.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from core.datasets.registry import IMAGE_SIDE, DrawingRecipe, dataset_info

ACCEPTED_FORMATS = {"PNG", "JPEG", "GIF", "WEBP", "BMP"}
MAX_PIXELS = 40_000_000  # a 6,300 x 6,300 image; anything declaring more is refused before decoding
# JPEGs are decoded at 1/8 scale when big (Pillow's draft mode), so a large photo stays cheap.
MAX_JPEG_PIXELS = 80_000_000
# A 50-megapixel phone photo is about 15 MB; .streamlit/config.toml's maxUploadSize says the same.
MAX_BYTES = 32 * 1024 * 1024
# ISO media brands of HEIC/HEIF photos (iPhones' default), which Pillow cannot read.
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
# Large photos are reduced to this size first: 28x28 is the goal, and decoding stays fast.
WORKING_SIDE = 512
DIGIT_BOX = 20
# Measured on MNIST itself: the mean centre of mass is (13.99, 14.00), spread 0.29 (whole-pixel shifts).
MNIST_CENTRE = 14.0
# A pixel is ink when it is brighter than this share of the brightest pixel.
INK_THRESHOLD = 0.2
# Ink must stand this many grey levels above the background; less is noise or a blank picture.
MIN_INK_CONTRAST = 10.0
# An outline encloses an empty inside at least this share of the ink's own area. Measured on clothing
# redrawn by core/architectures/drawing_style.py: 94 % of 1-pixel outlines and 83 % of 2-pixel ones
# pass, no silhouette does (a thick outline of trousers encloses little, and is read as drawn).
OUTLINE_INSIDE_SHARE = 0.25


class ImageInputError(ValueError):
    """The input cannot be used; the message says what is wrong and what to do."""


@dataclass
class PreprocessResult:
    """The 28x28 model input (None when nothing was drawn) and every intermediate image, by name."""

    model_input: np.ndarray | None
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)
    message: str = ""

    @property
    def is_empty(self) -> bool:
        return self.model_input is None


def outline_inside(ink: np.ndarray) -> np.ndarray | None:
    """The empty inside that closed strokes enclose, when the ink is an outline; None when it is not."""
    inside = enclosed_background(ink)
    return inside if inside.sum() >= OUTLINE_INSIDE_SHARE * ink.sum() else None


def enclosed_background(ink: np.ndarray) -> np.ndarray:
    """The background that does not reach the border: `binary_fill_holes(ink) & ~ink`, in one labelling pass.

    Runs on every stroke; scipy's fill grows the background in from the border one pixel per pass
    over the whole canvas (7 ms against 1 ms at 280x280).
    """
    ink = np.asarray(ink, dtype=bool)
    background, count = ndimage.label(~ink)
    enclosed = np.ones(count + 1, dtype=bool)
    enclosed[0] = False  # label 0 is the ink itself
    enclosed[np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])] = False
    return enclosed[background]


def fills_outlines_by_default(dataset_name: str) -> bool:
    """Clothing is drawn as outlines of solid items; a digit's loop (a 0, a 6) must stay open.

    Never for your own classes: they were drawn (or scanned) as they are, and an outlined circle
    and a filled disc may be two of them.
    """
    info = dataset_info(dataset_name)
    return info.drawing_recipe is DrawingRecipe.FILL_FRAME and not info.custom


def preprocess_image(
    image,
    dataset_name: str | None,
    *,
    fill_outlines: bool | None = None,
    recipe: DrawingRecipe | None = None,
    keep_steps: bool = True,
) -> PreprocessResult:
    """A PIL image, an array (such as the canvas' RGBA) or an uploaded file's bytes -> the model's input.

    `fill_outlines`: fill a drawn outline to a solid shape; None does what suits the dataset.
    `recipe` instead of a dataset: for images of a dataset still being made (never fills outlines).
    `keep_steps=False` keeps no intermediate images: a third faster when importing thousands.
    """
    if recipe is None:
        recipe = dataset_info(dataset_name).drawing_recipe
    elif fill_outlines is None:
        fill_outlines = False
    steps: list[tuple[str, np.ndarray]] = []

    def step(name: str, image: np.ndarray) -> None:
        if keep_steps:
            steps.append((name, _to_uint8(image)))

    picture = _as_pil(image)
    picture = ImageOps.exif_transpose(picture) or picture
    if keep_steps:
        steps.append(("EXIF orientation applied", np.asarray(picture.convert("RGBA"))))

    gray = _composite_to_gray(picture)
    step("alpha composited, grayscale", gray)

    ink = _ink_is_light(gray)
    if not ink:
        gray = 255.0 - gray
    step("polarity: white ink on black" + ("" if ink else " (inverted)"), gray)

    # Everything at or below the background level is background: a photo's paper is not quite black,
    # and rarely evenly lit.
    gray = np.clip(gray - _background_light(gray), 0, None)
    step("background removed, uneven light evened out", gray)
    if gray.max() < MIN_INK_CONTRAST:
        blank = "No shape to read: the image is blank or has no contrast. Draw something, or upload a clearer image."
        return PreprocessResult(None, steps, blank)
    if fills_outlines_by_default(dataset_name) if fill_outlines is None else fill_outlines:
        inside = outline_inside(gray > INK_THRESHOLD * gray.max())
        if inside is not None:
            # Filled as solid as the strokes: a drawn silhouette is what the models learn to read.
            gray = np.where(inside, gray.max(), gray)
            step("outline detected, filled", gray)

    rows, columns = np.nonzero(gray > INK_THRESHOLD * gray.max())
    cropped = gray[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    step("cropped to the ink", cropped)

    box = DIGIT_BOX if recipe is DrawingRecipe.DIGIT_BOX else IMAGE_SIDE
    scaled = _fit_into(cropped, box)
    step(f"scaled into {box}x{box}, aspect ratio kept", scaled)

    framed = _pad_to_frame(scaled)
    if recipe is DrawingRecipe.DIGIT_BOX:
        framed = _centre_by_mass(framed)
        step("centred by centre of mass, padded to 28x28", framed)
    else:
        step("centred, padded to 28x28", framed)
    # The datasets' strokes reach full intensity; so does ours.
    model_input = _to_uint8(framed * (255.0 / max(framed.max(), 1e-6)))
    return PreprocessResult(model_input, steps)


def naive_resize(image, size: int = IMAGE_SIDE) -> np.ndarray:
    """For comparison only: the whole picture squashed to 28x28 grayscale, nothing else."""
    return np.asarray(_as_pil(image).convert("L").resize((size, size), Image.Resampling.BILINEAR))


def _as_pil(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return _limited(image)
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _decode(bytes(image))
    raise ImageInputError(f"Cannot read a {type(image).__name__} as an image.")


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim not in (2, 3) or array.size == 0 or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageInputError(f"An image array must be HxW, HxWx3 or HxWx4, not {array.shape}.")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageInputError("This image is too large: use one under 40 megapixels.")
    if array.dtype != np.uint8:
        scale = 255.0 if np.issubdtype(array.dtype, np.floating) and array.max() <= 1.0 else 1.0
        array = np.clip(np.nan_to_num(array.astype(np.float64)) * scale, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return _limited(Image.fromarray(array))


def _decode(data: bytes) -> Image.Image:
    if not data:
        raise ImageInputError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImageInputError(f"The file is {len(data) / 1e6:.0f} MB; use one under {MAX_BYTES // 2**20} MB.")
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        raise ImageInputError(
            "HEIC photos cannot be read here: export it as JPEG (on an iPhone, Settings > Camera > Formats > "
            "Most Compatible) or take a screenshot of it, and upload that."
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; treat every oversized image as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            if picture.format not in ACCEPTED_FORMATS:
                raise ImageInputError(
                    f"{picture.format or 'This'} files are not supported: upload a PNG, JPEG, GIF, WebP or BMP image."
                )
            width, height = picture.size
            if width * height > (MAX_JPEG_PIXELS if picture.format == "JPEG" else MAX_PIXELS):
                raise ImageInputError(f"This image declares {width}x{height} pixels, too many: use a smaller one.")
            if picture.format == "JPEG":
                # Decode a big JPEG at reduced size straight away: much faster, and 28x28 is the goal.
                picture.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            picture.seek(0)  # the first frame of an animation
            picture.load()
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(
            "This image is far too large (a possible decompression bomb): use a smaller one."
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError("This file is not an image: upload a PNG, JPEG, GIF, WebP or BMP.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageInputError(f"This image is damaged or truncated and cannot be read ({error}).") from None
    return _limited(picture)


def _limited(picture: Image.Image) -> Image.Image:
    """Reduce a big picture to a working size (keeping its aspect ratio and mode)."""
    if max(picture.size) > WORKING_SIDE:
        # A resized copy: the caller's picture is left alone, and no second full-size image is made.
        picture = ImageOps.contain(picture, (WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
    return picture


def _composite_to_gray(picture: Image.Image) -> np.ndarray:
    """Grayscale float pixels, with any transparency laid over a background the ink stands out from."""
    if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(picture, dtype=np.float64)
        peak = values.max()
        return values * (255.0 / peak) if peak > 0 else values
    rgba = np.asarray(picture.convert("RGBA"), dtype=np.float64)
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    alpha = rgba[..., 3] / 255.0
    if alpha.min() >= 1.0:
        return gray
    # Transparent pixels take the colour the ink is not: light ink goes on black, dark ink on white.
    opaque = alpha > 0.5
    ink_level = gray[opaque].mean() if opaque.any() else 255.0
    background = 0.0 if ink_level > 127 else 255.0
    return gray * alpha + background * (1 - alpha)


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def _background_light(gray: np.ndarray) -> np.ndarray | float:
    """The background's level at every pixel: a smooth surface fitted to the border, which is background.

    One number would leave the darker side of an unevenly lit photo looking like ink. The fit is
    quadratic (a lamp to one side, a vignette) and ignores border pixels far off it (ink touching an edge).
    """
    height, width = gray.shape
    band = max(1, min(height, width) // 50)
    edge = np.zeros(gray.shape, dtype=bool)
    edge[:band], edge[-band:], edge[:, :band], edge[:, -band:] = True, True, True, True
    values = gray[edge]
    if np.ptp(values) == 0:  # a canvas: one flat background
        return float(values[0])
    rows, columns = np.nonzero(edge)
    y, x = 2 * rows / max(height - 1, 1) - 1, 2 * columns / max(width - 1, 1) - 1
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    kept = np.ones(len(values), dtype=bool)
    for _ in range(3):
        weights = np.linalg.lstsq(design[kept], values[kept], rcond=None)[0]
        residuals = values - design @ weights
        spread = 1.4826 * float(np.median(np.abs(residuals[kept]))) + 1.0
        kept = np.abs(residuals) < 3 * spread
    y, x = np.linspace(-1, 1, height)[:, np.newaxis], np.linspace(-1, 1, width)[np.newaxis, :]  # as above
    constant, slope_x, slope_y, curve_x, twist, curve_y = weights
    # Within the paper's grain of the surface is still background.
    grain = 3 * 1.4826 * float(np.median(np.abs(residuals[kept])))
    return constant + grain + slope_x * x + slope_y * y + curve_x * x * x + twist * x * y + curve_y * y * y


def _ink_is_light(gray: np.ndarray) -> bool:
    """Light ink on a dark background, judged by the border, which is background in any sensible picture."""
    return float(np.median(_border(gray))) < 128


def _fit_into(image: np.ndarray, box: int) -> np.ndarray:
    height, width = image.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS))


def _pad_to_frame(image: np.ndarray) -> np.ndarray:
    frame = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float64)
    height, width = image.shape
    top, left = (IMAGE_SIDE - height) // 2, (IMAGE_SIDE - width) // 2
    frame[top : top + height, left : left + width] = np.clip(image, 0, None)
    return frame


def _centre_by_mass(frame: np.ndarray) -> np.ndarray:
    """Shift by whole pixels so the centre of mass sits where MNIST's do: at pixel (14, 14)."""
    row, column = ndimage.center_of_mass(frame)
    shift = (round(MNIST_CENTRE - row), round(MNIST_CENTRE - column))
    return ndimage.shift(frame, shift, order=0, mode="constant", cval=0.0)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
