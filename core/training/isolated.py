"""Training in a child process, so each model's memory is returned when it ends and a crash stays there.

TensorFlow keeps about 20 MB per trained model for the life of its process, whatever Keras frees,
and a long-lived app trains many models. A spawned worker imports TensorFlow, trains one model,
saves it through the job's (picklable) `on_finish`, sends the result back without the model, and
exits. Progress travels over a pipe as the same calls the `ProgressRecord` would get in-process;
controls travel the other way through multiprocessing events and a queue.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from core.architectures import ModelSpec
from core.datasets import Dataset
from core.training.config import TrainConfig
from core.training.job import TrainingResult, result_from, save_result, train_model
from core.training.progress import JobState, ProgressRecord

# Spawn, not fork: the parent runs TensorFlow and Streamlit threads, which fork would copy mid-flight.
SPAWN = multiprocessing.get_context("spawn")
# How often the relay looks for messages and mirrors controls; bounds the delay of stop and pause.
RELAY_INTERVAL_S = 0.05
RESULT = "result"
# A prepared worker holds about 300 MB of its own; one nobody used for this long exits by itself.
SPARE_IDLE_S = 600.0
# ...and is not handed a job this close to that, so it can never leave with a job unread.
SPARE_MARGIN_S = 60.0


@dataclass(frozen=True)
class TrainingRequest:
    """Everything a worker needs for one job."""

    dataset: Dataset
    spec: ModelSpec
    config: TrainConfig
    on_finish: Callable[[TrainingResult], str | None] | None


@dataclass
class ForwardingProgress(ProgressRecord):
    """A progress record that also sends every change to the parent (in the worker)."""

    outbox: Connection | None = None
    parent_gone: threading.Event | None = None

    def _send(self, name: str, *args: Any, **kwargs: Any) -> None:
        try:
            self.outbox.send((name, args, kwargs))
        except OSError:
            # The app went away: stop training; the run is still saved, as stopped.
            self.parent_gone.set()

    def update(self, **changes) -> None:
        super().update(**changes)
        self._send("update", **changes)

    def add_batch(self, step: int, loss: float, accuracy: float, **changes) -> None:
        super().add_batch(step, loss, accuracy, **changes)
        self._send("add_batch", step, loss, accuracy, **changes)

    def add_epoch(self, record) -> None:
        super().add_epoch(record)
        self._send("add_epoch", record)

    def add_event(self, event) -> None:
        super().add_event(event)
        self._send("add_event", event)


def _serve_one(requests: Connection, outbox: Connection, commands, stop, resume, idle_s: float) -> None:
    """The worker's main: wait for one request (TensorFlow is already imported), train, report, exit."""
    try:
        if not requests.poll(idle_s):
            return
        request: TrainingRequest = requests.recv()
    except EOFError:
        return  # retired before it got a job
    progress = ForwardingProgress(outbox=outbox, parent_gone=stop)
    result = train_model(request.dataset, request.spec, request.config, progress, commands, stop, resume)
    result = save_result(result, request.on_finish)
    result.model = None  # saved (or not) here; the parent never needs the weights in memory
    with contextlib.suppress(OSError):  # the app is gone; the run is saved all the same
        outbox.send((RESULT, (result,), {}))


@dataclass
class WorkerProcess:
    """A spawned process that imports TensorFlow at once and then waits for one training request."""

    idle_s: float = SPARE_IDLE_S
    process: multiprocessing.process.BaseProcess = field(init=False)
    started_at: float = field(init=False, default_factory=time.monotonic)

    @property
    def ready(self) -> bool:
        """Alive, and far enough from its idle limit to be given a job."""
        return self.process.is_alive() and time.monotonic() - self.started_at < self.idle_s - SPARE_MARGIN_S

    def __post_init__(self) -> None:
        receive_requests, self._requests = SPAWN.Pipe(duplex=False)
        self._messages, send_messages = SPAWN.Pipe(duplex=False)
        self.commands = SPAWN.Queue()
        self.stop = SPAWN.Event()
        self.resume = SPAWN.Event()
        self.resume.set()
        self.process = SPAWN.Process(
            target=_serve_one,
            args=(receive_requests, send_messages, self.commands, self.stop, self.resume, self.idle_s),
            name="explorer-training",
            daemon=True,
        )
        self.process.start()
        # Only the child keeps these ends, so the parent sees EOF the moment the child is gone.
        receive_requests.close()
        send_messages.close()

    def run(
        self,
        request: TrainingRequest,
        progress: ProgressRecord,
        commands: queue.SimpleQueue,
        stop: threading.Event,
        resume: threading.Event,
    ) -> TrainingResult:
        """Send the request, replay the worker's progress into `progress`, mirror controls; the result."""
        try:
            self._requests.send(request)
        except OSError:
            return _lost(request, progress, self.process)
        while True:
            self._mirror_controls(commands, stop, resume)
            if not self._messages.poll(RELAY_INTERVAL_S):
                if self.process.is_alive():
                    continue
                if not self._messages.poll():
                    return _lost(request, progress, self.process)
            try:
                name, args, kwargs = self._messages.recv()
            except (EOFError, OSError):
                return _lost(request, progress, self.process)
            if name == RESULT:
                self.process.join(timeout=30)
                return args[0]
            getattr(progress, name)(*args, **kwargs)

    def _mirror_controls(self, commands: queue.SimpleQueue, stop: threading.Event, resume: threading.Event) -> None:
        if stop.is_set() and not self.stop.is_set():
            self.stop.set()
        if resume.is_set() != self.resume.is_set():
            self.resume.set() if resume.is_set() else self.resume.clear()
        while True:
            try:
                self.commands.put(commands.get_nowait())
            except queue.Empty:
                return

    def retire(self) -> None:
        """End a worker that has no job (closing its request pipe lets it exit by itself)."""
        self._requests.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()


def _lost(request: TrainingRequest, progress: ProgressRecord, process) -> TrainingResult:
    """The result of a worker that died without reporting: say how, in words a user can act on."""
    process.join(timeout=5)
    code = process.exitcode
    if code is not None and code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
        if -code == signal.SIGKILL:
            how += " (often the system running out of memory)"
    else:
        how = f"ended unexpectedly (exit code {code})"
    error = (
        f"The training process {how}. Runs saved before are safe. "
        "Try again, or with a smaller batch size or architecture."
    )
    return result_from(progress, request.spec, request.config, JobState.FAILED, error)


_spare: WorkerProcess | None = None
_spare_lock = threading.Lock()


def prepare_worker() -> None:
    """Start a worker ahead of time, so the next job does not wait seconds for TensorFlow to import."""
    global _spare
    with _spare_lock:
        if _spare is None or not _spare.ready:
            _spare = WorkerProcess()


def _take_worker() -> WorkerProcess:
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is not None and worker.ready:
        return worker
    return WorkerProcess()


def retire_spare_worker() -> None:
    """Stop the worker kept ready, if any (it holds a few hundred MB while it waits)."""
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is not None:
        worker.retire()


def train_in_child(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    on_finish: Callable[[TrainingResult], str | None] | None,
    progress: ProgressRecord,
    commands: queue.SimpleQueue,
    stop: threading.Event,
    resume: threading.Event,
) -> TrainingResult:
    """Train in a worker process (the spare one if ready), reporting into `progress` as if in-process."""
    request = TrainingRequest(dataset, spec, config, on_finish)
    try:
        return _take_worker().run(request, progress, commands, stop, resume)
    except Exception as error:  # whatever goes wrong, the job must end and say why
        return result_from(progress, spec, config, JobState.FAILED, f"Could not run the training process: {error}")
