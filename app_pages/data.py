"""Data page: look at the dataset before training on it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.sidebar import require_dataset
from core.datasets import Dataset
from core.datasets.summary import class_counts, examples_per_class, mean_images, mosaic, pixel_histogram
from core.figures.data import (
    class_distribution_figure,
    example_grid_figure,
    image_figure,
    mean_images_figure,
    pixel_histogram_figure,
)

EXAMPLES_PER_CLASS = 12
SPLITS = {"train": "Training set", "test": "Test set"}


def split_arrays(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split."""
    return (dataset.x_train, dataset.y_train) if split == "train" else (dataset.x_test, dataset.y_test)


# Cached by dataset name and source sentence: the arrays themselves are not hashed.
@st.cache_data(show_spinner=False, max_entries=8)
def dataset_summary(name: str, source: str, _dataset: Dataset) -> dict[str, np.ndarray]:
    """Class counts, mean images and the pixel histogram of a dataset."""
    return {
        "train_counts": class_counts(_dataset.y_train, _dataset.info.num_classes),
        "test_counts": class_counts(_dataset.y_test, _dataset.info.num_classes),
        "mean_images": mean_images(_dataset.x_train, _dataset.y_train, _dataset.info.num_classes),
        "pixel_histogram": pixel_histogram(_dataset.x_train),
    }


def render_examples(dataset: Dataset) -> None:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    split = left.segmented_control(
        "Split", list(SPLITS), format_func=SPLITS.get, default="train", key="examples_split", required=True
    )
    if right.button("Reshuffle", key="reshuffle", icon=":material/shuffle:"):
        st.session_state["examples_seed"] = st.session_state.get("examples_seed", 0) + 1
    images, labels = split_arrays(dataset, split)
    seed = st.session_state.get("examples_seed", 0)
    rows = examples_per_class(labels, EXAMPLES_PER_CLASS, seed=seed, num_classes=dataset.info.num_classes)
    picture = mosaic(images, rows, EXAMPLES_PER_CLASS)
    st.plotly_chart(example_grid_figure(picture, dataset.class_names), key="examples_grid")
    st.caption(f"{EXAMPLES_PER_CLASS} random {split} images per class, one class per row.")


def render_single_image(dataset: Dataset) -> None:
    left, right = st.columns([1, 2])
    with left:
        split = st.segmented_control(
            "Split", list(SPLITS), format_func=SPLITS.get, default="train", key="viewer_split", required=True
        )
        images, labels = split_arrays(dataset, split)
        index = st.number_input(
            f"Image number (0-{len(images) - 1:,})", min_value=0, max_value=len(images) - 1, value=0, key="viewer_index"
        )
        label = int(labels[index])
        st.metric("Label", dataset.class_names[label], help=f"class number {label}")
        st.caption("Hover over a pixel to see its raw value: 0 is background, 255 is full ink.")
    right.plotly_chart(image_figure(images[index]), key="viewer_image")


def render() -> None:
    dataset = require_dataset()
    st.title(f"{dataset.info.display_name}: the data")
    summary = dataset_summary(dataset.name, dataset.source, dataset)
    train, test, classes, size = st.columns(4)
    train.metric("Training images", f"{len(dataset.x_train):,}")
    test.metric("Test images", f"{len(dataset.x_test):,}")
    classes.metric("Classes", len(dataset.class_names))
    size.metric("Image size", "28 × 28 px")

    examples, balance, means, pixels, single = st.tabs(
        ["Examples", "Class balance", "Mean images", "Pixel intensities", "One image"]
    )
    with examples:
        render_examples(dataset)
    with balance:
        st.plotly_chart(
            class_distribution_figure(summary["train_counts"], summary["test_counts"], dataset.class_names),
            key="class_balance",
        )
        st.caption("A balanced dataset has the same share of every class, so accuracy is a fair summary.")
    with means:
        st.plotly_chart(mean_images_figure(summary["mean_images"], dataset.class_names), key="mean_images")
        st.caption("The average of every training image of a class: what a class looks like 'on average'.")
    with pixels:
        st.plotly_chart(pixel_histogram_figure(summary["pixel_histogram"]), key="pixel_histogram")
        st.caption("Most pixels are background (0); models take these raw 0-255 values and scale them inside.")
    with single:
        render_single_image(dataset)


render()
