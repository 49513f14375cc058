"""Steady reading (core/steady_reading.py): the starters read plainly and steadily, and what it costs Predict.

    .venv/bin/python -m bench.steady_reading

Prints JSON. For each dataset's starter, on this machine's data: accuracy on the test images and on
each drawn version of the test set (core/drawn_test_set.py), read plainly (one image, one answer) and
steadily (the mean answer over the image's views); and the Predict page's time for one image both
ways, median and p95 over interleaved calls. Saved to /tmp/bench-results/steady-reading.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from bench.machine import machine_info
from core.datasets import load_dataset
from core.drawn_test_set import drawn_styles, drawn_test_set
from core.evaluation import evaluate_model, evaluate_steadily
from core.inference import Predictor
from core.pretrained import load_pretrained

RESULTS = Path("/tmp/bench-results/steady-reading.json")
LATENCY_CALLS = 200


def accuracies(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Percent read right plainly and steadily, and the difference in points."""
    plain = evaluate_model(model, images, labels).accuracy
    steady = evaluate_steadily(model, images, labels).accuracy
    return {"plain": round(100 * plain, 2), "steady": round(100 * steady, 2), "gain": round(100 * (steady - plain), 2)}


def latency_ms(predictor: Predictor, images: np.ndarray) -> dict:
    """Milliseconds per image for one plain and one steady answer, the two taking turns."""
    ways = {"plain": lambda image: predictor.batch_probabilities(image[np.newaxis]), "steady": predictor.probabilities}
    timings = {name: [] for name in ways}
    for index in range(LATENCY_CALLS):
        for name, answer in ways.items():
            started = time.perf_counter()
            answer(images[index % len(images)])
            timings[name].append(1000 * (time.perf_counter() - started))
    return {
        name: {"p50": round(float(np.median(times)), 2), "p95": round(float(np.percentile(times, 95)), 2)}
        for name, times in timings.items()
    }


def main() -> None:
    report = {"machine": machine_info(), "starters": {}}
    for name in ("mnist", "fashion_mnist"):
        dataset = load_dataset(name)
        model = load_pretrained(name)
        figures = {"data": dataset.source, "test_images": accuracies(model, dataset.x_test, dataset.y_test)}
        for style in drawn_styles(name):
            drawn = drawn_test_set(name, dataset.x_test, dataset.y_test, style)
            figures[f"drawn_{style}"] = accuracies(model, drawn.images, drawn.labels)
        figures["predict_latency_ms"] = latency_ms(Predictor(model), dataset.x_test[:50])
        report["starters"][name] = figures
    text = json.dumps(report, indent=2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
