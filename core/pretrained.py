"""The small starter models shipped in assets/pretrained/, so a newcomer can draw before training."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.datasets.files import sha256_file

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "assets" / "pretrained"
MANIFEST = "manifest.json"


class PretrainedError(Exception):
    """The starter model is missing or does not match its recorded checksum."""


@dataclass(frozen=True)
class PretrainedModel:
    dataset: str
    path: Path
    sha256: str
    test_accuracy: float
    trained_on: str


def pretrained_model(dataset: str) -> PretrainedModel:
    """What the manifest says about a dataset's starter model."""
    try:
        entry = json.loads((PRETRAINED_DIR / MANIFEST).read_text())[dataset]
    except (OSError, ValueError, KeyError):
        raise PretrainedError(f"No starter model for {dataset} is installed.") from None
    return PretrainedModel(
        dataset, PRETRAINED_DIR / entry["file"], entry["sha256"], entry["test_accuracy"], entry["trained_on"]
    )


def load_pretrained(dataset: str):
    """The starter model, hash-checked and loaded with Keras' safe mode on."""
    import keras

    import core.architectures  # noqa: F401  (registers the app's own layers for safe loading)

    info = pretrained_model(dataset)
    if not info.path.is_file() or sha256_file(info.path) != info.sha256:
        raise PretrainedError(
            f"The starter model for {dataset} is missing or was changed; rebuild it with scripts/train_pretrained.py."
        )
    return keras.saving.load_model(info.path, safe_mode=True)
