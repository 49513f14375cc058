"""The formats a run can be shipped in, and how each TensorFlow Lite file is made from the SavedModel.

Every format takes what every model here takes: raw 0-255 pixels shaped (N, height, width, 1); the
scaling to [0, 1] is a layer inside the model, so a device feeds camera or canvas pixels as they are.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXPORTS_DIR = "exports"
SAVED_MODEL_DIR = "saved_model"
# The SavedModel's inference endpoint; TFLite conversion reads this signature.
SERVING_ENDPOINT = "serve"
# Training images the full-integer converter runs to measure each layer's value range: a few hundred
# cover the ranges well, and calibration time grows with every one.
REPRESENTATIVE_IMAGES = 300


@dataclass(frozen=True)
class ExportFormat:
    """One TensorFlow Lite variant: its command-line key, what users read, and its file."""

    key: str
    label: str
    file_name: str
    description: str


FLOAT32 = ExportFormat(
    "float32", "TFLite float32", "model_float32.tflite", "The model as it is, 32-bit weights and arithmetic."
)
FLOAT16 = ExportFormat(
    "float16", "TFLite float16", "model_float16.tflite",
    "Weights stored as 16-bit floats: half the size, computed in float32 on a CPU.",
)  # fmt: skip
DYNAMIC_INT8 = ExportFormat(
    "dynamic_int8", "TFLite dynamic-range INT8", "model_dynamic_int8.tflite",
    "Weights stored as 8-bit integers, activations quantised on the fly; float32 in and out.",
)  # fmt: skip
FULL_INT8 = ExportFormat(
    "int8", "TFLite full INT8", "model_int8.tflite",
    "Weights and activations in 8-bit integers, uint8 pixels in and uint8 probabilities out, "
    "for microcontrollers and integer-only accelerators.",
)  # fmt: skip

FORMATS: dict[str, ExportFormat] = {fmt.key: fmt for fmt in (FLOAT32, FLOAT16, DYNAMIC_INT8, FULL_INT8)}


class ExportError(Exception):
    """An export cannot be done as asked; the message says why and what to do."""


def parse_formats(text: str) -> tuple[ExportFormat, ...]:
    """Formats from a comma-separated list such as "float16,int8" ("all" for every one), in catalogue order."""
    keys = {part.strip().lower() for part in text.split(",") if part.strip()}
    if not keys or keys == {"all"}:
        return tuple(FORMATS.values())
    unknown = sorted(keys - FORMATS.keys())
    if unknown:
        raise ExportError(f"Unknown format {', '.join(unknown)}: choose from {', '.join(FORMATS)} or all.")
    return tuple(fmt for key, fmt in FORMATS.items() if key in keys)


def write_saved_model(model, target: Path) -> None:
    """Write the model's inference pass as a SavedModel at `target`, swapped in whole or not at all.

    A folder cannot be replaced in one step: the old one is renamed aside, then the new one renamed in.
    A kill between the two leaves no SavedModel under the final name (never half of one), and the
    next export puts the previous one back before it starts. The caller holds the run's export lock,
    so any staging folder found here is a killed export's leftover.
    """
    import keras

    # `model.export` traces the model without `training=False`, and Keras' random augmentation
    # layers default to training mode: the exported graph would rotate and shift every input.
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SERVING_ENDPOINT,
        fn=lambda pixels: model(pixels, training=False),
        input_signature=[keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32")],
    )
    retired = target.with_name(f".{target.name}.old")
    if retired.is_dir() and not target.exists():
        # An export killed between the two renames below left the previous SavedModel here: put it back first.
        os.replace(retired, target)
    for leftover in target.parent.glob(f".{target.name}.*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        archive.write_out(str(staging / "model"), verbose=False)
        _fsync_tree(staging / "model")  # on disk before the rename makes it the SavedModel
        shutil.rmtree(retired, ignore_errors=True)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging / "model", target)
        _fsync_folder(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder` to disk."""
    for parent, _, files in os.walk(folder):
        for name in files:
            with open(Path(parent) / name, "rb") as file:
                os.fsync(file.fileno())
        _fsync_folder(Path(parent))


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries, so the renames in it survive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def representative_images(x_train: np.ndarray, count: int = REPRESENTATIVE_IMAGES, seed: int = 0) -> np.ndarray:
    """A fixed random draw of training images for calibration: the same images every export."""
    chosen = np.random.default_rng(seed).choice(len(x_train), size=min(count, len(x_train)), replace=False)
    return x_train[np.sort(chosen)]


def convert(saved_model: Path, fmt: ExportFormat, calibration: np.ndarray | None = None) -> bytes:
    """The .tflite bytes of one format, converted from the SavedModel; full INT8 needs calibration images."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SERVING_ENDPOINT])
    if fmt is FLOAT16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif fmt is DYNAMIC_INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif fmt is FULL_INT8:
        if calibration is None or len(calibration) == 0:
            raise ExportError("Full INT8 needs training images to calibrate with; load the run's dataset.")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _calibration_batches(calibration)
        # Integer kernels only, so an integer-only runtime (a microcontroller, an Edge TPU) can run every op.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter.convert()


def _calibration_batches(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    def batches() -> Iterator[list[np.ndarray]]:
        for image in images:
            yield [image.reshape(1, *image.shape[:2], -1).astype(np.float32)]

    return batches
