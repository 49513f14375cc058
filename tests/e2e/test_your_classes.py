"""Your own classes in Chromium: draw circles, squares and triangles with the mouse, train, and read a new one.

The shapes (tests/shape_strokes.py) are jittered in place, size and tilt but clearly different, and
bench/custom_accuracy.py measures the same drawings at 100 % on 30 held-out ones with this recipe,
so the last step never needs luck.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable

import numpy as np
from browser_steps import ANSWER, save_screenshot, saved_run_id, top_answer, wait_for_rerun
from playwright.sync_api import Page, expect
from shape_strokes import SHAPES, shape_strokes

PER_CLASS = 10
# A busy 2-core machine can take seconds to send a drawing and rerun the page.
SENT_WITHIN_S = 60


def draw(page: Page, strokes: list[list[tuple[int, int]]]) -> None:
    """Mouse strokes on the page's canvas, moving through the points between corners as a hand does."""
    # One canvas whose drawing layer is ready: not one being replaced by the next round's blank canvas.
    expect(page.locator("canvas.upper-canvas")).to_have_count(1)
    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            # A move every 40 pixels or so: a square's long sides get several, a circle's short arcs one
            # (each move waits for the canvas to draw it, tens of milliseconds on a busy machine).
            steps = max(1, math.ceil(math.dist((x0, y0), (x1, y1)) / 40))
            for step in range(1, steps + 1):
                page.mouse.move(box["x"] + x0 + (x1 - x0) * step / steps, box["y"] + y0 + (y1 - y0) * step / steps)
        page.mouse.up()


def add_class(page: Page, name: str) -> None:
    field = page.get_by_label("New class")
    field.fill(name)
    field.press("Enter")
    wait_for_rerun(page)
    page.get_by_role("button", name="Add class").click()
    # The class's grid is drawn after the canvas: once it shows, the canvas is on the page.
    expect(page.get_by_text(f"{name}: 0 drawings")).to_be_visible()
    expect(page.get_by_role("button", name=f"Add this drawing to {name}")).to_be_visible()


def canvas_has_ink(page: Page) -> bool:
    """Whether the canvas' drawing layer holds any stroke: any bright pixel (the brush is white on black)."""
    return page.locator("canvas.dc-canvas.lower-canvas").first.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 0 && v > 128)"
    )


def draw_until_sent(page: Page, strokes: list[list[tuple[int, int]]], sent: Callable[[], bool]) -> None:
    """Draw, and wait until the canvas has sent the drawing (`sent()` turns true).

    A canvas that has only just appeared can still be loading its (empty) starting drawing, and then
    wipes a stroke drawn into it (streamlit-drawable-canvas 0.13 loads it asynchronously on its first
    render). That is seen, not guessed: the drawing layer is blank again, and the same strokes are
    drawn once more. A drawing that stays on the canvas but never arrives is a failure.
    """
    draw(page, strokes)
    redrawn = False
    deadline = time.monotonic() + SENT_WITHIN_S
    while not sent():
        if not canvas_has_ink(page):
            assert not redrawn, "the canvas wiped the same drawing twice"
            redrawn = True
            draw(page, strokes)
        assert time.monotonic() < deadline, f"a drawing on the canvas was not sent within {SENT_WITHIN_S} s"
        page.wait_for_timeout(100)


def draw_examples(page: Page, name: str, rng: np.random.Generator) -> None:
    add = page.get_by_role("button", name=f"Add this drawing to {name}")
    for index in range(PER_CLASS):
        wait_for_rerun(page)
        draw_until_sent(page, shape_strokes(name, rng), add.is_enabled)
        wait_for_rerun(page)
        add.click()
        expect(page.get_by_text(re.compile(rf"^{name}: {index + 1} drawings?"))).to_be_visible()


def test_three_drawn_classes_train_and_a_new_drawing_is_read_right(page: Page):
    page.goto(f"{page.app_url}/your_data")
    expect(page.get_by_role("heading", name="Your data")).to_be_visible(timeout=60_000)
    # The Draw and Upload tabs each have a name field; the Upload tab's is hidden.
    name_field = page.get_by_role("tabpanel", name="Draw").get_by_label("Dataset name")
    name_field.fill("Drawn shapes")
    name_field.press("Enter")
    wait_for_rerun(page)
    rng = np.random.default_rng(2026)
    for shape in SHAPES:
        add_class(page, shape)
        draw_examples(page, shape, rng)
    save_screenshot(page, "your_classes_drawn")

    page.get_by_role("button", name="Save as a dataset").click()
    expect(page.get_by_text("Saved Drawn shapes: 24 drawings to train on and 6 to test.")).to_be_visible()
    page.get_by_role("button", name="Train on drawn-shapes").click()
    # The Train page loads TensorFlow on its first visit: slow on a busy 2-core machine.
    expect(page.get_by_text("For a few dozen drawings of your own classes")).to_be_visible(timeout=120_000)
    wait_for_rerun(page)
    page.get_by_role("button", name="Train", exact=True).click()
    run_id = saved_run_id(page, timeout=240_000)
    # Trained here, it became the active model as it finished: Predict answers with it.
    expect(page.get_by_text("It is the active model")).to_be_visible()

    page.get_by_role("link", name="Predict").click()
    expect(page.get_by_text("Draw one of your classes (circle, square, triangle)")).to_be_visible()
    wait_for_rerun(page)
    answer = page.locator('[data-testid="stAlert"]').filter(has_text=ANSWER).first
    draw_until_sent(page, shape_strokes("triangle", np.random.default_rng(7)), answer.is_visible)
    wait_for_rerun(page)
    save_screenshot(page, f"your_classes_predicted_{run_id}")
    expect(answer).to_contain_text(top_answer("triangle"))
