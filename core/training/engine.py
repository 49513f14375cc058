"""The training engine: build, fit and score one model, and the result it leaves behind.

Both the in-process `TrainingJob` and the training process (`core.training.isolated`) call it, so
dependencies run one way: job -> isolated -> engine. It never calls Streamlit.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from core import runtime
from core.architectures import ModelSpec, build_model
from core.curves import HISTORY_POINTS
from core.datasets import Dataset
from core.drawn_test_set import drawn_styles, drawn_test_set
from core.evaluation import EVALUATION_BATCH, confusion_matrix, evaluate_steadily
from core.training.averaging import AveragedWeightsAtEpochEnd, averaging_momentum
from core.training.config import MAX_EPOCHS, TrainConfig
from core.training.data import batches, training_split
from core.training.live_control import LiveControl, TrainingFailed
from core.training.progress import EpochRecord, Event, JobState, ProgressRecord
from core.training.stop_signal import StopSignal


@dataclass
class TrainingResult:
    """What a finished, stopped or failed job leaves behind."""

    state: JobState
    spec: ModelSpec
    config: TrainConfig
    device: str
    epochs: tuple[EpochRecord, ...]
    events: tuple[Event, ...]
    elapsed_s: float
    # Per-batch training curve, at most HISTORY_POINTS evenly spaced points.
    batch_steps: tuple[int, ...] = ()
    batch_loss: tuple[float, ...] = ()
    batch_accuracy: tuple[float, ...] = ()
    model: keras.Model | None = None
    # One validation confusion matrix per finished epoch (rows: true class, columns: predicted).
    confusion_matrices: list[np.ndarray] = field(default_factory=list)
    test_loss: float | None = None
    test_accuracy: float | None = None
    # Accuracy on the drawn versions of the test set, by style (see core/drawn_test_set.py).
    drawn_accuracy: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    # The run id the `on_finish` hook saved this result under, if it returns one.
    saved_run_id: str | None = None


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimiser a config names; the learning rate is set per batch by the live control."""
    averaging = {}
    if config.average_weights:
        averaging = {"use_ema": True, "ema_momentum": averaging_momentum(steps_per_epoch)}
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay, **averaging)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9, nesterov=True, **averaging)
    return keras.optimizers.Adam(config.learning_rate, **averaging)


def score(model: keras.Model, images: np.ndarray, labels: np.ndarray, label_smoothing: float = 0.0):
    """Loss, accuracy and confusion matrix of a model on uint8 images, in inference mode."""
    classes = model.output_shape[-1]
    probabilities = model.predict(batches(images, labels, EVALUATION_BATCH, shuffle=False, classes=classes), verbose=0)
    targets = np.eye(classes)[labels] * (1 - label_smoothing) + label_smoothing / classes
    loss = float(-np.mean(np.sum(targets * np.log(np.clip(probabilities, 1e-7, 1.0)), axis=1)))
    predicted = probabilities.argmax(axis=1)
    return loss, float(np.mean(predicted == labels)), confusion_matrix(labels, predicted, classes)


