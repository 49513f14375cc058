"""Predict page: draw or upload an image and see what the model thinks, and what it was fed."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.canvas import drawing_canvas
from app_pages.resources import ACTIVE_RUN_KEY, load_run_model, run_store
from app_pages.sidebar import require_dataset
from core.datasets import Dataset
from core.figures.prediction import probability_figure
from core.inference import UNSURE_BELOW, Predictor, top_classes
from core.preprocessing import ImageInputError, PreprocessResult, naive_resize, preprocess_image
from core.pretrained import PretrainedError, load_pretrained, pretrained_model
from core.runs.store import RunStoreError

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "webp", "bmp"]


@st.cache_resource(show_spinner="Preparing the model…", max_entries=6)
def run_predictor(run_id: str, model_sha256: str) -> Predictor:
    return Predictor(load_run_model(run_id, model_sha256))


@st.cache_resource(show_spinner="Preparing the starter model…", max_entries=2)
def starter_predictor(dataset_name: str, model_sha256: str) -> Predictor:
    return Predictor(load_pretrained(dataset_name))


def choose_predictor(dataset: Dataset) -> tuple[Predictor, str] | None:
    """The active run's model, or the shipped starter model until the user picks one of theirs."""
    run_id = st.session_state.get(ACTIVE_RUN_KEY)
    try:
        if run_id:
            run = run_store().get(run_id)
            return run_predictor(
                run.run_id, run.model_sha256
            ), f"your run `{run.run_id}` ({run.name or run.architecture})"
        starter = pretrained_model(dataset.name)
        label = (f"the starter model ({100 * starter.test_accuracy:.1f} % test accuracy, trained on the "
                 f"{starter.trained_on}); train your own to replace it")  # fmt: skip
        return starter_predictor(dataset.name, starter.sha256), label
    except (RunStoreError, PretrainedError) as error:
        st.error(f"No model to predict with: {error}")
        return None


def read_input(dataset: Dataset) -> tuple[object | None, str]:
    """The user's drawing or upload, and where it came from."""
    draw, upload = st.tabs(["Draw", "Upload an image"])
    with draw:
        hint = "a digit" if dataset.name == "mnist" else "a piece of clothing (a T-shirt, a shoe, a bag…)"
        st.caption(f"Draw {hint}, white on black. Undo and clear are in the toolbar above the canvas.")
        brush = st.slider("Brush width", 8, 40, 22, key="brush_width")
        drawing = drawing_canvas(f"canvas_{dataset.name}", brush)
    with upload:
        file = st.file_uploader("PNG, JPEG, GIF, WebP or BMP, any size", type=UPLOAD_TYPES, key="upload")
    if file is not None:
        return file.getvalue(), f"the uploaded file {file.name}"
    return drawing, "your drawing"


def on_black_square(image: np.ndarray) -> np.ndarray:
    """A grayscale step padded to a square, so a thin crop is shown with its true proportions."""
    if image.ndim != 2:
        return image
    side = max(image.shape)
    square = np.zeros((side, side), dtype=image.dtype)
    top, left = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
    square[top : top + image.shape[0], left : left + image.shape[1]] = image
    return square


def render_steps(result: PreprocessResult, original, show_naive: bool) -> None:
    with st.expander("What the network sees: every preprocessing step", expanded=True):
        images = [on_black_square(image) for _, image in result.steps]
        st.image(images, caption=[name for name, _ in result.steps], width=110, clamp=True)
        if show_naive and result.model_input is not None:
            left, right = st.columns(2)
            left.image(result.model_input, caption="MNIST-style preprocessing (what the model gets)", width=140)
            right.image(naive_resize(original), caption="naive resize to 28x28, for comparison", width=140)


def render_prediction(dataset: Dataset, probabilities: np.ndarray) -> None:
    best = top_classes(probabilities)
    label, confidence = dataset.class_names[best[0][0]], best[0][1]
    if confidence < UNSURE_BELOW:
        st.warning(f"Not sure. Best guess: **{label}** at {100 * confidence:.0f} %.", icon=":material/help:")
    else:
        st.success(f"**{label}** ({100 * confidence:.1f} % confident)", icon=":material/check_circle:")
    st.markdown(" · ".join(f"{dataset.class_names[c]} {100 * p:.1f} %" for c, p in best))
    st.plotly_chart(probability_figure(probabilities, dataset.class_names), key="probabilities")


def render() -> None:
    dataset = require_dataset()
    st.title("Predict")
    chosen = choose_predictor(dataset)
    if chosen is None:
        return
    predictor, model_label = chosen
    st.caption(f"Predicting with {model_label}.")
    left, right = st.columns([1, 1], gap="large")
    with left:
        source, origin = read_input(dataset)
        fill = dataset.name == "fashion_mnist" and st.toggle(
            "Fill closed outlines", key="fill_outlines", help="Fashion-MNIST items are solid silhouettes."
        )
        show_naive = st.toggle("Compare with a naive resize", key="show_naive")
    with right:
        if source is None:
            st.info("Draw something, or upload an image, to see a prediction.")
            return
        try:
            result = preprocess_image(source, dataset.name, fill_outlines=bool(fill))
        except ImageInputError as error:
            st.error(f"{error}", icon=":material/broken_image:")
            return
        if result.is_empty:
            st.info(result.message)
            return
        st.caption(f"Prediction for {origin}:")
        render_prediction(dataset, predictor.probabilities(result.model_input))
    render_steps(result, source, show_naive)


render()
