"""The pause between one epoch's end and the next one's first batch, with tf.data's autotuner on and off.

    .venv/bin/python -m bench.epoch_gaps [--epochs 5] [--rounds 1] [--train-size N]

Prints JSON. Each arm trains the default recipe on Fashion-MNIST through the training engine, in
this process, and a callback after the live control times each gap between epochs (validation is
before it, off the gap) and each epoch's batches per second. The arms:

- autotuned: the input pipeline as it was, `num_parallel_calls` and `prefetch` set to AUTOTUNE;
- fixed: the pipeline of `core.training.data.batches`, autotuner off, fixed parallelism.

An autotuned iterator runs a tuning thread that sleeps ever longer between tunings, and destroying
the iterator at the end of an epoch waits for that sleep to end, with no CPU used.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import threading
import time
from dataclasses import replace
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

import core.runtime  # noqa: F401  (thread settings before TensorFlow starts)
from bench.machine import machine_info
from core.datasets import load_dataset
from core.datasets.registry import NUM_CLASSES
from core.training import engine
from core.training.presets import PRESETS
from core.training.progress import ProgressRecord
from core.training.stop_signal import StopSignal
from core.training.worker import WORKER_NICENESS


def autotuned_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0, classes: int = NUM_CLASSES
) -> tf.data.Dataset:
    """The input pipeline before the autotuner was turned off: `core/training/data.py`'s `batches` at 616e057."""
    pixels = tf.constant(images, dtype=tf.uint8)
    label_tensor = tf.constant(labels, dtype=tf.int32)
    order = tf.data.Dataset.range(len(labels))
    if shuffle:
        order = order.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)

    def gather(index_batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch = tf.cast(tf.gather(pixels, index_batch), tf.float32)[..., tf.newaxis]
        return batch, tf.one_hot(tf.gather(label_tensor, index_batch), classes)

    return order.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class GapClock(keras.callbacks.Callback):
    """Seconds from each epoch's end (after validation) to the next epoch's first batch."""

    def __init__(self):
        super().__init__()
        self.ended_at: float | None = None
        self.gaps: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.ended_at = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0 and self.ended_at is not None:
            self.gaps.append(round(time.perf_counter() - self.ended_at, 2))


def run_arm(pipeline, dataset, epochs: int, train_size: int | None, seed: int) -> dict:
    """Train the default recipe with the pipeline given; its gaps and batches per second."""
    preset = PRESETS["default"].for_dataset(dataset.name)
    config = replace(preset.config, epochs=epochs, train_size=train_size, seed=seed)
    progress, clock, resume = ProgressRecord(), GapClock(), threading.Event()
    resume.set()
    with mock.patch.object(engine, "batches", pipeline):
        result = engine.train_model(
            dataset, preset.spec, config, progress, queue.SimpleQueue(), StopSignal(), resume, [clock]
        )
    if result.error:
        raise SystemExit(result.error)
    batches_per_epoch = progress.snapshot().batches_per_epoch
    return {
        "gaps_s": clock.gaps,
        "batches_per_s": [round(batches_per_epoch / record.seconds, 2) for record in result.epochs],
    }


def summary(runs: list[dict]) -> dict:
    gaps = [gap for run in runs for gap in run["gaps_s"]]
    speeds = [speed for run in runs for speed in run["batches_per_s"][1:]]  # the first epoch traces
    return {
        "gap_s_median": statistics.median(gaps),
        "gap_s_max": max(gaps),
        "gaps_over_5_s": sum(gap > 5 for gap in gaps),
        "gaps": len(gaps),
        "batches_per_s_median_after_epoch_1": round(statistics.median(speeds), 2) if speeds else None,
        "runs": runs,
    }


ARMS = {"autotuned": autotuned_batches, "fixed": engine.batches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="at least 2: the gaps are between epochs")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both arms, the order alternating")
    parser.add_argument("--train-size", type=int, help="train on a stratified subset (default: all images)")
    parser.add_argument("--arms", default="autotuned,fixed", help="which arms to run, comma-separated")
    parser.add_argument("--nice", type=int, default=WORKER_NICENESS, help="niceness, the training process's by default")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the gaps are between epochs")
    os.nice(args.nice)
    dataset = load_dataset("fashion_mnist")
    arms = {name: pipeline for name, pipeline in ARMS.items() if name in args.arms.split(",")}
    runs: dict[str, list[dict]] = {name: [] for name in arms}
    for round_number in range(args.rounds):
        order = list(arms) if round_number % 2 == 0 else list(reversed(arms))
        for name in order:
            runs[name].append(run_arm(arms[name], dataset, args.epochs, args.train_size, seed=round_number))
    report = {
        "machine": machine_info(),
        "dataset": f"{dataset.info.display_name} ({dataset.source})",
        "epochs": args.epochs,
        "train_size": args.train_size or "all",
        "niceness": args.nice,
        **{name: summary(measured) for name, measured in runs.items()},
    }
    if len(arms) == len(ARMS):
        speeds = [report[name]["batches_per_s_median_after_epoch_1"] for name in ARMS]
        report["fixed_vs_autotuned_throughput"] = round(speeds[1] / speeds[0], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
