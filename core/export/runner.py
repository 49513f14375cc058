"""Run a .tflite file with LiteRT (`ai-edge-litert`), the runtime that replaces `tf.lite.Interpreter`.

A full-INT8 model takes uint8 and returns uint8; the runner quantises the pixels and dequantises
the answer with the tensors' own scale and zero point, so every format answers in probabilities
that can be compared with the Keras model's.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from core.steady_reading import steady_probabilities

# One thread for every format, so their latencies compare: one 28x28 image is too small a job to
# split, and on 2 cores a second thread made every format slower (float32 0.17 -> 0.22 ms, full INT8
# 0.08 -> 0.11 ms per image, MNIST starter); a phone or a Raspberry Pi gives an app about one core.
# LiteRT applies its XNNPACK delegate by default, and it runs INT8 too: without it full INT8 took 0.17 ms.
DEFAULT_THREADS = 1
# Images per invocation when scoring a whole test set.
BATCH = 256


class TfliteModel:
    """One .tflite model, loaded once: probabilities for one image or many, in any input dtype.

    Safe to share between threads (the app caches one per file for every session): a LiteRT
    interpreter is not, so each resize-set-invoke-read runs under the model's own lock.
    """

    def __init__(self, model: bytes | Path, num_threads: int = DEFAULT_THREADS, *, xnnpack: bool = True):
        """Load a model; `xnnpack=False` runs LiteRT's own kernels, without its default XNNPACK delegate."""
        content = model.read_bytes() if isinstance(model, Path) else model
        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self._interpreter = Interpreter(
                model_content=content, num_threads=num_threads, experimental_op_resolver_type=resolver
            )
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"This is not a TensorFlow Lite model LiteRT can run ({error}).") from None
        (self._input,) = self._interpreter.get_input_details()
        (self._output,) = self._interpreter.get_output_details()
        self.input_dtype = np.dtype(self._input["dtype"])
        self.output_dtype = np.dtype(self._output["dtype"])
        self.input_shape = tuple(int(side) for side in self._input["shape"][1:])
        self._batch = 0
        self._lock = threading.Lock()
        self._resize(1)

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], [batch, *self.input_shape])
            self._interpreter.allocate_tensors()
            self._batch = batch

    def raw_output(self, images: np.ndarray) -> np.ndarray:
        """The model's output tensor as it is (uint8 for full INT8) for images of raw 0-255 pixels."""
        batch = self._quantise(images.reshape(len(images), *self.input_shape))
        with self._lock:  # another session's call would resize or overwrite the tensors mid-call
            self._resize(len(batch))
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output["index"])  # a copy, not a view

    def batch_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) as float32 for N images of raw 0-255 pixels."""
        starts = range(0, len(images), BATCH)
        parts = [self._dequantise(self.raw_output(images[start : start + BATCH])) for start in starts]
        return np.concatenate(parts) if parts else np.zeros((0, self.classes), np.float32)

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities (classes,) for one image of raw 0-255 pixels, read steadily as the Keras model's are."""
        return steady_probabilities(self.batch_probabilities, image[np.newaxis])[0]

    @property
    def classes(self) -> int:
        return int(self._output["shape"][-1])

    def _quantise(self, pixels: np.ndarray) -> np.ndarray:
        if not np.issubdtype(self.input_dtype, np.integer):
            return pixels.astype(self.input_dtype)
        scale, zero_point = self._input["quantization"]
        values = pixels.astype(np.float32) / scale + zero_point if scale else pixels.astype(np.float32)
        limits = np.iinfo(self.input_dtype)
        return np.clip(np.round(values), limits.min, limits.max).astype(self.input_dtype)

    def _dequantise(self, output: np.ndarray) -> np.ndarray:
        if not np.issubdtype(output.dtype, np.integer):
            return output.astype(np.float32)
        scale, zero_point = self._output["quantization"]
        return ((output.astype(np.float32) - zero_point) * scale).astype(np.float32)
