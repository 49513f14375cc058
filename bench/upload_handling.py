"""What happens to uploads: every hostile or awkward file's outcome, time and memory, and photos under uneven light.

Each file from tests/upload_files.py goes through `preprocess_image` --repeats times (median printed)
and once in a fresh process, whose peak resident memory growth is printed: it counts Pillow's own
buffers. Then the starter models' accuracy on --images test images drawn in ink on paper and
photographed as JPEGs, evenly lit and with a lamp to one side, preprocessed the way the app does it.

    .venv/bin/python -m bench.upload_handling [--repeats 5] [--images 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import contextlib

from upload_files import hostile_uploads, peak_memory_of_preprocessing, photographed

from core.datasets import load_dataset
from core.preprocessing import ImageInputError, preprocess_image
from core.pretrained import load_pretrained


def median_ms(data: bytes, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with contextlib.suppress(ImageInputError):
            preprocess_image(data, "mnist")
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def photo_accuracy(dataset_name: str, images: int, uneven: bool) -> float:
    data = load_dataset(dataset_name)
    inputs = []
    for image in data.x_test[:images]:
        result = preprocess_image(photographed(image, uneven), dataset_name)
        inputs.append(np.zeros((28, 28), np.uint8) if result.is_empty else result.model_input)
    answers = load_pretrained(dataset_name).predict(np.stack(inputs)[..., np.newaxis], verbose=0).argmax(axis=1)
    return float(np.mean(answers == data.y_test[:images]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=300)
    args = parser.parse_args()
    print(f"{'upload':<30} {'size':>9} {'median':>9} {'peak RSS +':>11}  outcome")
    for name, data in hostile_uploads().items():
        peak = peak_memory_of_preprocessing(data)
        print(f"{name:<30} {len(data) / 1e6:7.2f}MB {median_ms(data, args.repeats):7.1f}ms "
              f"{peak['peak_growth_mb']:8.1f} MB  {peak['outcome'][:70]}")  # fmt: skip
    print(f"\nstarter model accuracy on {args.images} photographed test images")
    for dataset_name in ("mnist", "fashion_mnist"):
        even, uneven = (photo_accuracy(dataset_name, args.images, lit) for lit in (False, True))
        print(f"{dataset_name:<14} evenly lit {100 * even:5.1f} %   lamp to one side {100 * uneven:5.1f} %")


if __name__ == "__main__":
    main()
