"""What happens to uploads: every hostile or awkward file's outcome, time and memory, and photos under uneven light.

Each file from tests/upload_files.py goes through `preprocess_image` --repeats times and once in a
fresh process, whose peak resident memory growth is recorded: it counts Pillow's own buffers. Then
the starter models' accuracy on --images test images drawn in ink on paper and photographed as
JPEGs, evenly lit and with a lamp to one side, preprocessed the way the app does it.

    .venv/bin/python -m bench.upload_handling [--repeats 5] [--images 300]

Prints JSON: per upload its size in bytes, p50 and p95 in milliseconds, peak RSS growth in MB and
outcome; per starter model its accuracy in percent on both sets of photos, and the lamp's cost in
percentage points against even light (the reference). Each upload also goes to stderr as it is
measured. A smoke test in under a minute: --repeats 2 --images 30.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from upload_files import hostile_uploads, peak_memory_of_preprocessing, photographed

from bench.machine import machine_info
from bench.percentiles import percentiles
from core.datasets import load_dataset
from core.preprocessing import ImageInputError, preprocess_image
from core.pretrained import load_pretrained

DATASETS = ("mnist", "fashion_mnist")


def timings_ms(data: bytes, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with contextlib.suppress(ImageInputError):
            preprocess_image(data, "mnist")
        times.append(1000 * (time.perf_counter() - started))
    return times


def upload_outcome(name: str, data: bytes, repeats: int) -> dict:
    peak = peak_memory_of_preprocessing(data)
    figures = {
        "size_bytes": len(data),
        **percentiles(timings_ms(data, repeats), digits=1),
        "peak_rss_growth_mb": round(peak["peak_growth_mb"], 1),
        "outcome": peak["outcome"],
    }
    size, p50, peak_mb = len(data) / 1e6, figures["p50_ms"], figures["peak_rss_growth_mb"]
    line = f"{name:<30} {size:7.2f} MB  p50 {p50:7.1f} ms  peak RSS +{peak_mb:6.1f} MB  {figures['outcome'][:60]}"
    print(line, file=sys.stderr, flush=True)
    return figures


def photo_accuracy_percent(dataset_name: str, images: int, uneven: bool) -> float:
    data = load_dataset(dataset_name)
    inputs = []
    for image in data.x_test[:images]:
        result = preprocess_image(photographed(image, uneven), dataset_name)
        inputs.append(np.zeros((28, 28), np.uint8) if result.is_empty else result.model_input)
    answers = load_pretrained(dataset_name).predict(np.stack(inputs)[..., np.newaxis], verbose=0).argmax(axis=1)
    return round(100 * float(np.mean(answers == data.y_test[:images])), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed preprocessing runs of each upload")
    parser.add_argument("--images", type=int, default=300, help="photographed test images per starter model")
    args = parser.parse_args()
    uploads = {name: upload_outcome(name, data, args.repeats) for name, data in hostile_uploads().items()}
    photos = {}
    for dataset_name in DATASETS:
        even, uneven = (photo_accuracy_percent(dataset_name, args.images, lit) for lit in (False, True))
        photos[dataset_name] = {
            "evenly_lit_accuracy_percent": even,
            "lamp_to_one_side_accuracy_percent": uneven,
            "lamp_minus_even_points": round(uneven - even, 1),
        }
    report = {
        "machine": machine_info(),
        "repeats": args.repeats,
        "images": args.images,
        "uploads": uploads,
        "uploads_note": "p50/p95: preprocess_image for mnist in this process; peak RSS growth and outcome: the "
        "same call once in a fresh process (tests/upload_files.py)",
        "slowest_upload_p50": max(uploads, key=lambda name: uploads[name]["p50_ms"]),
        "largest_peak_rss_growth": max(uploads, key=lambda name: uploads[name]["peak_rss_growth_mb"]),
        "photographed_test_images": photos,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
