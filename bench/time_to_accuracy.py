"""Timed training runs for bench/train_speed.py: the seed recipe, and the app's job on a thread or in its process.

Every run's clock starts before its data is prepared and its model built. Where a callback scores
the test set after each epoch, the time it spends is taken off the clock.
"""

from __future__ import annotations

import time
from dataclasses import replace

import keras
import numpy as np

import core.runtime  # noqa: F401  (thread settings before TensorFlow starts)
from core.datasets import Dataset
from core.training import TrainingJob
from core.training.data import split_for_training
from core.training.presets import Preset

# How often the bench looks at a job in a training process; bounds the error of its epoch times.
POLL_S = 0.05
# Enough images for the warm-up to go through every step a timed run takes, few enough to take seconds.
WARM_UP_IMAGES = 2_000


class TestAccuracyClock(keras.callbacks.Callback):
    """After each epoch: test accuracy and wall-clock since `started`, minus the time spent here."""

    def __init__(self, x_test: np.ndarray, y_test: np.ndarray, started: float, scale: float = 1.0):
        super().__init__()
        self.x_test = x_test[..., None].astype(np.float32) * scale
        self.y_test = y_test
        self.started = started
        self.excluded = 0.0
        self.points: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        began = time.perf_counter()
        elapsed = began - self.started - self.excluded
        probabilities = self.model.predict(self.x_test, batch_size=1000, verbose=0)
        accuracy = float(np.mean(probabilities.argmax(1) == self.y_test))
        self.points.append({"epoch": epoch + 1, "seconds": round(elapsed, 1), "test_accuracy": round(accuracy, 4)})
        self.excluded += time.perf_counter() - began


class StopAtTarget(keras.callbacks.Callback):
    """End a run once the target is reached: the question is how soon, not how far."""

    def __init__(self, clock: TestAccuracyClock, target: float):
        super().__init__()
        self.clock = clock
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.points and self.clock.points[-1]["test_accuracy"] >= self.target:
            self.model.stop_training = True


def time_to(points: list[dict], target: float) -> float | None:
    """Seconds to the first epoch at or above the target; None if no epoch got there."""
    return next((p["seconds"] for p in points if p["test_accuracy"] >= target), None)


def seed_model() -> keras.Model:
    """The seed tutorials' CNN (seeds 000 and 001): Conv32-Pool-Conv64-Pool-Dense128-Dropout(0.5)-Dense10."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def as_seed_input(images: np.ndarray) -> np.ndarray:
    """Float32 pixels divided by 255, shaped (N, 28, 28, 1), as the seeds prepare them."""
    return images.reshape(-1, 28, 28, 1).astype("float32") / 255


def run_reference(dataset: Dataset, preset: Preset, seed: int, max_epochs: int, target: float, validate: bool) -> dict:
    """The seed recipe until it reaches the target or `max_epochs` pass.

    With `validate`, it does the app's work: it trains on the images the app's job trains on
    (`preset`'s split for this seed) and scores the app's validation images after every epoch, as
    the seeds' own `validation_split`/`validation_data` does. Without, it trains on all the
    training images and never validates (the figure this bench reported before).
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    config = replace(preset.config, seed=seed)
    if validate:
        data = split_for_training(
            dataset.x_train, dataset.y_train, config.validation_split, seed, config.train_size
        )  # fmt: skip
        x_train, y_train = data.x_train, data.y_train
        validation = (as_seed_input(data.x_val), data.y_val)
    else:
        x_train, y_train = dataset.x_train[: config.train_size], dataset.y_train[: config.train_size]
        validation = None
    model = seed_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = TestAccuracyClock(dataset.x_test, dataset.y_test, started, scale=1 / 255)
    model.fit(
        as_seed_input(x_train), y_train, epochs=max_epochs, batch_size=64, validation_data=validation, verbose=0,
        callbacks=[clock, StopAtTarget(clock, target)],
    )  # fmt: skip
    return {
        "seed": seed,
        "training_images": len(y_train),
        "validation_images": len(validation[1]) if validation else 0,
        "seconds_to_target": time_to(clock.points, target),
        "points": clock.points,
    }


def run_job_in_thread(dataset: Dataset, preset: Preset, seed: int, target: float) -> dict:
    """The app's `TrainingJob` on a thread of this process, its test accuracy read after every epoch."""
    started = time.perf_counter()
    clock = TestAccuracyClock(dataset.x_test, dataset.y_test, started)
    job = TrainingJob(dataset, preset.spec, replace(preset.config, seed=seed), extra_callbacks=[clock])
    job.start()  # no scheduler: one job at a time here, and who may train is not measured
    job.wait()
    if job.result.error:
        raise RuntimeError(job.result.error)
    return {
        "seed": seed,
        "seconds_to_target": time_to(clock.points, target),
        "final_test_accuracy": round(job.result.test_accuracy, 4),
        "total_seconds": clock.points[-1]["seconds"] if clock.points else None,
        "points": clock.points,
    }


def run_job_in_process(dataset: Dataset, preset: Preset, seed: int, target: float) -> dict:
    """The app's path: the job in a fresh worker process (`isolated=True`), the worker's start on the clock.

    A worker takes no callbacks, so test accuracy is known only after the last epoch: the run counts
    as reaching the target at the end of its last epoch if its final test accuracy does (an upper
    bound on its time to the target; the thread figure says at which epoch the recipe gets there).
    """
    started = time.perf_counter()
    job = TrainingJob(dataset, preset.spec, replace(preset.config, seed=seed), isolated=True)
    job.start()
    training_from, epoch_ends, done = None, [], False
    while not done:
        done = job.wait(POLL_S)
        snapshot, now = job.snapshot(), round(time.perf_counter() - started, 1)
        if training_from is None and snapshot.device:  # the worker names its device when training begins
            training_from = now
        epoch_ends += [now] * (len(snapshot.epochs) - len(epoch_ends))
    if job.result.error:
        raise RuntimeError(job.result.error)
    reached = job.result.test_accuracy >= target
    return {
        "seed": seed,
        "seconds_to_target": epoch_ends[-1] if reached and epoch_ends else None,
        "final_test_accuracy": round(job.result.test_accuracy, 4),
        "worker_start_seconds": training_from,
        "epoch_end_seconds": epoch_ends,
        # After the last epoch the worker also scores the test set and its drawn versions.
        "seconds_to_result": now,
    }


def warm_up(dataset: Dataset, preset: Preset) -> dict:
    """One short run of each arm that trains in this process, its result thrown away.

    The first `fit` in a process also starts TensorFlow's thread pools and builds its kernels, so
    whichever timed run came first would carry that once-only cost: before this warm-up it was always
    round 0's reference, which flattered every speedup. The worker-process arm starts a fresh
    process each time and pays its own start on the clock, on purpose, so it needs none.
    """
    small = replace(preset, config=replace(preset.config, train_size=WARM_UP_IMAGES, epochs=1))
    seconds = {}
    for name, run in (
        ("reference", lambda: run_reference(dataset, small, 0, 1, 1.0, validate=True)),
        ("default", lambda: run_job_in_thread(dataset, small, 0, 1.0)),
    ):
        started = time.perf_counter()
        run()
        seconds[name] = round(time.perf_counter() - started, 1)
    return {"training_images": WARM_UP_IMAGES, "epochs": 1, "seconds": seconds}
