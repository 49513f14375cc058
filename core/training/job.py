"""`TrainingJob`: the handle pages hold on one model being trained, observable and controllable.

The job never calls Streamlit. Readers take `snapshot()`s; controls are messages applied by the
training thread (or process) at the next batch. The training itself is `core.training.engine`.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Sequence

import keras

from core.access import LOCAL, Action, Caller, require
from core.architectures import ModelSpec
from core.curves import LIVE_POINTS, CurvesView
from core.datasets import Dataset
from core.training.config import MAX_EPOCHS, TrainConfig
from core.training.engine import TrainingResult, result_from, save_result, train_model
from core.training.isolated import train_in_child
from core.training.live_control import Command
from core.training.progress import JobState, ProgressRecord, Snapshot
from core.training.stop_signal import StopSignal


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
        if spec != spec.for_dataset(dataset.name):
            raise ValueError(
                f"These settings are not made for {dataset.info.display_name} (flips for clothing only, drawings "
                "drawn the dataset's way): build them with ModelSpec.for_dataset."
            )
        if isolated and extra_callbacks:
            raise ValueError("Extra callbacks cannot be sent to a training process; train in this process.")
        self.id = uuid.uuid4().hex[:12]
        self.dataset = dataset
        self.spec = spec
        self.config = config
        self.isolated = isolated
        # Who started it (the scheduler sets it): only they, or an admin, may stop or pause it.
        self.owner = LOCAL.owner
        self.result: TrainingResult | None = None
        self._on_finish = on_finish
        self._extra_callbacks = list(extra_callbacks)
        self._progress = ProgressRecord()
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._stop = StopSignal()
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

    def curves(self, max_points: int = LIVE_POINTS) -> CurvesView:
        """The per-batch loss and accuracy so far, raw and smoothed, at most `max_points` of each."""
        return self._progress.curves(max_points)

    @property
    def state(self) -> JobState:
        return self._progress.snapshot_state.state

    @property
    def pause_requested(self) -> bool:
        """Whether someone asked for a pause not since undone (the run itself pauses at its next batch)."""
        return not self._resume.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is over; False if the timeout passed first."""
        return self._done.wait(timeout)

    # --- controls -------------------------------------------------------------------------------

    def stop(self, *, by: Caller, score: bool = True) -> None:
        """Stop within one batch, keeping the weights learned so far; a queued job just leaves the queue.

        With `score=False` the model is saved without its test and drawn-set scores.
        """
        require(by, Action.CONTROL, owner=self.owner)
        self._stop.request(score_after=score)
        self._resume.set()
        if self.state is JobState.QUEUED and self._leave_queue is not None:
            self._leave_queue(self)

    def pause(self, *, by: Caller) -> None:
        require(by, Action.CONTROL, owner=self.owner)
        self._resume.clear()

    def resume(self, *, by: Caller) -> None:
        require(by, Action.CONTROL, owner=self.owner)
        self._resume.set()

    def set_dropout(self, rate: float, *, by: Caller) -> None:
        require(by, Action.CONTROL, owner=self.owner)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be at least 0 and below 1, got {rate}.")
        self._commands.put(Command("dropout", float(rate)))

    def set_learning_rate(self, rate: float, *, by: Caller) -> None:
        require(by, Action.CONTROL, owner=self.owner)
        if not 0 < rate <= 10:
            raise ValueError(f"Learning rate must be above 0 and at most 10, got {rate}.")
        self._commands.put(Command("learning_rate", float(rate)))

    def set_epochs(self, epochs: int, *, by: Caller) -> None:
        require(by, Action.CONTROL, owner=self.owner)
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
