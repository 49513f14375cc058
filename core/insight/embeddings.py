"""Where images land in the model's own feature space: the penultimate layer, projected to 2-D."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors

from core.insight.probes import as_batch, run_with_taps

BATCH = 500
# An input farther from its nearest training image than this share of test images is "unfamiliar".
UNFAMILIAR_QUANTILE = 0.99
TSNE_ROUNDS = 4  # one exaggerated round, then refinements: each round reports progress


def penultimate_features(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """What the classifier sees for each image: the input of the final softmax layer, (N, features)."""
    chunks = [np.asarray(run_with_taps(model, as_batch(images[start : start + BATCH]), [])[1])
              for start in range(0, len(images), BATCH)]  # fmt: skip
    return np.concatenate(chunks).astype(np.float32)


@dataclass(frozen=True)
class Familiarity:
    """How close an input is to the training images, in feature space."""

    neighbours: np.ndarray  # indices into the reference (training) images, nearest first
    distance: float  # to the nearest one
    typical: float  # the distance below which UNFAMILIAR_QUANTILE of test images fall

    @property
    def unfamiliar(self) -> bool:
        return self.distance > self.typical


class FeatureSpace:
    """Training images' features, for finding an input's nearest neighbours and judging how unusual it is."""

    def __init__(self, reference_features: np.ndarray, test_features: np.ndarray):
        self.index = NearestNeighbors(n_neighbors=8).fit(reference_features)
        test_distances, _ = self.index.kneighbors(test_features, n_neighbors=1)
        self.typical = float(np.quantile(test_distances[:, 0], UNFAMILIAR_QUANTILE))

    def familiarity(self, features: np.ndarray, count: int = 8) -> Familiarity:
        distances, indices = self.index.kneighbors(features.reshape(1, -1), n_neighbors=count)
        return Familiarity(indices[0], float(distances[0, 0]), self.typical)


def project_pca(features: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D PCA of the features; `extra` points (the user's input) are placed with the same projection."""
    pca = PCA(n_components=2, random_state=0).fit(features)
    return pca.transform(features), None if extra is None else pca.transform(extra)


def project_tsne(
    features: np.ndarray,
    extra: np.ndarray | None = None,
    progress: Callable[[float], None] = lambda fraction: None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D t-SNE; t-SNE cannot place new points afterwards, so `extra` points are embedded with the rest.

    scikit-learn's t-SNE has no progress hook, so it runs in rounds, each continuing from the last
    layout without exaggeration, and `progress` is told after each.
    """
    points = features if extra is None else np.concatenate([features, extra])
    reduced = PCA(n_components=min(50, points.shape[1], len(points)), random_state=seed).fit_transform(points)
    perplexity = float(min(30, max(5, (len(points) - 1) // 4)))
    layout: np.ndarray | str = "pca"
    for round_ in range(TSNE_ROUNDS):
        first = round_ == 0
        layout = TSNE(
            n_components=2, perplexity=perplexity, init=layout, random_state=seed, max_iter=250,
            early_exaggeration=12.0 if first else 1.0, learning_rate="auto",
        ).fit_transform(reduced)  # fmt: skip
        progress((round_ + 1) / TSNE_ROUNDS)
    if extra is None:
        return layout, None
    return layout[: len(features)], layout[len(features) :]
