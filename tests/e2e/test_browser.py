"""What a person sees in Chromium: datasets, a live training run, the confusion matrix, drawing and uploads."""

from __future__ import annotations

import dataclasses
import io
import json
import re

import pytest
from browser_steps import ANSWER, save_screenshot, saved_run_id, start_quick_run, wait_for_rerun
from factories import make_training_result
from PIL import Image
from playwright.sync_api import Page, expect

from app_pages.quick_canvas import COMPONENT_ID, QUICK_SEND_DELAY_JS
from core import pretrained
from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import load_dataset
from core.runs.store import RunStore


def open_page(page: Page, path: str, heading: str) -> None:
    page.goto(f"{page.app_url}/{path}")
    expect(page.get_by_role("heading", name=heading).first).to_be_visible()


def pick(page: Page, label: str, option: str) -> None:
    """Choose an option of a sidebar select box by its label."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option).first.click()


def test_each_dataset_can_be_picked_and_explored(page: Page):
    open_page(page, "", "MNIST: the data")
    expect(page.get_by_text("embedded sample of MNIST").first).to_be_visible()
    pick(page, "Dataset", "Fashion-MNIST")
    expect(page.get_by_role("heading", name="Fashion-MNIST: the data")).to_be_visible()
    page.get_by_role("tab", name="Mean images").click()
    expect(page.get_by_text("Ankle boot").filter(visible=True).first).to_be_visible()


def test_a_training_run_moves_live_takes_a_live_change_and_stops(page: Page):
    open_page(page, "train", "Train a CNN on MNIST")
    start_quick_run(page, epochs=30)
    progress = page.get_by_text(re.compile(r"Running: epoch \d+ of 30, batch \d+"))
    expect(progress).to_be_visible()
    first = progress.inner_text()
    expect(page.get_by_text(re.compile(r"Running: epoch \d+ of 30, batch \d+"))).not_to_have_text(first)
    expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()

    slider = page.get_by_role("slider", name="Dropout rate (live)")
    slider.focus()
    slider.press("ArrowLeft")  # 0.25 -> 0.20
    expect(page.get_by_text(re.compile(r"Live changes: dropout: 0\.25 (->|→) 0\.2"))).to_be_visible()

    # The controls are a fragment of their own: a click there redraws them, not the once-a-second panel.
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text(re.compile(r"Paused: epoch \d+ of 30"))).to_be_visible()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text(re.compile(r"Running: epoch \d+ of 30"))).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Stopped early")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Saved as run"))).to_be_visible()


@pytest.fixture
def digit_reader(runs_dir) -> str:
    """A finished MNIST run in the app's runs folder holding the starter's weights: a model that reads digits."""
    starter = pretrained.load_pretrained("mnist")
    manifest = json.loads((pretrained.PRETRAINED_DIR / pretrained.MANIFEST).read_text())
    spec = ModelSpec.from_dict(manifest["mnist"]["model"])
    result = dataclasses.replace(make_training_result(0), spec=spec, model=starter)
    store = RunStore(runs_dir)
    run_id = store.save(result, load_dataset("mnist").source)
    store.rename(run_id, f"digit reader {run_id}", by=LOCAL)
    return run_id


def test_a_confusion_matrix_cell_opens_its_images(page: Page, digit_reader: str):
    open_page(page, "evaluate", "Evaluate")
    pick(page, "Active model", f"digit reader {digit_reader}")
    page.get_by_role("tab", name="Confusion matrix").click()
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="predicted class").first
    expect(chart).to_be_visible()
    cell = chart.locator(".scatterlayer .point").nth(0)  # true 0, predicted 0: never empty on digits
    box = cell.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_text("most confident first")).to_be_visible()
    expect(page.get_by_text(re.compile(r"true 0 · said 0")).first).to_be_visible()


def test_drawing_a_digit_with_the_mouse_gives_a_prediction_and_its_steps(page: Page):
    scripts: list[str] = []
    page.on("request", lambda request: scripts.append(request.url) if request.url.endswith(".js") else None)
    open_page(page, "predict", "Predict")
    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 140, y + 40)
    page.mouse.down()
    for step in range(30):  # a vertical stroke: a "1"
        page.mouse.move(x + 140, y + 40 + step * 7)
    page.mouse.up()
    expect(page.get_by_text(ANSWER).first).to_be_visible()
    expect(page.get_by_text("cropped to the ink")).to_be_visible()
    expect(page.get_by_text("Prediction for your drawing")).to_be_visible()
    # The canvas came from the app's copy with the short send delay (app_pages/canvas.py), not the stock build.
    [canvas_script] = [url for url in scripts if f"/_stcore/bidi-components/{COMPONENT_ID}/" in url]
    assert QUICK_SEND_DELAY_JS in page.request.get(canvas_script).text()


def test_uploads_good_and_broken_keep_the_app_working(page: Page):
    open_page(page, "predict", "Predict")
    page.get_by_role("tab", name="Upload an image").click()
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')

    upload.set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n broken"}]
    )
    expect(page.get_by_text(re.compile("damaged or truncated|not an image"))).to_be_visible()

    digit = load_dataset("mnist").x_test[0]
    photo = Image.new("L", (300, 300), 255)
    photo.paste(Image.fromarray(255 - digit).resize((200, 200)), (60, 40))
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    upload.set_input_files(files=[{"name": "digit.png", "mimeType": "image/png", "buffer": buffer.getvalue()}])
    expect(page.get_by_text("Prediction for the uploaded file digit.png")).to_be_visible()
    expect(page.get_by_text(ANSWER).first).to_be_visible()
    expect(page.get_by_text(re.compile("damaged or truncated|not an image"))).to_have_count(0)


def test_a_drawing_is_looked_at_inside_the_model(page: Page):
    open_page(page, "predict", "Predict")
    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 90, box["y"] + 60)
    page.mouse.down()
    for step in range(25):  # a "7": across, then down to the left
        page.mouse.move(box["x"] + 90 + step * 4, box["y"] + 60)
    for step in range(25):
        page.mouse.move(box["x"] + 190 - step * 3, box["y"] + 60 + step * 7)
    page.mouse.up()
    expect(page.get_by_text("Where it looked (HiResCAM)")).to_be_visible()
    page.get_by_role("link", name="Look inside the model").click()
    expect(page.get_by_role("heading", name="Inside the model")).to_be_visible()
    expect(page.get_by_text("Your input on Predict (your drawing)")).to_be_visible()
    expect(page.get_by_text(re.compile(r"For your drawing, the model says"))).to_be_visible()
    expect(page.get_by_text("conv_1: 28 x 28 x 16 channels")).to_be_visible()
    page.get_by_text("Where it looks", exact=True).click()
    expect(page.get_by_text("laid over the input")).to_be_visible()
    page.get_by_text("Embeddings", exact=True).click()
    expect(page.get_by_text("your input", exact=True).first).to_be_visible()
    expect(page.get_by_text("Nearest training images")).to_be_visible()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_a_finished_run_is_listed_overlaid_and_made_active(page: Page):
    open_page(page, "train", "Train a CNN on MNIST")
    start_quick_run(page, epochs=1)
    run_id = saved_run_id(page)
    # Trained here, it became the active model as it finished: Predict answers with it, not the starter.
    expect(page.get_by_text("It is the active model")).to_be_visible()

    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_text("Select rows to overlay their curves")).to_be_visible()
    table = page.locator('[data-testid="stDataFrame"]').first
    # Other tests' runs share the store and may finish later: search for this one so it is the only row.
    search = page.get_by_label("Search names and tags")
    search.fill(run_id)
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"^Showing 1 of \d+ runs?\."))).to_be_visible()
    wait_for_rerun(page)
    expect(table.locator("canvas").first).to_be_visible()  # the grid is drawn and takes clicks
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the only row's tick box
    # Unnamed, it is called by what tells it apart; its id is said beside it.
    label = re.compile(r"^Run compact · dropout [\d.]+ · \d+ \w{3} \d\d:\d\d")
    expect(page.get_by_role("heading", name=label)).to_be_visible()
    expect(page.locator('[data-testid="stMain"]').get_by_text(run_id)).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(1)
    expect(page.get_by_role("button", name="Active model", exact=True)).to_be_disabled()
    save_screenshot(page, "runs_page")

    page.get_by_role("link", name="Evaluate").click()
    expect(page.get_by_role("heading", name="Evaluate").first).to_be_visible()
    expect(page.locator('[data-testid="stMain"]').get_by_text(run_id)).to_be_visible()  # it is the one evaluated
    expect(page.get_by_text("Too early to tell")).to_be_visible()  # one epoch: no verdict on its fit
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
