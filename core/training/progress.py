"""What a training job reports: a thread-safe record it writes and immutable snapshots readers take."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from core.curves import LIVE_POINTS, BatchCurves, CurvesView


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def is_over(self) -> bool:
        return self in (JobState.FINISHED, JobState.STOPPED, JobState.FAILED)


@dataclass(frozen=True)
class Event:
    """A change made during training, drawn as a marker on the curves."""

    step: int
    epoch: int
    setting: str
    old: float | str
    new: float | str
    elapsed_s: float

    def describe(self) -> str:
        return f"{self.setting}: {self.old} -> {self.new} (epoch {self.epoch + 1}, step {self.step})"


@dataclass(frozen=True)
class EpochRecord:
    """Metrics at the end of one epoch."""

    epoch: int
    step: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    learning_rate: float
    seconds: float
    # The share of the epoch's batches trained: below 1 only for the last epoch of a run stopped partway through it.
    fraction: float = 1.0


def epochs_trained(epochs: Sequence[EpochRecord]) -> float:
    """Epochs trained, counting a last epoch a stop cut short by its share: 2.4, or 3 for three whole ones."""
    total = round(sum((record.fraction for record in epochs), 0.0), 2)
    return int(total) if total.is_integer() else total


@dataclass(frozen=True)
class Snapshot:
    """Everything a live panel draws, as of one moment."""

    state: JobState = JobState.QUEUED
    epoch: int = 0
    total_epochs: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    step: int = 0
    # The latest batch's training loss; the curves themselves come from `ProgressRecord.curves()`.
    last_loss: float | None = None
    epochs: tuple[EpochRecord, ...] = ()
    learning_rate: float = 0.0
    dropout: float = 0.0
    samples_per_second: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    device: str = ""
    events: tuple[Event, ...] = ()
    error: str | None = None
    queue_position: int | None = None
    # Grows with every change: a reader that drew revision N has nothing new to draw until it moves.
    revision: int = 0

    @property
    def epoch_words(self) -> str:
        """Words like "epoch 3 of 10", counting from one."""
        return f"epoch {min(self.epoch + 1, self.total_epochs)} of {self.total_epochs}"

    @property
    def fraction_done(self) -> float:
        total = self.total_epochs * self.batches_per_epoch
        return min(self.step / total, 1.0) if total else 0.0


@dataclass
class ProgressRecord:
    """The mutable side: the job's thread writes here under a lock; `snapshot()` copies it out."""

    snapshot_state: Snapshot = field(default_factory=Snapshot)
    batch_curves: BatchCurves = field(default_factory=BatchCurves)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started_at: float | None = None
    paused_s: float = 0.0

    def _change(self, **changes) -> None:
        """Apply changes to the snapshot; callers hold the lock."""
        self.snapshot_state = replace(self.snapshot_state, revision=self.snapshot_state.revision + 1, **changes)

    def update(self, **changes) -> None:
        with self.lock:
            self._change(**changes)

    def add_batch(self, step: int, loss: float, accuracy: float, **changes) -> None:
        with self.lock:
            self.batch_curves.add(step, loss, accuracy)
            self._change(step=step, last_loss=loss, **changes)

    def add_epoch(self, record: EpochRecord) -> None:
        with self.lock:
            self._change(epochs=(*self.snapshot_state.epochs, record))

    def add_event(self, event: Event) -> None:
        """Log a live change; changes of one setting with no batch between them are one change."""
        with self.lock:
            events = list(self.snapshot_state.events)
            # A slider moved step by step (or moved back) sends a command per step: log where it ended.
            same = next((i for i in reversed(range(len(events))) if events[i].setting == event.setting), None)
            if same is not None and events[same].step == event.step:
                event = replace(event, old=events.pop(same).old)
            # Dropout's old rate is read back rounded, so a slider moved back may differ from it in the last digits.
            if not _same_value(event.old, event.new):
                events.append(event)
            self._change(events=tuple(events))

    def elapsed(self) -> float:
        """Seconds spent training so far, not counting pauses."""
        if self.started_at is None:
            return 0.0
        return time.monotonic() - self.started_at - self.paused_s

    def snapshot(self) -> Snapshot:
        with self.lock:
            return self.snapshot_state

    def curves(self, max_points: int = LIVE_POINTS, keep_extremes: bool = True) -> CurvesView:
        """The per-batch curves so far, at most `max_points` per metric (see `BatchCurves.view`)."""
        with self.lock:
            return self.batch_curves.view(max_points, keep_extremes)


def _same_value(old: float | str, new: float | str) -> bool:
    if isinstance(old, str) or isinstance(new, str):
        return old == new
    return math.isclose(old, new, rel_tol=1e-6, abs_tol=1e-9)
