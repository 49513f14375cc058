"""How well models read drawings: the starters, and one recipe trained with and without "Robust to drawings".

    .venv/bin/python -m bench.drawing_robustness [--datasets mnist,fashion_mnist] [--epochs-scale 1.0]

Prints JSON. For each dataset, in one run: the shipped starter's accuracy on the test images and on
each drawn version of the test set (core/drawn_test_set.py); then the starter's recipe
(scripts/train_pretrained.py) trained twice on this machine's data, with and without the drawing
augmentation and otherwise the same, each scored the same way, with its training speed. The two
trainings run in this process one after the other, so their speeds compare like for like.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from bench.machine import machine_info
from core.datasets import load_dataset
from core.evaluation import evaluate_model, evaluate_steadily
from core.pretrained import load_pretrained, pretrained_model
from core.training import TrainingJob
from core.training.engine import drawn_accuracy
from core.training.presets import PRESETS
from scripts.train_pretrained import PRESET, STARTER_OPTIONS


def scores(model, dataset) -> dict:
    return {
        "test_images": round(evaluate_model(model, dataset.x_test, dataset.y_test).accuracy, 4),
        # The drawn sets are read steadily, as Predict reads a drawing: the test images read the same way too.
        "test_images_steady": round(evaluate_steadily(model, dataset.x_test, dataset.y_test).accuracy, 4),
        **{f"drawn_{style}": round(value, 4) for style, value in drawn_accuracy(model, dataset).items()},
    }


def train(dataset, drawings: bool, epochs_scale: float) -> dict:
    """The starters' recipe (the preset with the script's options), with or without drawings."""
    preset = PRESETS[PRESET].for_dataset(dataset.name)
    options = dict(STARTER_OPTIONS[dataset.name])
    epochs = max(1, round(options.pop("epochs") * epochs_scale))
    rate = options.pop("drawings", preset.spec.augmentation.drawing_rate)
    augmentation = replace(preset.spec.augmentation, drawing_rate=rate * drawings)
    spec = replace(preset.spec, augmentation=augmentation, width=options.pop("width", preset.spec.width))
    job = TrainingJob(dataset, spec, replace(preset.config, epochs=epochs, **options))
    started = time.perf_counter()
    job.start()  # one job at a time here: no scheduler needed
    job.wait()
    result, snapshot = job.result, job.snapshot()
    images = snapshot.step * preset.config.batch_size
    return {
        "drawing_rate": augmentation.drawing_rate,
        "epochs": len(result.epochs),
        "wall_s": round(time.perf_counter() - started, 1),
        "training_images_per_s": round(images / result.elapsed_s),
        **scores(result.model, dataset),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,fashion_mnist")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="train for this share of the starters' epochs")
    args = parser.parse_args()

    report = {"machine": machine_info()}
    for name in args.datasets.split(","):
        dataset = load_dataset(name)
        entry = {
            "data": dataset.source,
            "starter": {"trained_on": pretrained_model(name).trained_on, **scores(load_pretrained(name), dataset)},
            "recipe_without_drawings": train(dataset, drawings=False, epochs_scale=args.epochs_scale),
            "recipe_with_drawings": train(dataset, drawings=True, epochs_scale=args.epochs_scale),
        }
        without, with_ = entry["recipe_without_drawings"], entry["recipe_with_drawings"]
        entry["throughput_cost_of_drawings"] = round(
            1 - with_["training_images_per_s"] / without["training_images_per_s"], 3
        )
        report[name] = entry
        print(json.dumps({name: entry}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
