"""The Keras callback through which a running job reports progress and obeys its controls.

Everything here runs on the training thread, between batches: commands from other threads are
queued and applied at the next batch, so the model is never touched mid-step.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass

import keras
import numpy as np

from core.architectures.live_dropout import LiveDropout
from core.training.config import TrainConfig
from core.training.data import batches_per_epoch
from core.training.progress import EpochRecord, Event, JobState, ProgressRecord
from core.training.schedule import learning_rate_at

PLATEAU_PATIENCE = 2
PLATEAU_FACTOR = 0.5
# Weight of the newest batch in the samples-per-second moving average.
SPEED_SMOOTHING = 0.1


@dataclass(frozen=True)
class Command:
    """A live change requested from another thread."""

    setting: str  # "dropout", "learning_rate" or "epochs"
    value: float


class TrainingFailed(Exception):
    """Training cannot go on; the message says why in plain words."""


class LiveControl(keras.callbacks.Callback):
    """Records progress into a `ProgressRecord` and applies stop, pause and live changes."""

    def __init__(
        self,
        config: TrainConfig,
        progress: ProgressRecord,
        commands: queue.SimpleQueue,
        stop_requested: threading.Event,
        resume: threading.Event,
        validate,
        n_train: int,
    ):
        super().__init__()
        self.config = config
        self.progress = progress
        self.commands = commands
        self.stop_requested = stop_requested
        self.resume = resume
        self.validate = validate
        self.n_train = n_train
        self.batches_per_epoch = batches_per_epoch(n_train, config.batch_size)
        self.total_epochs = config.epochs
        self.peak_learning_rate = config.learning_rate
        self.plateau_scale = 1.0
        self.best_val_loss = math.inf
        self.epochs_without_improvement = 0
        self.step = 0
        self.epoch = 0
        self.confusion_matrices: list[np.ndarray] = []
        self._previous = (0.0, 0.0)  # running means of loss and accuracy after the previous batch
        self._batch_started = 0.0
        self._epoch_started = 0.0
        self._speed = 0.0
        # The share of the epoch's batches trained when a stop came: below 1 if it came before the last batch.
        self._share_trained = 1.0

    # --- helpers -----------------------------------------------------------------------------

    def dropout_layers(self) -> list[LiveDropout]:
        return [layer for layer in self.model.layers if isinstance(layer, LiveDropout)]

    def current_dropout(self) -> float:
        layers = self.dropout_layers()
        return float(layers[0].rate.numpy()) if layers else 0.0

    def learning_rate(self) -> float:
        warmup = round(self.config.warmup_epochs * self.batches_per_epoch)
        total = self.total_epochs * self.batches_per_epoch
        base = learning_rate_at(self.config.schedule, self.peak_learning_rate, self.step, total, warmup)
        return base * self.plateau_scale

    def _event(self, setting: str, old, new) -> None:
        self.progress.add_event(Event(self.step, self.epoch, setting, old, new, round(self.progress.elapsed(), 2)))

    def _apply(self, command: Command) -> None:
        if command.setting == "dropout":
            old = self.current_dropout()
            for layer in self.dropout_layers():
                layer.set_rate(command.value)
            self._event("dropout", round(old, 4), command.value)
        elif command.setting == "learning_rate":
            old, self.peak_learning_rate = self.peak_learning_rate, command.value
            self._event("learning_rate", old, command.value)
        elif command.setting == "epochs":
            # Never below the epoch in progress: it finishes, then training ends.
            new = max(int(command.value), self.epoch + 1)
            old, self.total_epochs = self.total_epochs, new
            self._event("epochs", old, new)
        self.progress.update(total_epochs=self.total_epochs, dropout=self.current_dropout())

    def _wait_while_paused(self) -> None:
        if self.resume.is_set():
            return
        self.progress.update(state=JobState.PAUSED, eta_s=None)
        paused_at = time.monotonic()
        while not self.resume.wait(0.1) and not self.stop_requested.is_set():
            pass
        self.progress.paused_s += time.monotonic() - paused_at
        if not self.stop_requested.is_set():
            self.progress.update(state=JobState.RUNNING)

    # --- Keras hooks ---------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.progress.started_at = time.monotonic()
        self.progress.update(
            state=JobState.RUNNING,
            total_epochs=self.total_epochs,
            batches_per_epoch=self.batches_per_epoch,
            dropout=self.current_dropout(),
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._previous = (0.0, 0.0)
        self._epoch_started = time.monotonic()

    def on_train_batch_begin(self, batch, logs=None):
        self._wait_while_paused()
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            self._apply(command)
        self.model.optimizer.learning_rate.assign(self.learning_rate())
        self._batch_started = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss, accuracy = float(logs.get("loss", math.nan)), float(logs.get("accuracy", math.nan))
        if not math.isfinite(loss):
            raise TrainingFailed(
                f"The loss became {loss} at step {self.step + 1}: training diverged. "
                "Try a lower learning rate, or turn batch norm on."
            )
        self.step += 1
        # Keras reports running means over the epoch; recover this batch's own values from them.
        seen = min((batch + 1) * self.config.batch_size, self.n_train)
        size = seen - batch * self.config.batch_size
        previous_seen = seen - size
        batch_loss = (loss * seen - self._previous[0] * previous_seen) / size
        batch_accuracy = (accuracy * seen - self._previous[1] * previous_seen) / size
        self._previous = (loss, accuracy)

        seconds = max(time.monotonic() - self._batch_started, 1e-6)
        speed = size / seconds
        self._speed = speed if not self._speed else (1 - SPEED_SMOOTHING) * self._speed + SPEED_SMOOTHING * speed
        remaining = (self.total_epochs - self.epoch) * self.batches_per_epoch - (batch + 1)
        self.progress.add_batch(
            self.step,
            max(batch_loss, 0.0),
            min(max(batch_accuracy, 0.0), 1.0),
            epoch=self.epoch,
            batch=batch + 1,
            learning_rate=self.learning_rate(),
            samples_per_second=self._speed,
            elapsed_s=self.progress.elapsed(),
            eta_s=remaining * self.config.batch_size / self._speed if self._speed else None,
        )
        if self.stop_requested.is_set():
            self.model.stop_training = True
            self._share_trained = (batch + 1) / self.batches_per_epoch
            self.progress.update(state=JobState.STOPPING)

    def on_epoch_end(self, epoch, logs=None):
        if self._share_trained < 1 and not self.stop_requested.score_after:
            # Stopped to be set aside unscored (a pruned trial): the part-epoch it was in when the stop
            # came needs no validation pass either; its record ends with the last whole epoch.
            return
        logs = logs if logs is not None else {}
        val_loss, val_accuracy, confusion = self.validate(self.model)
        # Later callbacks (early stopping) read validation results from the epoch logs.
        logs.update(val_loss=val_loss, val_accuracy=val_accuracy)
        self.confusion_matrices.append(confusion)
        self.progress.add_epoch(
            EpochRecord(
                epoch=epoch,
                step=self.step,
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                learning_rate=self.learning_rate(),
                seconds=time.monotonic() - self._epoch_started,
                fraction=self._share_trained,
            )
        )
        self._track_plateau(val_loss)
        # A stop that came between the last batch and here ends training with this whole epoch.
        if epoch + 1 >= self.total_epochs or self.stop_requested.is_set():
            self.model.stop_training = True

    def _track_plateau(self, val_loss: float) -> None:
        if val_loss < self.best_val_loss - 1e-4:
            self.best_val_loss, self.epochs_without_improvement = val_loss, 0
            return
        self.epochs_without_improvement += 1
        if self.config.schedule == "plateau" and self.epochs_without_improvement >= PLATEAU_PATIENCE:
            old = self.learning_rate()
            self.plateau_scale *= PLATEAU_FACTOR
            self.epochs_without_improvement = 0
            self._event("learning_rate (plateau)", old, self.learning_rate())
