"""A 3-class dataset of your own, trained headless (`core.train --dataset NAME`) and evaluated end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from shape_strokes import SHAPES, render_strokes, shape_strokes
from sklearn import metrics

import core.architectures  # noqa: F401  (registers LiveDropout for safe loading)
from core.access import LOCAL
from core.datasets import forget_loaded_datasets, load_dataset
from core.datasets.custom_build import build_custom_dataset
from core.datasets.registry import DrawingRecipe
from core.evaluation import evaluate_model, most_confused_pairs
from core.preprocessing import preprocess_image
from core.runs.folder import is_valid_run_id
from core.training.presets import PRESETS, SMALL_DATA_PRESET

ROOT = Path(__file__).resolve().parents[2]


def drawn_shapes(per_class: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        shape: np.stack(
            [
                preprocess_image(
                    render_strokes(shape_strokes(shape, rng)), None, recipe=DrawingRecipe.DIGIT_BOX
                ).model_input
                for _ in range(per_class)
            ]
        )
        for shape in SHAPES
    }


@pytest.fixture
def runs_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "runs"
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(folder))
    forget_loaded_datasets()
    yield folder
    forget_loaded_datasets()


@pytest.mark.slow
def test_the_cli_trains_on_a_dataset_of_your_own_and_the_run_evaluates_as_three_classes(runs_folder):
    build_custom_dataset("shapes", "Shapes", drawn_shapes(12, 0), DrawingRecipe.DIGIT_BOX, by=LOCAL, origin="test")
    done = subprocess.run(
        [sys.executable, "-m", "core.train", "--dataset", "shapes", "--preset", "small_data", "--arch", "simple_cnn",
         "--epochs", "3", "--runs-dir", str(runs_folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "EXPLORER_RUNS_DIR": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Data: Shapes dataset you made (3 classes, 30 train / 6 test images" in done.stdout
    (folder,) = [path for path in runs_folder.iterdir() if is_valid_run_id(path.name)]
    config = json.loads((folder / "config.json").read_text())
    assert config["training"]["dataset"] == "shapes" and config["training"]["batch_size"] == 16
    assert config["model"]["augmentation"]["rotation_degrees"] == 15.0
    assert np.load(folder / "confusion.npz")["validation"].shape == (3, 3, 3)

    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    dataset = load_dataset("shapes")
    evaluation = evaluate_model(model, dataset.x_test, dataset.y_test)
    assert evaluation.probabilities.shape == (6, 3)
    expected = metrics.confusion_matrix(dataset.y_test, evaluation.predictions, labels=[0, 1, 2])
    np.testing.assert_array_equal(evaluation.confusion, expected)
    assert evaluation.scores.recall.shape == (3,)
    for true, predicted, count in most_confused_pairs(evaluation.confusion):
        assert 0 <= true < 3 and 0 <= predicted < 3 and count == expected[true, predicted]
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(evaluation.accuracy, abs=1e-6)
    assert saved.get("drawn_accuracy", {}) == {}  # the drawn test set does not apply to your own classes


def test_the_small_data_recipe_keeps_one_validation_image_per_class_of_a_tiny_set():
    from core.training.data import training_split

    labels = np.repeat(np.arange(20, dtype=np.uint8), 8)  # 20 classes, 8 training images each
    images = np.zeros((len(labels), 28, 28), np.uint8)
    config = PRESETS[SMALL_DATA_PRESET].config
    data = training_split(images, labels, config)
    assert sorted(np.unique(data.y_val).tolist()) == list(range(20))
    assert len(data.y_train) + len(data.y_val) == len(labels)
