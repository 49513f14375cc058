"""The headless CLI: training end to end in a real subprocess on tiny data; help and argument errors here.

Help and argument errors run the command's own `main` in this process: a subprocess would spend
seconds importing TensorFlow for each one-line answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from commands import run_main

import core.architectures  # noqa: F401  (registers LiveDropout for safe loading)
from core.datasets.files import sha256_file
from core.train import main

ROOT = Path(__file__).resolve().parents[2]


def train_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_cli_trains_and_writes_a_complete_run(tmp_path):
    done = train_cli(
        "--dataset", "mnist", "--arch", "simple_cnn", "--epochs", "2", "--train-size", "300",
        "--batch-size", "32", "--dropout", "0.2", "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "epoch 1:" in done.stdout and "epoch 2:" in done.stdout
    assert "Test accuracy" in done.stdout
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert f"Saved run: {folder}" in done.stdout
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["complete"] is True and manifest["state"] == "finished"
    assert manifest["run_id"] == folder.name and manifest["architecture"] == "simple_cnn"
    assert manifest["model_sha256"] == sha256_file(folder / "model.keras")
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["dropout"] == 0.2 and config["training"]["train_size"] == 300
    history = json.loads((folder / "history.json").read_text())
    assert [epoch["epoch"] for epoch in history["epochs"]] == [0, 1]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["epochs_completed"] == 2
    assert np.load(folder / "confusion.npz")["validation"].shape == (2, 10, 10)
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    assert model.predict(np.zeros((1, 28, 28, 1), np.uint8), verbose=0).shape == (1, 10)
    assert not [p.name for p in folder.iterdir() if "partial" in p.name]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "lenet"], "invalid choice: 'lenet'"),
        (["--epochs", "many"], "invalid int value: 'many'"),
        (["--dropout", "1.5"], "Dropout rate must be at least 0 and below 1"),
        (["--dataset", "mnist", "--flip"], "Horizontal flips are for clothing only"),
    ],
)
def test_bad_arguments_give_one_line_and_no_traceback(args, message):
    done = run_main(main, *args)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("python -m core.train: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in done.stderr


def test_help_lists_architectures_and_settings():
    done = run_main(main, "--help")
    assert done.returncode == 0
    for word in ("compact", "vgg", "wide_5x5", "--dropout", "--schedule", "--train-size", "--runs-dir"):
        assert word in done.stdout


def test_the_multi_device_path_trains_on_two_logical_cpus(tmp_path):
    """MirroredStrategy over two logical CPU devices: the code path a multi-GPU machine takes.

    With weight averaging, whose average is swapped in and out of the mirrored weights each epoch.
    """
    done = train_cli(
        "--dataset", "mnist", "--arch", "compact", "--epochs", "2", "--train-size", "200",
        "--batch-size", "32", "--average-weights", "--runs-dir", str(tmp_path),
        # GPUs hidden, so a machine that has them tests the CPU path too instead of a single GPU.
        env={"EXPLORER_CPU_DEVICES": "2", "CUDA_VISIBLE_DEVICES": "-1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 x CPU (MirroredStrategy)" in done.stdout
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert json.loads((folder / "metrics.json").read_text())["device"] == "2 x CPU (MirroredStrategy)"
    assert json.loads((folder / "config.json").read_text())["training"]["average_weights"] is True
