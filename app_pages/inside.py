"""Inside page: what the model computes for one input, where it looks, how sure and how robust it is."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages import inside_compare, inside_embeddings, inside_views
from app_pages.insight_cache import enlarge
from app_pages.resources import LAST_INPUT_KEY, ChosenModel, choose_model
from app_pages.sidebar import require_dataset
from core.datasets import Dataset
from core.insight.probes import ensemble_members

VIEWS = {
    "Feature maps": inside_views.render_feature_maps,
    "Where it looks": inside_views.render_heatmaps,
    "Embeddings": inside_embeddings.render,
    "Uncertainty": inside_views.render_uncertainty,
    "Robustness": inside_views.render_robustness,
    "MNIST vs Fashion": inside_compare.render,
}
TEST_INDEX_KEY = "inside_test_index"


def pick_random_test_image(count: int) -> None:
    st.session_state[TEST_INDEX_KEY] = int(np.random.default_rng().integers(count))


def pick_input(dataset: Dataset) -> tuple[np.ndarray, str, int | None]:
    """The image to look at: the Predict page's last input, or a test image; with its true class if known."""
    last = st.session_state.get(LAST_INPUT_KEY)
    if last is None or last.dataset != dataset.name:
        st.page_link("app_pages/predict.py", label="Draw or upload your own image on Predict to look at it here",
                     icon=":material/draw:")  # fmt: skip
    else:
        labels = {"yours": f"Your input on Predict ({last.origin})", "test": "A test image"}
        source = st.radio("Input", list(labels), format_func=labels.get, key="inside_source", horizontal=True)
        if source == "yours":
            return last.image, last.origin, None
    count = len(dataset.y_test)
    number, shuffle = st.columns([2, 1], vertical_alignment="bottom")
    index = number.number_input("Test image number", 0, count - 1, key=TEST_INDEX_KEY)
    shuffle.button("Random", icon=":material/shuffle:", on_click=pick_random_test_image, args=(count,),
                   key="inside_random")  # fmt: skip
    label = int(dataset.y_test[index])
    return dataset.x_test[index], f"test image #{index} (a {dataset.class_names[label]})", label


def render_verdict(dataset: Dataset, chosen: ChosenModel, origin: str, image: np.ndarray, true_class: int | None):
    probabilities = chosen.predictor.probabilities(image)
    best = int(np.argmax(probabilities))
    verdict = f"For {origin}, the model says **{dataset.class_names[best]}** ({100 * probabilities[best]:.1f} %)"
    if true_class is not None:
        verdict += " — right." if best == true_class else f" — wrong: it is a {dataset.class_names[true_class]}."
    st.markdown(verdict)


def render() -> None:
    dataset = require_dataset()
    st.title("Inside the model")
    chosen = choose_model(dataset)
    if chosen is None:
        return
    st.caption(f"Looking inside {chosen.label}.")
    members = ensemble_members(chosen.model)
    if members:
        st.info(f"This model is an ensemble of {len(members)} models. Its answers here are the ensemble's; feature "
                "maps, heatmaps, embeddings and Monte-Carlo dropout look inside its first member, which has real "
                "layers to show.", icon=":material/stacks:")  # fmt: skip
    with st.container(border=True):
        picker, picture, verdict = st.columns([4, 1, 3], vertical_alignment="center")
        with picker:
            image, origin, true_class = pick_input(dataset)
        picture.image(enlarge(image, 4), width=112)
        with verdict:
            render_verdict(dataset, chosen, origin, image, true_class)
    view = st.segmented_control("View", list(VIEWS), default="Feature maps", key="inside_view", required=True)
    # Only the chosen view computes anything.
    VIEWS[view](dataset, chosen, image)


render()
