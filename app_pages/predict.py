"""Predict page: draw or upload an image and see what the model thinks, and what it was fed."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.canvas import DEFAULT_BRUSH_WIDTH, drawing_canvas
from app_pages.insight_cache import class_heatmap, enlarge, heatmap_methods
from app_pages.resources import ACTIVE_RUN_KEY, LAST_INPUT_KEY, ChosenModel, LastInput, choose_model
from app_pages.runs_export import choose_answer_format, render_exported_answer
from app_pages.sidebar import require_dataset
from app_pages.wording import STEADY_READING_WORDS
from core.datasets import Dataset
from core.export import FormatResult
from core.figures.prediction import probability_bars_html
from core.figures.steps import STEP_SIDE, step_thumbnail
from core.inference import answer_certainty, top_classes
from core.insight.probes import ensemble_members
from core.insight.saliency import overlay
from core.preprocessing import (
    ImageInputError,
    PreprocessResult,
    fills_outlines_by_default,
    naive_resize,
    preprocess_image,
)

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "webp", "bmp"]
STEADY_HELP = f"Read steadily: {STEADY_READING_WORDS}, so a drawing placed a little off does not swing the answer."


def read_input(dataset: Dataset) -> tuple[object | None, str]:
    """The user's drawing or upload, and where it came from."""
    draw, upload = st.tabs(["Draw", "Upload an image"])
    with draw:
        hint = "a digit" if dataset.name == "mnist" else "a piece of clothing (a T-shirt, a shoe, a bag…)"
        if dataset.info.custom:
            hint = f"one of your classes ({', '.join(dataset.class_names)})"
        # The canvas shows its toolbar only while pointed at (it is pinned only without real-time updates).
        st.caption(
            f"Draw {hint}, white on black. Undo and clear are in the toolbar that appears above the canvas "
            "when you point at it."
        )
        brush = st.slider("Brush width", 8, 40, DEFAULT_BRUSH_WIDTH, key="brush_width")
        drawing = drawing_canvas(f"canvas_{dataset.name}", brush)
    with upload:
        file = st.file_uploader("PNG, JPEG, GIF, WebP or BMP, up to 32 MB", type=UPLOAD_TYPES, key="upload")
    if file is not None:
        return file.getvalue(), f"the uploaded file {file.name}"
    return drawing, "your drawing"


def render_steps(result: PreprocessResult, original, show_naive: bool) -> None:
    with st.expander("What the network sees: every preprocessing step", expanded=True):
        images = [step_thumbnail(image) for _, image in result.steps]
        st.image(images, caption=[name for name, _ in result.steps], width=STEP_SIDE)
        if show_naive and result.model_input is not None:
            left, right = st.columns(2)
            left.image(enlarge(result.model_input, 5), caption="MNIST-style preprocessing (what the model gets)")
            right.image(enlarge(naive_resize(original), 5), caption="naive resize to 28x28, for comparison")


def render_prediction(dataset: Dataset, probabilities: np.ndarray) -> None:
    best = top_classes(probabilities)
    label, confidence = dataset.class_names[best[0][0]], best[0][1]
    certainty = answer_certainty(confidence)
    if certainty == "unsure":
        st.warning(f"Not sure. Best guess: **{label}** at {100 * confidence:.0f} %.", icon=":material/help:")
    elif certainty == "probable":
        runner_up, chance = dataset.class_names[best[1][0]], best[1][1]
        st.info(
            f"Probably **{label}** ({100 * confidence:.1f} %), maybe {runner_up} at {100 * chance:.0f} %.",
            icon=":material/help_outline:",
        )
    else:
        st.success(f"**{label}** ({100 * confidence:.1f} % confident)", icon=":material/check_circle:")
    st.markdown(" · ".join(f"{dataset.class_names[c]} {100 * p:.1f} %" for c, p in best), help=STEADY_HELP)
    st.markdown(probability_bars_html(probabilities, dataset.class_names), unsafe_allow_html=True)


def render_why(dataset: Dataset, chosen: ChosenModel, model_input: np.ndarray, probabilities: np.ndarray) -> None:
    """Where the model found its evidence for its answer (or a class the user picks), laid over the input."""
    order = [int(i) for i in np.argsort(probabilities)[::-1]]
    names = dataset.class_names
    left, right = st.columns([1, 2])
    # Keyed by the answer, so a new drawing with a new answer shows the evidence for that answer again.
    target = right.selectbox(
        "Evidence for",
        order,
        key=f"why_class_{order[0]}",
        format_func=lambda i: f"{names[i]} ({100 * probabilities[i]:.1f} %)",
    )
    method = heatmap_methods(chosen.model)[0]
    heatmap = class_heatmap(chosen.key, chosen.model, model_input, target, method)
    # An ensemble's heatmap comes from its first member (core.insight.probes.inspected_model): say so.
    looked = "Where its first member looked" if ensemble_members(chosen.model) else "Where it looked"
    # Enlarged to the width it is shown at: st.image would otherwise blur it, and encode it twice.
    left.image(enlarge(overlay(model_input, heatmap), 5), caption=f"{looked} ({method})", width=140)
    right.caption(
        "Bright areas raised that class's score most. Other methods, feature maps, uncertainty and "
        "robustness are on the Inside page, for this same input."
    )
    right.page_link("app_pages/inside.py", label="Look inside the model", icon=":material/neurology:")


@st.fragment
def input_and_answer(dataset: Dataset, chosen: ChosenModel, exported: FormatResult | None = None) -> None:
    """The canvas or upload and the answer: a fragment, so a stroke reruns only this, not the whole app."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        source, origin = read_input(dataset)
        fill = fills_outlines_by_default(dataset.name) and st.toggle(
            "Fill closed outlines",
            value=True,
            key="fill_outlines",
            help="An outline (closed strokes around an empty inside, drawn or uploaded) is filled to a solid "
            "shape, like the items the model learned from. Turn off to see what it makes of the bare outline.",
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
        probabilities = chosen.predictor.probabilities(result.model_input)
        render_prediction(dataset, probabilities)
        if exported is not None:  # an exported format of the active run answers beside the Keras model
            render_exported_answer(
                st.session_state[ACTIVE_RUN_KEY], exported, dataset.class_names, result.model_input, probabilities
            )
        render_why(dataset, chosen, result.model_input, probabilities)
    # The Inside page looks at the same input.
    st.session_state[LAST_INPUT_KEY] = LastInput(dataset.name, result.model_input, origin)
    render_steps(result, source, show_naive)


def render() -> None:
    dataset = require_dataset()
    st.title("Predict")
    chosen = choose_model(dataset)
    if chosen is None:
        return
    st.caption(f"Predicting with {chosen.label}.")
    exported = choose_answer_format(st.session_state.get(ACTIVE_RUN_KEY))
    input_and_answer(dataset, chosen, exported)


render()
