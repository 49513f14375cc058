"""Uploads as people send them (hostile, broken, awkward or photographed) for the tests and benches."""

from __future__ import annotations

import functools
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def encode(picture: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format, **options)
    return buffer.getvalue()


def bar(width: int, height: int, canvas: int = 300, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A white rectangle of a known size on black, centred unless offset."""
    picture = Image.new("L", (canvas, canvas), 0)
    left = (canvas - width) // 2 + offset[0]
    top = (canvas - height) // 2 + offset[1]
    ImageDraw.Draw(picture).rectangle((left, top, left + width - 1, top + height - 1), fill=255)
    return picture


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def gif_declaring(side: int) -> bytes:
    """A 4x4 GIF whose logical screen claims `side` x `side` pixels."""
    data = bytearray(encode(Image.new("L", (4, 4), 255), "GIF"))
    data[6:10] = side.to_bytes(2, "little") * 2
    return bytes(data)


def photo_of_a_stroke(side: int = 8000, seed: int = 0) -> Image.Image:
    """A photo-like picture: unevenly lit, grainy paper with a thick dark pen stroke (a "1") down the middle."""
    rng = np.random.default_rng(seed)
    light = np.linspace(150, 235, side, dtype=np.float32)  # the lamp is to the right
    paper = light[np.newaxis, :] + rng.normal(0, 8, (side, side)).astype(np.float32)
    picture = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).convert("RGB")
    pen = ImageDraw.Draw(picture)
    pen.line([(side * 0.46, side * 0.15), (side * 0.52, side * 0.85)], fill=(25, 25, 40), width=side // 25)
    return picture


def photographed(image: np.ndarray, uneven: bool) -> bytes:
    """A 28x28 dataset image drawn in dark ink on grainy paper and photographed as a JPEG, evenly lit or not.

    Uneven: a lamp to the right and a dim lower-left corner, so the paper ranges from about 110 to 240.
    """
    y, x = np.mgrid[0:420, 0:500] / np.array([419, 499])[:, np.newaxis, np.newaxis]
    paper = 240 - 90 * (1 - x) - 40 * y * (1 - x) ** 2 if uneven else np.full((420, 500), 235.0)
    paper = paper + np.random.default_rng(int(image.sum())).normal(0, 6, paper.shape)  # the paper's grain
    ink = np.zeros((420, 500))
    ink[70:350, 110:390] = np.asarray(Image.fromarray(image).resize((280, 280), Image.Resampling.BILINEAR))
    page = np.clip(paper * (1 - 0.8 * ink / 255), 0, 255).astype(np.uint8)
    return encode(Image.fromarray(page).convert("RGB"), "JPEG", quality=90)


@functools.cache
def hostile_uploads() -> dict[str, bytes]:
    """Every kind of bad or awkward file the issue names, by a short description (built once: the photo is big)."""
    png, jpeg = encode(bar(40, 120), "PNG"), encode(bar(40, 120).convert("RGB"), "JPEG")
    shape = bar(40, 120)
    transparent = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    transparent.paste(Image.new("RGBA", (40, 120), (20, 20, 20, 255)), (130, 90))
    animated = io.BytesIO()
    shape.save(animated, "GIF", save_all=True, append_images=[bar(120, 40)])
    return {
        "empty file": b"",
        "PNG declaring 30000x30000": png_declaring(30_000, 30_000),
        "GIF declaring 30000x30000": gif_declaring(30_000),
        "PNG cut in half": png[: len(png) // 2],
        "JPEG cut in half": jpeg[: len(jpeg) // 2],
        "random bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "PDF renamed .png": b"%PDF-1.4\n1 0 obj << >> endobj\n" * 10,
        "PSD renamed .png": b"8BPS\x00\x01" + b"\x00" * 200,
        "TIFF renamed .png": encode(shape, "TIFF"),
        "HEIC renamed .jpg": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "CMYK JPEG": encode(shape.convert("CMYK"), "JPEG"),
        "16-bit PNG": encode(Image.fromarray(np.asarray(shape).astype(np.uint16) * 257), "PNG"),
        "palette PNG with transparency": encode(transparent.convert("P"), "PNG", transparency=0),
        "animated GIF": animated.getvalue(),
        "1x1 PNG": encode(Image.new("L", (1, 1), 255), "PNG"),
        "8000x8000 photo (JPEG)": encode(photo_of_a_stroke(), "JPEG", quality=85),
        "6000x6000 screenshot (PNG)": encode(bar(300, 4000, canvas=6000).convert("RGB"), "PNG"),
    }


# The kernel's high-water mark of this process's memory (VmHWM): unlike ru_maxrss, it starts afresh at exec
# instead of carrying the parent's peak over.
PEAK_PROBE = """
import json, re, sys
from core.preprocessing import ImageInputError, preprocess_image
def peak_kb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
data = sys.stdin.buffer.read()
before = peak_kb()
try:
    outcome = "28x28 input" if not preprocess_image(data, "mnist").is_empty else "nothing drawn"
except ImageInputError as error:
    outcome = str(error)
print(json.dumps({"outcome": outcome, "peak_growth_mb": (peak_kb() - before) / 1024}))
"""


def peak_memory_of_preprocessing(data: bytes) -> dict:
    """Handle `data` once in a fresh process; its outcome and how far the process's peak memory rose.

    The peak resident size counts Pillow's own buffers, which tracemalloc cannot see.
    """
    completed = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE], input=data, capture_output=True, cwd=ROOT, check=True, timeout=120
    )
    return json.loads(completed.stdout.decode().strip().splitlines()[-1])
