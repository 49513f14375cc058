"""The shipped starter models: they load safely, they are as good as documented, tampering is refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core import pretrained
from core.datasets import forget_loaded_datasets
from core.datasets.loading import load_from_sources
from core.datasets.registry import dataset_info
from core.datasets.sources import Source, SourceKind, read_sample


@pytest.mark.parametrize(("name", "floor"), [("mnist", 0.95), ("fashion_mnist", 0.88)])
def test_starter_models_score_as_documented_on_the_embedded_test_split(name, floor):
    info = dataset_info(name)
    sample = load_from_sources(info, [Source(SourceKind.SAMPLE, "sample", lambda: read_sample(info))])
    model = pretrained.load_pretrained(name)
    predictions = model.predict(sample.x_test[..., None], verbose=0).argmax(axis=1)
    assert np.mean(predictions == sample.y_test) >= floor
    assert pretrained.pretrained_model(name).test_accuracy >= floor


def test_a_changed_starter_model_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, copy)
    with open(copy / "mnist.keras", "ab") as file:
        file.write(b"tampered")
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", copy)
    with pytest.raises(pretrained.PretrainedError, match="missing or was changed"):
        pretrained.load_pretrained("mnist")
    forget_loaded_datasets()
