"""What a training job reports: a thread-safe record it writes and immutable snapshots readers take."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from enum import Enum


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


@dataclass(frozen=True)
class Snapshot:
    """Everything a live panel draws, as of one moment."""

    state: JobState = JobState.QUEUED
    epoch: int = 0
    total_epochs: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    step: int = 0
    batch_steps: tuple[int, ...] = ()
    batch_loss: tuple[float, ...] = ()
    batch_accuracy: tuple[float, ...] = ()
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

    @property
    def fraction_done(self) -> float:
        total = self.total_epochs * self.batches_per_epoch
        return min(self.step / total, 1.0) if total else 0.0


class DownsampledSeries:
    """Per-batch values kept in bounded memory: when full, every other point is dropped and the stride doubles."""

    def __init__(self, capacity: int = 2_000):
        self.capacity = capacity
        self.stride = 1
        self._pending = 0
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {}

    def add(self, step: int, **values: float) -> None:
        self._pending += 1
        if self._pending < self.stride:
            return
        self._pending = 0
        self.steps.append(step)
        for name, value in values.items():
            self.values.setdefault(name, []).append(value)
        if len(self.steps) >= self.capacity:
            self.steps = self.steps[::2]
            self.values = {name: series[::2] for name, series in self.values.items()}
            self.stride *= 2


@dataclass
class ProgressRecord:
    """The mutable side: the job's thread writes here under a lock; `snapshot()` copies it out."""

    snapshot_state: Snapshot = field(default_factory=Snapshot)
    series: DownsampledSeries = field(default_factory=DownsampledSeries)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started_at: float | None = None
    paused_s: float = 0.0

    def update(self, **changes) -> None:
        with self.lock:
            self.snapshot_state = replace(self.snapshot_state, **changes)

    def add_batch(self, step: int, loss: float, accuracy: float, **changes) -> None:
        with self.lock:
            self.series.add(step, loss=loss, accuracy=accuracy)
            self.snapshot_state = replace(self.snapshot_state, step=step, **changes)

    def add_epoch(self, record: EpochRecord) -> None:
        with self.lock:
            self.snapshot_state = replace(self.snapshot_state, epochs=(*self.snapshot_state.epochs, record))

    def add_event(self, event: Event) -> None:
        with self.lock:
            self.snapshot_state = replace(self.snapshot_state, events=(*self.snapshot_state.events, event))

    def elapsed(self) -> float:
        """Seconds spent training so far, not counting pauses."""
        if self.started_at is None:
            return 0.0
        return time.monotonic() - self.started_at - self.paused_s

    def snapshot(self) -> Snapshot:
        with self.lock:
            series = self.series
            return replace(
                self.snapshot_state,
                batch_steps=tuple(series.steps),
                batch_loss=tuple(series.values.get("loss", ())),
                batch_accuracy=tuple(series.values.get("accuracy", ())),
            )