def train_model(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    progress: ProgressRecord,
    commands,
    stop: StopSignal,
    resume: threading.Event,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainingResult:
    """Build and train one model, reporting into `progress` and obeying the queue and events given.

    Runs on whatever thread or process calls it; never raises: a failure comes back as a FAILED result.
    """
    control: LiveControl | None = None
    model = None
    try:
        strategy = runtime.training_strategy()
        progress.update(state=JobState.RUNNING, device=runtime.describe_devices(strategy), queue_position=None)
        data = training_split(dataset.x_train, dataset.y_train, config)
        use_mixed = config.mixed_precision and bool(runtime.gpus())
        control = LiveControl(
            config,
            progress,
            commands,
            stop,
            resume,
            validate=lambda m: score(m, data.x_val, data.y_val, config.label_smoothing),
            n_train=len(data.y_train),
        )
        with strategy.scope():
            model = build_model(
                spec, config.seed, "mixed_float16" if use_mixed else None, num_classes=dataset.info.num_classes
            )
            optimizer = make_optimizer(config, control.batches_per_epoch)
            if use_mixed:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            model.compile(
                optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            )
        model.fit(
            batches(
                data.x_train,
                data.y_train,
                config.batch_size,
                shuffle=True,
                seed=config.seed,
                classes=dataset.info.num_classes,
            ),
            epochs=MAX_EPOCHS,
            # Averaged weights first, so validation, early stopping and the rest see the model as kept.
            callbacks=[*_averaging(config), control, *_early_stopping(config), *extra_callbacks],
            # The pipeline reshuffles itself every epoch.
            shuffle=False,
            verbose=0,
        )
        stopped = stop.is_set()  # read once: a stop arriving now must not leave a finished run unscored
        state = JobState.STOPPED if stopped else JobState.FINISHED
        result = result_from(progress, spec, config, state, model=model, control=control)
        if stopped and not stop.score_after:
            return result
        # The test set is looked at once, after training, and never steers it.
        result.test_loss, result.test_accuracy, _ = score(model, dataset.x_test, dataset.y_test)
        result.drawn_accuracy = drawn_accuracy(model, dataset)
        return result
    except Exception as error:
        return result_from(progress, spec, config, JobState.FAILED, _plain_error(error), model, control)


def drawn_accuracy(model: keras.Model, dataset: Dataset) -> dict[str, float]:
    """Accuracy on each drawn version of the test set, read as the Predict page reads a drawing (steadily)."""
    accuracies = {}
    for style in drawn_styles(dataset.name):
        drawn = drawn_test_set(dataset.name, dataset.x_test, dataset.y_test, style)
        accuracies[style] = evaluate_steadily(model, drawn.images, drawn.labels).accuracy
    return accuracies


def _averaging(config: TrainConfig) -> list[keras.callbacks.Callback]:
    return [AveragedWeightsAtEpochEnd()] if config.average_weights else []


def _early_stopping(config: TrainConfig) -> list[keras.callbacks.Callback]:
    patience = config.early_stopping_patience
    if not patience:
        return []
    return [keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)]


def result_from(
    progress: ProgressRecord,
    spec: ModelSpec,
    config: TrainConfig,
    state: JobState,
    error: str | None = None,
    model: keras.Model | None = None,
    control: LiveControl | None = None,
) -> TrainingResult:
    """A result carrying everything the progress record holds so far."""
    snapshot, curves = progress.snapshot(), progress.curves(HISTORY_POINTS, keep_extremes=False)
    return TrainingResult(
        state=state,
        spec=spec,
        config=config,
        device=snapshot.device,
        epochs=snapshot.epochs,
        events=snapshot.events,
        elapsed_s=progress.elapsed(),
        batch_steps=tuple(curves.steps.tolist()),
        batch_loss=tuple(curves.loss.tolist()),
        batch_accuracy=tuple(curves.accuracy.tolist()),
        model=model,
        confusion_matrices=control.confusion_matrices if control else [],
        error=error,
    )


def save_result(result: TrainingResult, on_finish: Callable[[TrainingResult], str | None] | None) -> TrainingResult:
    """Hand a result with a model to `on_finish` (which saves it); a failure to save becomes its error."""
    if on_finish is not None and result.model is not None:
        try:
            result.saved_run_id = on_finish(result)
        except Exception as error:
            result.error = f"Training ended but the run was not saved. {error}"
    return result


def _plain_error(error: Exception) -> str:
    """A failure in words a user can act on, with the technical detail last."""
    if isinstance(error, (TrainingFailed, ValueError)):
        return str(error)
    name = type(error).__name__
    if "ResourceExhausted" in name or isinstance(error, MemoryError):
        return "Out of memory: try a smaller batch size or a smaller architecture."
    last_line = traceback.format_exception_only(type(error), error)[-1].strip()
    return f"Training failed: {last_line}"
