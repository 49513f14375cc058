"""Clothing drawn with the mouse as plain outlines is read right by the shipped Fashion-MNIST starter."""

from __future__ import annotations

import itertools

import pytest
from browser_steps import ANSWER, save_screenshot, top_answer, wait_for_rerun
from clothing_strokes import CLOTHING_STROKES
from playwright.sync_api import Page, expect


def draw_strokes(page: Page, strokes: list[list[tuple[int, int]]]) -> None:
    canvas = page.locator("canvas").first
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            for step in range(1, 9):  # a hand moves through the points between corners
                page.mouse.move(box["x"] + x0 + (x1 - x0) * step / 8, box["y"] + y0 + (y1 - y0) * step / 8)
        page.mouse.up()


@pytest.mark.parametrize("item", list(CLOTHING_STROKES), ids=lambda item: item.split("/")[0])
def test_a_drawn_outline_of_clothing_is_read_right(page: Page, item: str):
    page.goto(f"{page.app_url}/predict")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Dataset").click()
    page.get_by_role("option", name="Fashion-MNIST").first.click()
    expect(page.get_by_text("Draw a piece of clothing")).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()
    wait_for_rerun(page)
    draw_strokes(page, CLOTHING_STROKES[item])
    answer = page.locator('[data-testid="stAlert"]').filter(has_text=ANSWER).first
    expect(answer).to_be_visible()
    expect(page.get_by_text("Prediction for your drawing")).to_be_visible()
    wait_for_rerun(page)
    save_screenshot(page, f"drawn_{item.split('/')[0].lower().replace(' ', '_')}")
    expect(answer).to_contain_text(top_answer(item.split("/")[0]))
