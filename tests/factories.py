"""Real objects for tests: tiny slices of the real data, and finished training runs without training."""

from __future__ import annotations

import numpy as np

from core.architectures import ModelSpec, build_model
from core.datasets import Dataset, SourceKind, load_dataset
from core.training import EpochRecord, Event, JobState, TrainConfig, TrainingResult


def tiny_mnist(n_train: int = 600, n_test: int = 200) -> Dataset:
    """The first real digits of the embedded sample: enough to learn from, quick to train on."""
    return _first_of(load_dataset("mnist"), n_train, n_test)


def tiny_fashion(n_train: int = 600, n_test: int = 200) -> Dataset:
    """The first real Fashion-MNIST images of whatever source this machine has."""
    return _first_of(load_dataset("fashion_mnist"), n_train, n_test)


def _first_of(sample: Dataset, n_train: int, n_test: int) -> Dataset:
    return Dataset(
        sample.info,
        sample.x_train[:n_train],
        sample.y_train[:n_train],
        sample.x_test[:n_test],
        sample.y_test[:n_test],
        source_kind=SourceKind.SAMPLE,
        source=f"the first {n_train} training images of the {sample.source}",
    )


def make_training_result(
    seed: int = 0, dataset: str = "mnist", dropout: float = 0.0, state: JobState = JobState.FINISHED
) -> TrainingResult:
    """A three-epoch result with curves, one live change and an (untrained) softmax-regression model."""
    spec = ModelSpec("softmax", dropout=dropout, batch_norm=False)
    epochs = tuple(
        EpochRecord(epoch=i, step=10 * (i + 1), loss=1.0 / (i + 1), accuracy=0.5 + 0.1 * i, val_loss=1.1 / (i + 1),
                    val_accuracy=0.45 + 0.1 * i, learning_rate=1e-3, seconds=2.0)
        for i in range(3)
    )  # fmt: skip
    return TrainingResult(
        state=state,
        spec=spec,
        config=TrainConfig(dataset=dataset, epochs=3, seed=seed),
        device="CPU (2 cores)",
        epochs=epochs,
        events=(Event(step=12, epoch=1, setting="dropout", old=0.0, new=0.5, elapsed_s=3.0),),
        elapsed_s=6.0,
        batch_steps=tuple(range(1, 31)),
        batch_loss=tuple(np.linspace(2, 0.5, 30)),
        batch_accuracy=tuple(np.linspace(0.1, 0.8, 30)),
        model=build_model(spec, seed=seed),
        confusion_matrices=[np.eye(10, dtype=np.int64) * (i + 1) for i in range(3)],
        test_loss=0.9,
        test_accuracy=0.71 + 0.01 * seed,
        drawn_accuracy={"strokes": 0.5, "bold strokes": 0.6},
    )


def tensorboard_scalars(run_folder) -> dict[str, list[float]]:
    """Every float scalar in a saved run's TensorBoard logs, as TensorBoard reads them, by "split/tag"."""
    import tensorflow as tf

    scalars: dict[str, list[float]] = {}
    for split in ("train", "validation"):
        for event_file in (run_folder / "tensorboard" / split).glob("events.out.tfevents.*"):
            for event in tf.compat.v1.train.summary_iterator(str(event_file)):
                for value in event.summary.value:
                    number = tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value
                    if np.asarray(number).dtype.kind == "f":
                        scalars.setdefault(f"{split}/{value.tag}", []).append(float(number))
    return scalars
