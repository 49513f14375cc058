"""`TrainingJob`: one model trained by `fit` on a background thread, observable and controllable.

The job never calls Streamlit. Readers take `snapshot()`s; controls are messages applied by the
training thread at the next batch.
"""

from __future__ import annotations

import queue
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from core import runtime
from core.architectures import ModelSpec, build_model
from core.datasets import Dataset
from core.datasets.registry import NUM_CLASSES
from core.evaluation import EVALUATION_BATCH, confusion_matrix
from core.training.config import MAX_EPOCHS, TrainConfig
from core.training.data import batches, split_for_training
from core.training.live_control import Command, LiveControl, TrainingFailed
from core.training.progress import EpochRecord, Event, JobState, ProgressRecord, Snapshot


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
    # Per-batch training curve (downsampled to bounded length), as the live panel drew it.
    batch_steps: tuple[int, ...] = ()
    batch_loss: tuple[float, ...] = ()
    batch_accuracy: tuple[float, ...] = ()
    model: keras.Model | None = None
    # One validation confusion matrix per finished epoch (rows: true class, columns: predicted).
    confusion_matrices: list[np.ndarray] = field(default_factory=list)
    test_loss: float | None = None
    test_accuracy: float | None = None
    error: str | None = None
    # The run id the `on_finish` hook saved this result under, if it returns one.
    saved_run_id: str | None = None


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimiser a config names; the learning rate is set per batch by the live control."""
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9, nesterov=True)
    return keras.optimizers.Adam(config.learning_rate)


def score(model: keras.Model, images: np.ndarray, labels: np.ndarray, label_smoothing: float = 0.0):
    """Loss, accuracy and confusion matrix of a model on uint8 images, in inference mode."""
    probabilities = model.predict(batches(images, labels, EVALUATION_BATCH, shuffle=False), verbose=0)
    targets = np.eye(NUM_CLASSES)[labels] * (1 - label_smoothing) + label_smoothing / NUM_CLASSES
    loss = float(-np.mean(np.sum(targets * np.log(np.clip(probabilities, 1e-7, 1.0)), axis=1)))
    predicted = probabilities.argmax(axis=1)
    return loss, float(np.mean(predicted == labels)), confusion_matrix(labels, predicted)


def train_model(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    progress: ProgressRecord,
    commands,
    stop: threading.Event,
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
        data = split_for_training(
            dataset.x_train, dataset.y_train, config.validation_split, config.seed, config.train_size
        )
        use_mixed = config.mixed_precision and bool(runtime.gpus())
        with strategy.scope():
            model = build_model(spec, config.seed, "mixed_float16" if use_mixed else None)
            optimizer = make_optimizer(config)
            if use_mixed:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            model.compile(
                optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            )
        control = LiveControl(
            config,
            progress,
            commands,
            stop,
            resume,
            validate=lambda m: score(m, data.x_val, data.y_val, config.label_smoothing),
            n_train=len(data.y_train),
        )
        model.fit(
            batches(data.x_train, data.y_train, config.batch_size, shuffle=True, seed=config.seed),
            epochs=MAX_EPOCHS,
            callbacks=[control, *_early_stopping(config), *extra_callbacks],
            # The pipeline reshuffles itself every epoch.
            shuffle=False,
            verbose=0,
        )
        state = JobState.STOPPED if stop.is_set() else JobState.FINISHED
        result = result_from(progress, spec, config, state, model=model, control=control)
        # The test set is looked at once, after training, and never steers it.
        result.test_loss, result.test_accuracy, _ = score(model, dataset.x_test, dataset.y_test)
        return result
    except Exception as error:
        return result_from(progress, spec, config, JobState.FAILED, _plain_error(error), model, control)


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
    snapshot = progress.snapshot()
    return TrainingResult(
        state=state,
        spec=spec,
        config=config,
        device=snapshot.device,
        epochs=snapshot.epochs,
        events=snapshot.events,
        elapsed_s=progress.elapsed(),
        batch_steps=snapshot.batch_steps,
        batch_loss=snapshot.batch_loss,
        batch_accuracy=snapshot.batch_accuracy,
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


class TrainingJob:
    """Train one model on one dataset; start it through a `TrainingScheduler`.

    With `isolated=True` the model is trained (and saved by `on_finish`, which must then be picklable)
    in a child process: the memory TensorFlow keeps after a model is gone is returned when the process
    ends, and a crash in training cannot take the app down. The result then carries no model.
    """

    def __init__(
        self,
        dataset: Dataset,
        spec: ModelSpec,
        config: TrainConfig,
        *,
        on_finish: Callable[[TrainingResult], str | None] | None = None,
        extra_callbacks: Sequence[keras.callbacks.Callback] = (),
        isolated: bool = False,
    ):
        if config.dataset != dataset.name:
            raise ValueError(f"The config is for {config.dataset!r} but the dataset is {dataset.name!r}.")
        if isolated and extra_callbacks:
            raise ValueError("Extra callbacks cannot be sent to a training process; train in this process.")
        self.id = uuid.uuid4().hex[:12]
        self.dataset = dataset
        self.spec = spec
        self.config = config
        self.isolated = isolated
        self.result: TrainingResult | None = None
        self._on_finish = on_finish
        self._extra_callbacks = list(extra_callbacks)
        self._progress = ProgressRecord()
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished_callbacks: list[Callable[[TrainingJob], None]] = []
        self._leave_queue: Callable[[TrainingJob], bool] | None = None
        self._progress.update(total_epochs=config.epochs, dropout=spec.dropout)

    # --- reading --------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self._progress.snapshot()

    @property
    def state(self) -> JobState:
        return self._progress.snapshot_state.state

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is over; False if the timeout passed first."""
        return self._done.wait(timeout)

    # --- controls -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop within one batch, keeping the weights learned so far; a queued job just leaves the queue."""
        self._stop.set()
        self._resume.set()
        if self.state is JobState.QUEUED and self._leave_queue is not None:
            self._leave_queue(self)

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def set_dropout(self, rate: float) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be at least 0 and below 1, got {rate}.")
        self._commands.put(Command("dropout", float(rate)))

    def set_learning_rate(self, rate: float) -> None:
        if not 0 < rate <= 10:
            raise ValueError(f"Learning rate must be above 0 and at most 10, got {rate}.")
        self._commands.put(Command("learning_rate", float(rate)))

    def set_epochs(self, epochs: int) -> None:
        if not 1 <= epochs <= MAX_EPOCHS:
            raise ValueError(f"Epochs must be 1-{MAX_EPOCHS}, got {epochs}.")
        self._commands.put(Command("epochs", int(epochs)))

    # --- for the scheduler ----------------------------------------------------------------------

    def attach(self, on_finished: Callable[[TrainingJob], None], cancel: Callable[[TrainingJob], bool]) -> None:
        """Called by the scheduler: who to tell when the job is over, and how to leave its queue."""
        self._finished_callbacks.append(on_finished)
        self._leave_queue = cancel

    def set_queue_position(self, position: int | None) -> None:
        self._progress.update(queue_position=position)

    def start(self) -> None:
        """Begin training on a background thread (the scheduler calls this when a slot is free)."""
        target = self._run_in_child if self.isolated else self._run
        self._thread = threading.Thread(target=target, name=f"training-{self.id}", daemon=True)
        self._thread.start()

    def end_without_starting(self) -> None:
        """End a job that never started."""
        self._finish(result_from(self._progress, self.spec, self.config, JobState.STOPPED))

    # --- the training thread --------------------------------------------------------------------

    def _run(self) -> None:
        result = train_model(
            self.dataset, self.spec, self.config, self._progress, self._commands, self._stop, self._resume,
            self._extra_callbacks,
        )  # fmt: skip
        self._finish(save_result(result, self._on_finish))

    def _run_in_child(self) -> None:
        from core.training.isolated import train_in_child

        self._finish(
            train_in_child(
                self.dataset, self.spec, self.config, self._on_finish, self._progress, self._commands, self._stop,
                self._resume,
            )
        )  # fmt: skip

    def _finish(self, result: TrainingResult) -> None:
        self.result = result
        self._progress.update(state=result.state, error=result.error, eta_s=None, queue_position=None)
        self._done.set()
        for callback in self._finished_callbacks:
            callback(self)


def _plain_error(error: Exception) -> str:
    """A failure in words a user can act on, with the technical detail last."""
    if isinstance(error, (TrainingFailed, ValueError)):
        return str(error)
    name = type(error).__name__
    if "ResourceExhausted" in name or isinstance(error, MemoryError):
        return "Out of memory: try a smaller batch size or a smaller architecture."
    last_line = traceback.format_exception_only(type(error), error)[-1].strip()
    return f"Training failed: {last_line}"
