"""Circles, squares and triangles as a person draws them on the 280x280 canvas, with jitter.

Used three ways, so all three see the same shapes: the e2e test draws them with the mouse, the
unit tests and bench/custom_accuracy.py render them with PIL as the canvas would (white brush on
black, round ends).
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")
CANVAS_SIDE = 280
BRUSH = 22  # the canvas' default brush on the Predict and Your data pages

Stroke = list[tuple[int, int]]


def shape_strokes(shape: str, rng: np.random.Generator) -> list[Stroke]:
    """One closed stroke of `shape`, its size, place and corners jittered as a hand would."""
    size = rng.uniform(60, 95)  # half the shape's width, in canvas pixels: it stays on the canvas
    cx, cy = rng.uniform(125, 155, size=2)
    turn = rng.uniform(-0.15, 0.15)  # radians: a slightly tilted drawing
    if shape == "circle":
        angles = np.linspace(0, 2 * math.pi, 33) + rng.uniform(0, 2 * math.pi)
        corners = [(math.cos(a), math.sin(a)) for a in angles]
    elif shape == "square":
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    elif shape == "triangle":
        corners = [(0, -1), (1, 0.8), (-1, 0.8), (0, -1)]
    else:
        raise ValueError(f"Unknown shape {shape!r}.")
    points = []
    for x, y in corners:
        x, y = x + rng.normal(0, 0.04), y + rng.normal(0, 0.04)
        rx, ry = x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)
        points.append((round(cx + size * rx), round(cy + size * ry)))
    points[-1] = points[0]  # closed
    return [points]


def render_strokes(strokes: list[Stroke], brush: int = BRUSH) -> np.ndarray:
    """The canvas' RGBA pixels after drawing `strokes`: a white brush with round ends on black."""
    picture = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    pen = ImageDraw.Draw(picture)
    for stroke in strokes:
        pen.line(stroke, fill=(255, 255, 255, 255), width=brush, joint="curve")
        for x, y in stroke:
            pen.ellipse([x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2], fill=(255, 255, 255, 255))
    return np.asarray(picture)


def shape_png(shape: str, rng: np.random.Generator) -> bytes:
    """A drawn shape as the PNG a person might save from a drawing program."""
    buffer = io.BytesIO()
    Image.fromarray(render_strokes(shape_strokes(shape, rng))).save(buffer, "PNG")
    return buffer.getvalue()
