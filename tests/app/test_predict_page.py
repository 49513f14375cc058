"""The Predict page through AppTest: the starter model, uploads good and bad, and the steps shown."""

from __future__ import annotations

import io

import numpy as np
import pytest
import streamlit as st
from app_driver import open_app, probability_bars
from PIL import Image

from app_pages.quick_canvas import COMPONENT_ID
from core.datasets import forget_loaded_datasets, load_dataset
from core.inference import Predictor
from core.preprocessing import preprocess_image
from core.pretrained import load_pretrained, pretrained_model


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()
    forget_loaded_datasets()
    app = open_app("predict")
    assert not app.exception
    yield app
    st.cache_resource.clear()


def photo_of(digit: np.ndarray) -> bytes:
    """A test digit as a user might photograph it: big, off-centre, dark on white, JPEG."""
    page = Image.new("L", (400, 360), 255)
    page.paste(Image.fromarray(255 - digit).resize((240, 240)), (130, 60))
    buffer = io.BytesIO()
    page.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_newcomer_gets_the_starter_model_and_an_invitation(app):
    assert "starter model" in " ".join(caption.value for caption in app.caption)
    assert any("Draw something, or upload an image" in info.value for info in app.info)
    # The sidebar says what answers while no run is picked, rather than "None yet".
    picker = app.sidebar.selectbox(key="active_run_id")
    assert picker.value is None
    assert picker.proto.placeholder == f"The starter model · {100 * pretrained_model('mnist').test_accuracy:.1f} %"


def test_the_canvas_is_the_copy_that_sends_a_stroke_without_the_stock_wait(app):
    [canvas] = app.get("bidi_component")
    assert canvas.proto.component_name == COMPONENT_ID


def test_a_second_app_in_the_same_process_gets_the_copy_registered_with_its_own_server(app):
    # Each server (here each AppTest) has its own component registry; the copy must be known to both.
    other = open_app("predict")
    assert not other.exception
    [canvas] = other.get("bidi_component")
    assert canvas.proto.component_name == COMPONENT_ID


def test_an_uploaded_digit_is_predicted_with_its_steps_shown(app):
    digit = load_dataset("mnist").x_test[0]
    data = photo_of(digit)
    app.file_uploader(key="upload").upload("digit.jpg", data, "image/jpeg").run()
    assert not app.exception
    expected = Predictor(load_pretrained("mnist")).probabilities(preprocess_image(data, "mnist").model_input)
    answer = load_dataset("mnist").class_names[int(expected.argmax())]
    shown = " ".join(alert.value for alert in [*app.success, *app.info, *app.warning])
    assert f"**{answer}**" in shown
    bars = probability_bars(app)  # every class, in class order, with the model's probabilities
    assert list(bars) == list(load_dataset("mnist").class_names)
    np.testing.assert_allclose(list(bars.values()), expected, atol=1e-5)
    steps = [image for image in app.image if "cropped to the ink" in " ".join(image.captions)]
    assert steps, "the preprocessing steps are shown"
    assert any("Where it looked (HiResCAM)" in image.captions for image in app.image)
    why = app.selectbox(key=f"why_class_{int(expected.argmax())}")
    assert why.value == int(expected.argmax())
    before = next(image for image in app.image if "Where it looked (HiResCAM)" in image.captions)
    why.select(int(np.argsort(expected)[-2])).run()  # the evidence for the runner-up instead
    after = next(image for image in app.image if "Where it looked (HiResCAM)" in image.captions)
    assert not app.exception and after.proto.imgs[0].url != before.proto.imgs[0].url
    # The Inside page gets the very pixels the model judged.
    handed_over = app.session_state["last_input"]
    assert handed_over.dataset == "mnist" and handed_over.origin == "the uploaded file digit.jpg"
    np.testing.assert_array_equal(handed_over.image, preprocess_image(data, "mnist").model_input)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.png", b"these are not the pixels you are looking for", "not an image"),
        ("cut.png", None, "damaged or truncated"),
    ],
)
def test_a_broken_upload_gets_a_message_and_the_page_keeps_working(app, name, data, message):
    if data is None:
        buffer = io.BytesIO()
        Image.new("L", (200, 200), 128).save(buffer, "PNG")
        data = buffer.getvalue()[:60]
    app.file_uploader(key="upload").upload(name, data, "image/png").run()
    assert not app.exception
    assert any(message in error.value for error in app.error)
    good = photo_of(load_dataset("mnist").x_test[1])
    app.file_uploader(key="upload").upload("digit.jpg", good, "image/jpeg").run()
    assert not app.exception and not app.error
    assert app.success or app.info or app.warning
