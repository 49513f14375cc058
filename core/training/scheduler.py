"""A process-wide cap on how many jobs train at once; the rest wait in a queue that knows its order."""

from __future__ import annotations

import os
import threading
from collections import deque

from core import runtime
from core.access import Action, Caller, require
from core.access.settings import DEFAULT_MAX_QUEUE
from core.training.job import TrainingJob
from core.training.progress import JobState

MAX_JOBS_ENV = "EXPLORER_MAX_JOBS"
RECENT_JOBS_KEPT = 8


class QueueFull(Exception):
    """The job was not queued: the caller already has one, or the queue is full. The message says which."""


class TrainingScheduler:
    """Starts jobs while fewer than `max_concurrent` run; queues the rest, at most `max_queue`, in order.

    A viewer (core.access) has at most one job queued or running at a time, so one person cannot
    fill a shared server's queue; an admin has no such limit.
    """

    def __init__(self, max_concurrent: int = 1, max_queue: int = DEFAULT_MAX_QUEUE):
        if max_concurrent < 1 or max_queue < 1:
            raise ValueError("At least one job must be allowed to run and one to wait.")
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self._lock = threading.Lock()
        self._running: list[TrainingJob] = []
        self._queue: deque[TrainingJob] = deque()
        # Recent jobs by id, so a page reloaded in the browser finds its job again.
        self._recent: dict[str, TrainingJob] = {}

    def submit(self, job: TrainingJob, *, by: Caller) -> TrainingJob:
        """Start the job now if a slot is free, otherwise queue it; QueueFull if it may not wait."""
        return self.submit_together([job], by=by)[0]

    def submit_together(self, jobs: list[TrainingJob], *, by: Caller) -> list[TrainingJob]:
        """Submit jobs one request asked for (one recipe on both datasets) all at once, or none of them.

        For a viewer's one-request-at-a-time limit they count as one.
        """
        require(by, Action.TRAIN)
        with self._lock:
            self._check_room(by, len(jobs))
            for job in jobs:
                job.owner = by.owner
                job.attach(on_finished=self._job_finished, cancel=self.cancel)
                self._remember(job)
                self._queue.append(job)
            self._start_waiting_jobs()
        return jobs

    def cancel(self, job: TrainingJob) -> bool:
        """Take a job out of the queue before it starts; False if it is already running or over."""
        with self._lock:
            if job not in self._queue:
                return False
            self._queue.remove(job)
            self._report_positions()
        job.end_without_starting()
        return True

    def find(self, job_id: str) -> TrainingJob | None:
        """A job submitted here recently, by id."""
        with self._lock:
            return self._recent.get(job_id)

    def running(self) -> list[TrainingJob]:
        with self._lock:
            return list(self._running)

    def queued(self) -> list[TrainingJob]:
        with self._lock:
            return list(self._queue)

    def _check_room(self, by: Caller, count: int) -> None:
        # Called with the lock held.
        if not by.is_admin and any(job.owner == by.owner for job in [*self._running, *self._queue]):
            raise QueueFull("You already have a run training or waiting: stop it, or let it finish, to start another.")
        free_slots = self.max_concurrent - len(self._running)
        if len(self._queue) + count - max(free_slots, 0) > self.max_queue:
            raise QueueFull(
                f"The training queue is full ({len(self._queue)} runs waiting): try again when one has finished."
            )

    def _remember(self, job: TrainingJob) -> None:
        # Called with the lock held.
        self._recent[job.id] = job
        while len(self._recent) > RECENT_JOBS_KEPT:
            oldest = next(iter(self._recent))
            if not self._recent[oldest].state.is_over:
                break
            del self._recent[oldest]

    def _job_finished(self, job: TrainingJob) -> None:
        with self._lock:
            if job in self._running:
                self._running.remove(job)
            self._start_waiting_jobs()

    def _start_waiting_jobs(self) -> None:
        # Called with the lock held.
        while self._queue and len(self._running) < self.max_concurrent:
            job = self._queue.popleft()
            if job.state is not JobState.QUEUED:
                continue
            self._running.append(job)
            job.start()
        self._report_positions()

    def _report_positions(self) -> None:
        for position, job in enumerate(self._queue, start=1):
            job.set_queue_position(position)


def default_max_jobs() -> int:
    """One job at a time on a CPU (two would only share its cores), two on a GPU; override with EXPLORER_MAX_JOBS."""
    configured = os.environ.get(MAX_JOBS_ENV)
    if configured:
        return max(1, int(configured))
    return 2 if runtime.gpus() else 1


_scheduler: TrainingScheduler | None = None
_scheduler_lock = threading.Lock()


def shared_scheduler() -> TrainingScheduler:
    """The scheduler every session in this process submits to."""
    global _scheduler
    with _scheduler_lock:
        if _scheduler is None:
            _scheduler = TrainingScheduler(default_max_jobs())
        return _scheduler
