"""The Inside page's embedding view: the test set in the model's feature space, with the user's input among it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.insight_cache import feature_space, projection
from app_pages.resources import ChosenModel, test_set_evaluation
from app_pages.wording import counted
from core.datasets import Dataset
from core.figures.insight import embedding_figure
from core.insight.embeddings import penultimate_features

THUMBNAILS = 150


def render(dataset: Dataset, chosen: ChosenModel, image: np.ndarray) -> None:
    method_column, count_column, thumbs_column = st.columns(3, vertical_alignment="bottom")
    method = method_column.segmented_control("Projection", ["PCA", "t-SNE"], default="PCA", key="embedding_method",
                                             required=True)  # fmt: skip
    count = count_column.select_slider("Test images", [500, 1000, 2000], value=1000, key="embedding_count")
    count = min(count, len(dataset.y_test))
    thumbs = thumbs_column.toggle("Draw images at some points", key="embedding_thumbnails")
    test_features, space = feature_space(chosen.key, dataset.source, count, chosen.model, dataset)
    user_features = penultimate_features(chosen.model, image[np.newaxis])
    bar = st.progress(0.0, text="t-SNE: laying out the points…") if method == "t-SNE" else None
    points, user_point = projection(chosen.key, dataset.source, method, test_features, user_features,
                                    _progress=bar.progress if bar else None)  # fmt: skip
    if bar is not None:
        bar.empty()
    familiarity = space.familiarity(user_features[0])
    predictions = test_set_evaluation(chosen.key, dataset.source, chosen.model, dataset).predictions[:count]
    # Where the neighbours (training images) would sit is unknown to the projection; ring the test images
    # nearest the input instead, in the same feature space.
    nearest_tests = np.argsort(np.linalg.norm(test_features - user_features, axis=1))[:8]
    shown = range(0, count, max(1, count // THUMBNAILS)) if thumbs else ()
    figure = embedding_figure(
        points, dataset.y_test[:count], predictions, dataset.class_names, user_point=user_point,
        neighbour_points=points[nearest_tests], thumbnails={int(i): dataset.x_test[i] for i in shown},
    )  # fmt: skip
    selection = st.plotly_chart(figure, key="embedding", on_select="rerun", selection_mode=("points", "lasso"))
    st.caption(f"Each dot is a test image placed by what the model's last hidden layer makes of it ({method}). "
               "Dots with a black edge are mistakes. Hover for the class; select dots (click or lasso) to see "
               "their images; the star is your input, ringed dots the test images nearest it.")  # fmt: skip
    render_selection(dataset, selection)
    render_neighbours(dataset, familiarity)


def render_selection(dataset: Dataset, selection) -> None:
    points = (selection or {}).get("selection", {}).get("points", []) if selection else []
    indices = [int(point["customdata"]) for point in points if isinstance(point.get("customdata"), (int, float))]
    if indices:
        st.markdown(f"**{counted(len(indices), 'selected test image')}**")
        shown = indices[:48]
        captions = [f"#{i} {dataset.class_names[dataset.y_test[i]]}" for i in shown]
        st.image([dataset.x_test[i] for i in shown], caption=captions, width=72)


def render_neighbours(dataset: Dataset, familiarity) -> None:
    if familiarity.unfamiliar:
        st.warning(
            f"Your input is far from every training image the model knows (distance {familiarity.distance:.1f}; "
            f"99 % of test images are within {familiarity.typical:.1f}). Its answer is a guess about something "
            f"it was never shown.", icon=":material/explore_off:",
        )  # fmt: skip
    st.markdown("**Nearest training images** (in the model's feature space)")
    st.image([dataset.x_train[i] for i in familiarity.neighbours],
             caption=[dataset.class_names[dataset.y_train[i]] for i in familiarity.neighbours], width=72)  # fmt: skip
