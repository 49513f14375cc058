"""Ship a model: a run as a SavedModel and float32, float16, dynamic-range and full-INT8 TensorFlow Lite files.

Each .tflite runs with LiteRT, and one table says what each costs in size, accuracy, agreement
with the Keras model and single-image latency.
"""

from core.export.formats import EXPORTS_DIR, FORMATS, SAVED_MODEL_DIR, ExportError, ExportFormat, parse_formats
from core.export.run_export import (
    export_run,
    has_saved_model,
    load_exported,
    read_exported_bytes,
    saved_comparison,
    saved_model_archive,
    verified_exports,
)
from core.export.runner import TfliteModel
from core.export.table import KERAS_KEY, Comparison, FormatResult, shipping_sentence

__all__ = [
    "EXPORTS_DIR",
    "FORMATS",
    "KERAS_KEY",
    "SAVED_MODEL_DIR",
    "Comparison",
    "ExportError",
    "ExportFormat",
    "FormatResult",
    "TfliteModel",
    "export_run",
    "has_saved_model",
    "load_exported",
    "parse_formats",
    "read_exported_bytes",
    "saved_comparison",
    "saved_model_archive",
    "shipping_sentence",
    "verified_exports",
]
