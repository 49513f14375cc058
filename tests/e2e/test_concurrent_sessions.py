"""Three people at once on one server: two train (the second waits its turn), one keeps predicting."""

from __future__ import annotations

import io
import re

from browser_steps import save_screenshot, saved_run_id, start_quick_run
from PIL import Image
from playwright.sync_api import Page, expect

from core.datasets import load_dataset
from core.runs.store import RunStore

RUNNING = re.compile(r"Running: epoch \d+ of 200")
# Three tabs redrawing live charts share this machine's two cores with the server: allow for it.
SLOW = 60_000


def start_training(page: Page, dropout_steps: int = 0) -> None:
    page.goto(f"{page.app_url}/train")
    expect(page.get_by_role("heading", name="Train a CNN on MNIST")).to_be_visible(timeout=SLOW)
    # 200 epochs is far more than the test lasts: it stops both runs itself.
    start_quick_run(page, epochs=200, dropout_steps=dropout_steps, timeout=SLOW)


def upload_digit(page: Page, index: int) -> None:
    digit = load_dataset("mnist").x_test[index]
    buffer = io.BytesIO()
    Image.fromarray(digit).resize((112, 112)).save(buffer, "PNG")
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.set_input_files(files=[{"name": f"digit{index}.png", "mimeType": "image/png", "buffer": buffer.getvalue()}])
    expect(page.get_by_text(f"Prediction for the uploaded file digit{index}.png")).to_be_visible(timeout=SLOW)


def test_two_trainings_queue_and_predictions_keep_flowing(browser, app_url, runs_dir):
    contexts = [browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(3)]
    first, second, predictor = (context.new_page() for context in contexts)
    for tab in (first, second, predictor):
        tab.set_default_timeout(60_000)
        tab.app_url = app_url
    try:
        start_training(first)
        expect(first.get_by_text(RUNNING)).to_be_visible(timeout=SLOW)
        start_training(second, dropout_steps=5)  # 0.25 -> 0.5: its run must keep its own settings
        expect(second.get_by_text(re.compile(r"Waiting in the queue: position 1"))).to_be_visible(timeout=SLOW)

        predictor.goto(f"{app_url}/predict")
        predictor.get_by_role("tab", name="Upload an image").click()
        for index in range(4):  # while one model trains and another waits, predictions still come back
            upload_digit(predictor, index)
        expect(first.get_by_text(RUNNING)).to_be_visible(timeout=SLOW)  # and the first run was never interrupted

        first.get_by_role("button", name="Stop").click()
        expect(first.get_by_text("Stopped early")).to_be_visible(timeout=SLOW)
        expect(second.get_by_text(RUNNING)).to_be_visible(timeout=SLOW)  # its turn came
        second.get_by_role("button", name="Stop").click()
        expect(second.get_by_text("Stopped early")).to_be_visible(timeout=SLOW)

        first_id, second_id = saved_run_id(first), saved_run_id(second)
        assert first_id != second_id, "each session saved its own run"
        store = RunStore(runs_dir)
        assert store.get(first_id).config["model"]["dropout"] == 0.25
        assert store.get(second_id).config["model"]["dropout"] == 0.5
        upload_digit(predictor, 4)  # two sessions trained, but this one still predicts with the model it had
        expect(predictor.get_by_text("Predicting with the starter model")).to_be_visible()
        for tab in (first, second, predictor):
            expect(tab.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        for name, tab in zip(("first", "second", "predictor"), (first, second, predictor), strict=True):
            save_screenshot(tab, f"concurrent_{name}")
        for context in contexts:
            context.close()
