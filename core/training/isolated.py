"""Training in a child process, so each model's memory is returned when it ends and a crash stays there.

TensorFlow keeps about 20 MB per trained model for the life of its process, whatever Keras frees,
and a long-lived app trains many models. A worker (`python -m core.training.worker`) imports
TensorFlow, trains one model, saves it through the job's (picklable) `on_finish`, sends the result
back without the model, and exits. Progress travels over one pipe as the same calls the
`ProgressRecord` would get in-process; the request and then stop, pause and live changes travel
over the other.

The worker is started with `subprocess`, not `multiprocessing`: spawn would re-run the parent's
`__main__` in the child, and under Streamlit that is the whole app script.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.architectures import ModelSpec
from core.datasets import Dataset
from core.training.config import TrainConfig
from core.training.engine import TrainingResult, result_from, save_result, train_model
from core.training.live_control import Command
from core.training.progress import JobState, ProgressRecord
from core.training.stop_signal import StopSignal

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "core.training.worker"
# How often the relay looks for messages and mirrors controls; bounds the delay of stop and pause.
RELAY_INTERVAL_S = 0.05
RESULT = "result"
# A prepared worker holds a few hundred MB of its own; one nobody used for this long exits by itself.
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


def serve_one(inbox: Connection, outbox: Connection, idle_s: float) -> None:
    """The worker's main: wait for one request (TensorFlow is already imported), train, report, exit.

    The worker then leaves by `os._exit` (worker.py): whatever it writes must be closed before the result is sent.
    """
    try:
        if not inbox.poll(idle_s):
            return
        request: TrainingRequest = inbox.recv()
    except (EOFError, OSError):
        return  # retired before it got a job
    stop, resume, commands = StopSignal(), threading.Event(), queue.SimpleQueue()
    resume.set()
    threading.Thread(target=_obey, args=(inbox, stop, resume, commands), name="controls", daemon=True).start()
    progress = ForwardingProgress(outbox=outbox, parent_gone=stop)
    result = train_model(request.dataset, request.spec, request.config, progress, commands, stop, resume)
    result = save_result(result, request.on_finish)
    result.model = None  # saved (or not) here; the parent never needs the weights in memory
    with contextlib.suppress(OSError):  # the app is gone; the run is saved all the same
        outbox.send((RESULT, (result,), {}))


def _obey(inbox: Connection, stop: StopSignal, resume: threading.Event, commands: queue.SimpleQueue) -> None:
    """In the worker: apply the parent's controls as they come; if the parent is gone, stop (and keep the run)."""
    while True:
        try:
            kind, *value = inbox.recv()
        except (EOFError, OSError):
            kind, value = "stop", [True]
        if kind == "stop":
            stop.request(score_after=value[0])
            resume.set()
            return
        if kind == "pause":
            resume.clear()
        elif kind == "resume":
            resume.set()
        elif kind == "command":
            commands.put(value[0])


@dataclass
class WorkerProcess:
    """A worker process that imports TensorFlow at once and then waits for one training request."""

    idle_s: float = SPARE_IDLE_S
    process: subprocess.Popen = field(init=False)
    started_at: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        child_inbox, to_child = os.pipe()
        from_child, child_outbox = os.pipe()
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        }
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(child_inbox), str(child_outbox), str(self.idle_s)],
                pass_fds=(child_inbox, child_outbox), env=environment,
            )  # fmt: skip
        finally:
            # Only the child keeps these ends, so each side sees EOF the moment the other is gone.
            os.close(child_inbox)
            os.close(child_outbox)
        self._requests = Connection(to_child, readable=False)
        self._messages = Connection(from_child, writable=False)
        self._stopped = False
        self._paused = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def ready(self) -> bool:
        """Alive, and far enough from its idle limit to be given a job."""
        return self.alive and time.monotonic() - self.started_at < self.idle_s - SPARE_MARGIN_S

    def run(
        self,
        request: TrainingRequest,
        progress: ProgressRecord,
        commands: queue.SimpleQueue,
        stop: StopSignal,
        resume: threading.Event,
    ) -> TrainingResult:
        """Send the request, replay the worker's progress into `progress`, mirror controls; the result."""
        try:
            self._requests.send(request)
        except OSError:
            return _lost(request, progress, self.process)
        while True:
            with contextlib.suppress(OSError):  # a worker that is gone is noticed just below
                self._mirror_controls(commands, stop, resume)
            if not self._messages.poll(RELAY_INTERVAL_S):
                if self.alive:
                    continue
                if not self._messages.poll():
                    return _lost(request, progress, self.process)
            try:
                name, args, kwargs = self._messages.recv()
            except (EOFError, OSError):
                return _lost(request, progress, self.process)
            if name == RESULT:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)
                return args[0]
            getattr(progress, name)(*args, **kwargs)

    def _mirror_controls(self, commands: queue.SimpleQueue, stop: StopSignal, resume: threading.Event) -> None:
        if stop.is_set() and not self._stopped:
            self._requests.send(("stop", stop.score_after))
            self._stopped = True
        paused = not resume.is_set()
        if paused != self._paused and not self._stopped:
            self._requests.send(("pause",) if paused else ("resume",))
            self._paused = paused
        while True:
            try:
                command: Command = commands.get_nowait()
            except queue.Empty:
                return
            self._requests.send(("command", command))

    def retire(self) -> None:
        """End a worker that has no job (closing its request pipe lets it exit by itself)."""
        self._requests.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _lost(request: TrainingRequest, progress: ProgressRecord, process: subprocess.Popen) -> TrainingResult:
    """The result of a worker that died without reporting: say how, in words a user can act on."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    code = process.returncode
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
    stop: StopSignal,
    resume: threading.Event,
) -> TrainingResult:
    """Train in a worker process (the spare one if ready), reporting into `progress` as if in-process."""
    request = TrainingRequest(dataset, spec, config, on_finish)
    try:
        return _take_worker().run(request, progress, commands, stop, resume)
    except Exception as error:  # whatever goes wrong, the job must end and say why
        return result_from(progress, spec, config, JobState.FAILED, f"Could not run the training process: {error}")
