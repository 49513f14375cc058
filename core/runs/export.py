"""Export a run for deployment: a TensorFlow SavedModel and a TensorFlow Lite file, with its accuracy."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.access import Action, Caller, require
from core.runs.folder import write_bytes_atomically

EXPORTS_DIR = "exports"


@dataclass(frozen=True)
class ExportReport:
    """Where the exported files are, how big, and how well the TFLite model does on the test set."""

    saved_model_dir: Path
    tflite_path: Path
    tflite_bytes: int
    tflite_test_accuracy: float


def export_run(
    model: keras.Model, run_folder: Path, x_test: np.ndarray, y_test: np.ndarray, *, by: Caller
) -> ExportReport:
    """Write `exports/saved_model/` and `exports/model.tflite` into a run folder and check the TFLite model."""
    require(by, Action.EXPORT)
    exports = run_folder / EXPORTS_DIR
    exports.mkdir(exist_ok=True)
    saved_model = exports / "saved_model"
    # Export into a temporary folder beside the final one, then swap it in, so a half export is never seen.
    staging = Path(tempfile.mkdtemp(prefix=".saved_model.", dir=exports))
    try:
        model.export(str(staging / "model"), format="tf_saved_model", verbose=False)
        if saved_model.exists():
            shutil.rmtree(saved_model)
        os.replace(staging / "model", saved_model)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    tflite = converter.convert()
    tflite_path = exports / "model.tflite"
    write_bytes_atomically(tflite_path, tflite)
    return ExportReport(saved_model, tflite_path, len(tflite), tflite_accuracy(tflite, x_test, y_test))


def tflite_accuracy(tflite_model: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of a TFLite model on uint8 images, in one batched invocation."""
    interpreter = tf.lite.Interpreter(model_content=tflite_model)
    (input_detail,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(input_detail["index"], [len(images), 28, 28, 1])
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_detail["index"], images[..., None].astype(input_detail["dtype"]))
    interpreter.invoke()
    probabilities = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return float(np.mean(probabilities.argmax(axis=1) == labels))
