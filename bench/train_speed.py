"""Time-to-accuracy on the full Fashion-MNIST: the seed tutorials' way against the app's recipes.

    .venv/bin/python bench/train_speed.py [--only reference,default,preset,overhead] [--repeats 3]

Prints JSON. Wall-clock includes model building and compilation; the test-set evaluation after
each epoch is done by a callback whose own time is taken off the clock.

- reference: Keras Sequential Conv32(3x3)-MaxPool-Conv64(3x3)-MaxPool-Flatten-Dense128-Dropout(0.5)
  -Dense10, Adam, batch 64, `model.fit` on float32 arrays divided by 255 (as the seeds do it);
- default: the app's default settings through `TrainingJob`;
- preset: the "best accuracy in 10 minutes" preset;
- overhead: throughput of `fit` with the app's live callback against `fit` with no callbacks.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import core.runtime  # noqa: E402,F401  (thread settings before TensorFlow starts)
from core.architectures import build_model  # noqa: E402
from core.datasets import SourceKind, load_dataset  # noqa: E402
from core.training import TrainConfig, TrainingJob, TrainingScheduler  # noqa: E402
from core.training.data import batches, split_for_training  # noqa: E402
from core.training.engine import make_optimizer  # noqa: E402
from core.training.live_control import LiveControl  # noqa: E402
from core.training.presets import PRESETS  # noqa: E402
from core.training.progress import ProgressRecord  # noqa: E402

TARGET = 0.91
PRESET_TARGET = 0.93
PRESET_BUDGET_S = 600


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


def time_to(points: list[dict], target: float) -> float | None:
    return next((p["seconds"] for p in points if p["test_accuracy"] >= target), None)


def run_reference(dataset, max_epochs: int) -> dict:
    started = time.perf_counter()
    x_train = dataset.x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    model = keras.Sequential(
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
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = TestAccuracyClock(dataset.x_test, dataset.y_test, started, scale=1 / 255)
    stopper = StopAtTarget(clock)
    model.fit(x_train, dataset.y_train, epochs=max_epochs, batch_size=64, verbose=0, callbacks=[clock, stopper])
    return {"points": clock.points, "seconds_to_91": time_to(clock.points, TARGET)}


class StopAtTarget(keras.callbacks.Callback):
    """End a run once the target is reached: the question is how soon, not how far."""

    def __init__(self, clock: TestAccuracyClock):
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.points and self.clock.points[-1]["test_accuracy"] >= TARGET:
            self.model.stop_training = True


def run_job(dataset, spec, config: TrainConfig) -> dict:
    started = time.perf_counter()
    clock = TestAccuracyClock(dataset.x_test, dataset.y_test, started)
    job = TrainingJob(dataset, spec, config, extra_callbacks=[clock])
    TrainingScheduler(1).submit(job)
    job.wait()
    if job.result.error:
        raise RuntimeError(job.result.error)
    return {
        "points": clock.points,
        "seconds_to_91": time_to(clock.points, TARGET),
        "seconds_to_93": time_to(clock.points, PRESET_TARGET),
        "final_test_accuracy": round(job.result.test_accuracy, 4),
        "total_seconds": clock.points[-1]["seconds"] if clock.points else None,
    }


def run_overhead(dataset, steps: int, repeats: int) -> dict:
    """Cost of the live callback: `fit` over `steps` batches with and without it, alternating.

    On a shared machine wall-clock swings by half from one minute to the next, so the CPU time of
    this process (what the callback actually adds) is reported next to the wall-clock throughput.
    """
    spec, config = PRESETS["default"].spec, PRESETS["default"].config
    data = split_for_training(dataset.x_train, dataset.y_train, config.validation_split, 0)
    stream = batches(data.x_train, data.y_train, config.batch_size, shuffle=True).repeat()

    def measure(with_callback: bool) -> tuple[float, float]:
        model = build_model(spec, 0)
        model.compile(make_optimizer(config), keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
        model.fit(stream, steps_per_epoch=20, epochs=1, verbose=0)  # compile and warm up
        callbacks = []
        if with_callback:
            resume = threading.Event()
            resume.set()
            control = LiveControl(
                config, ProgressRecord(), queue.SimpleQueue(), threading.Event(), resume,
                validate=lambda m: (0.0, 0.0, np.zeros((10, 10))), n_train=steps * config.batch_size,
            )  # fmt: skip
            control.total_epochs = 10**6  # only the per-batch work is measured here
            callbacks = [control]
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(stream, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=callbacks)
        samples = steps * config.batch_size
        return samples / (time.perf_counter() - wall), samples / (time.process_time() - cpu)

    plain, live = [], []
    for _ in range(repeats):
        plain.append(measure(False))
        live.append(measure(True))
    wall_plain, wall_live = (statistics.median(r[0] for r in runs) for runs in (plain, live))
    cpu_plain, cpu_live = (statistics.median(r[1] for r in runs) for runs in (plain, live))
    return {
        "samples_per_cpu_second_without_callbacks": round(cpu_plain),
        "samples_per_cpu_second_with_live_callback": round(cpu_live),
        "overhead_percent_cpu_time": round(100 * (1 - cpu_live / cpu_plain), 2),
        "samples_per_s_wall_without_callbacks": round(wall_plain),
        "samples_per_s_wall_with_live_callback": round(wall_live),
        "overhead_percent_wall_clock": round(100 * (1 - wall_live / wall_plain), 2),
        "runs": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="reference,default,preset,overhead")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the reference and the default")
    parser.add_argument("--preset-repeats", type=int, default=1, help="runs of the 10-minute preset")
    parser.add_argument("--reference-max-epochs", type=int, default=15)
    args = parser.parse_args()
    dataset = load_dataset("fashion_mnist")
    if dataset.source_kind is SourceKind.SAMPLE:
        sys.exit("Needs the full Fashion-MNIST: sudo apt install dataset-fashion-mnist")

    wanted = args.only.split(",")
    report: dict = {"dataset": dataset.source, "target": TARGET}
    for name in ("reference", "default", "preset"):
        if name not in wanted:
            continue
        runs = []
        for _ in range(args.preset_repeats if name == "preset" else args.repeats):
            if name == "reference":
                runs.append(run_reference(dataset, args.reference_max_epochs))
            else:
                preset = PRESETS["default" if name == "default" else "best_10_minutes"].for_dataset(dataset.name)
                runs.append(run_job(dataset, preset.spec, preset.config))
            print(json.dumps({name: runs[-1]}), file=sys.stderr, flush=True)
        times = [r["seconds_to_91"] for r in runs if r["seconds_to_91"] is not None]
        report[name] = {"runs": runs, "median_seconds_to_91": statistics.median(times) if times else None}
    if "preset" in report:
        runs = report["preset"]["runs"]
        report["preset"]["median_final_test_accuracy"] = statistics.median(r["final_test_accuracy"] for r in runs)
        report["preset"]["median_total_seconds"] = statistics.median(r["total_seconds"] for r in runs)
        report["preset"]["goal"] = f">= {PRESET_TARGET:.1%} within {PRESET_BUDGET_S} s"
    if "reference" in report and "default" in report:
        ref, ours = report["reference"]["median_seconds_to_91"], report["default"]["median_seconds_to_91"]
        report["speedup_to_91"] = round(ref / ours, 2) if ref and ours else None
    if "overhead" in wanted:
        report["overhead"] = run_overhead(dataset, steps=200, repeats=max(7, args.repeats))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
