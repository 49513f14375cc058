"""From a new drawing to its prediction: preprocessing plus the model, against `model.predict`.

    .venv/bin/python bench/predict_latency.py [--repeats 300]

Prints JSON with medians in milliseconds. The drawing is a 280x280 RGBA canvas with a stroke,
as the Predict page receives it; the model is the app's default compact CNN.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from core.architectures import ModelSpec, build_model  # noqa: E402
from core.inference import Predictor  # noqa: E402
from core.preprocessing import preprocess_image  # noqa: E402


def canvas_drawing(seed: int) -> np.ndarray:
    """A 280x280 RGBA canvas: transparent background, a white stroke that moves with the seed."""
    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    offset = seed % 40
    ImageDraw.Draw(picture).line([(90 + offset, 50), (150, 230 - offset), (200, 60 + offset)], fill="white", width=18)
    return np.asarray(picture)


def median_ms(action, repeats: int) -> float:
    timings = []
    for index in range(repeats):
        started = time.perf_counter()
        action(index)
        timings.append(time.perf_counter() - started)
    return round(1000 * statistics.median(timings), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    model = build_model(ModelSpec("compact"), seed=0)
    predictor = Predictor(model)
    drawings = [canvas_drawing(seed) for seed in range(50)]
    inputs = [preprocess_image(drawing, "mnist").model_input for drawing in drawings]
    model.predict(inputs[0][None, ..., None], verbose=0)  # warm up Keras' own path too

    ours = median_ms(
        lambda i: predictor.probabilities(preprocess_image(drawings[i % 50], "mnist").model_input), args.repeats
    )
    preprocessing = median_ms(lambda i: preprocess_image(drawings[i % 50], "mnist"), args.repeats)
    model_only = median_ms(lambda i: predictor.probabilities(inputs[i % 50]), args.repeats)
    keras_predict = median_ms(
        lambda i: model.predict(inputs[i % 50][None, ..., None], verbose=0), max(50, args.repeats // 3)
    )
    print(
        json.dumps(
            {
                "drawing_to_prediction_median_ms": ours,
                "preprocessing_median_ms": preprocessing,
                "compiled_model_call_median_ms": model_only,
                "keras_model_predict_median_ms": keras_predict,
                "model_speedup_vs_model_predict": round(keras_predict / model_only, 1),
                "end_to_end_speedup_vs_model_predict": round(keras_predict / ours, 1),
                "goal": "<= 5 ms drawing to prediction; >= 15x faster than model.predict",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
