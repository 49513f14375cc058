"""The insight computations, cached per model (its key) and input, so moving a slider back costs nothing."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from core.datasets import Dataset
from core.insight import embeddings, feature_maps, robustness, saliency, uncertainty
from core.insight.probes import last_feature_map_layer
from core.steady_reading import steady_probabilities

HEATMAP_METHODS = ("HiResCAM", "Grad-CAM", "Gradient saliency")
# How many training images the nearest-neighbour search looks among.
REFERENCE_IMAGES = 4_000


def heatmap_methods(model) -> tuple[str, ...]:
    """The methods that can explain this model: class activation maps need a convolutional feature map."""
    return HEATMAP_METHODS if last_feature_map_layer(model) is not None else HEATMAP_METHODS[-1:]


def enlarge(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """Blow a small image up with square pixels, so the browser does not blur it."""
    return np.kron(image, np.ones((factor, factor) + (1,) * (image.ndim - 2), dtype=image.dtype))


@st.cache_data(max_entries=64, show_spinner=False)
def class_heatmaps(model_key: str, _model, images: np.ndarray, classes: np.ndarray, method: str) -> np.ndarray:
    """Heatmaps (N, 28, 28) for each image's class, by one of HEATMAP_METHODS."""
    if method == "Gradient saliency":
        return saliency.gradient_saliency(_model, images, classes)
    return saliency.grad_cam(_model, images, classes, elementwise=method == "HiResCAM")


def class_heatmap(model_key: str, model, image: np.ndarray, class_index: int, method: str) -> np.ndarray:
    return class_heatmaps(model_key, model, image[np.newaxis], np.array([class_index]), method)[0]


@st.cache_data(max_entries=16, show_spinner=False)
def cached_feature_maps(model_key: str, _model, image: np.ndarray) -> list[feature_maps.FeatureMaps]:
    return feature_maps.feature_maps(_model, image)


@st.cache_data(max_entries=8, show_spinner="Reading the model's features of the test and training images…")
def feature_space(model_key: str, dataset_source: str, test_count: int, _model, _dataset: Dataset):
    """Penultimate features of the first `test_count` test images, and a neighbour index over training images."""
    test = embeddings.penultimate_features(_model, _dataset.x_test[:test_count])
    reference = embeddings.penultimate_features(_model, _dataset.x_train[:REFERENCE_IMAGES])
    return test, embeddings.FeatureSpace(reference, test)


@st.cache_data(max_entries=8, show_spinner=False)
def projection(model_key: str, dataset_source: str, method: str, test_features: np.ndarray,
               user_features: np.ndarray | None, _progress=None):  # fmt: skip
    """2-D positions of the test images (and the user's input) by PCA or t-SNE."""
    if method == "PCA":
        return embeddings.project_pca(test_features, user_features)
    return embeddings.project_tsne(test_features, user_features, progress=_progress or (lambda fraction: None))


@st.cache_resource(max_entries=4, show_spinner="Preparing Monte-Carlo dropout…")
def mc_model(model_key: str, _model):
    return uncertainty.mc_dropout_model(_model)


@st.cache_data(max_entries=32, show_spinner=False)
def robustness_sweep(model_key: str, _predictor, image: np.ndarray, base: robustness.Perturbation, knob: str):
    # Each perturbed image is read as the Predict page reads one (steadily), so the sweep's unperturbed
    # point is the answer shown above it.
    return robustness.sweep(partial(steady_probabilities, _predictor.batch_probabilities), image, base, knob)
