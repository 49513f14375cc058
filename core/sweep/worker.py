"""A sweep worker: claim a queued trial, train it, repeat until the queue is empty, a limit, or a stop.

The CLI runs one in the foreground; the Sweep page runs one on a background thread of the server.
Either way each trial trains in its own process through the scheduler given, as Train-page runs do.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from core.access import Action, Caller, require
from core.datasets import Dataset
from core.runs.store import RunStore
from core.sweep.study import INTERRUPTED, Sweep, claim_trial, fail_interrupted, has_waiting_trial, requeue
from core.sweep.trial import ERROR, TrialOutcome, run_trial
from core.training import TrainingJob
from core.training.isolated import prepare_worker
from core.training.scheduler import TrainingScheduler


class SweepWorker:
    """Runs a sweep's queued trials one after another; `stop()` ends the running one within a batch."""

    def __init__(
        self,
        sweep: Sweep,
        storage: BaseStorage,
        dataset: Dataset,
        *,
        scheduler: TrainingScheduler,
        store: RunStore,
        by: Caller,
        max_trials: int | None = None,
        pruner: optuna.pruners.BasePruner | None = None,
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ):
        require(by, Action.TRAIN)
        if dataset.name != sweep.spec.dataset:
            raise ValueError(f"The sweep is for {sweep.spec.dataset} but the data is {dataset.name}.")
        if max_trials is not None and max_trials < 1:
            raise ValueError("A worker runs at least one trial.")
        self.sweep = sweep
        self.storage = storage
        self.dataset = dataset
        self.scheduler = scheduler
        self.store = store
        self.by = by
        self.max_trials = max_trials
        self.pruner = pruner
        self.on_outcome = on_outcome
        self.outcomes: list[TrialOutcome] = []
        self.error: str | None = None
        # The job of the trial training now, for a live view; None between trials.
        self.job: TrainingJob | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Run on a background thread (the app's way)."""
        self._thread = threading.Thread(target=self.run, name=f"sweep-{self.sweep.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop: the running trial ends within a batch, is failed as interrupted and queued again."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker is done; False if the timeout passed first."""
        return self._done.wait(timeout)

    def run(self) -> list[TrialOutcome]:
        """Run trials until none is queued, `max_trials` are done, or `stop()`; the outcomes, in order."""
        try:
            fail_interrupted(self.sweep.study, self.storage)
            while not self._stop.is_set() and (self.max_trials is None or len(self.outcomes) < self.max_trials):
                trial = claim_trial(self.sweep, self.storage, self.pruner)
                if trial is None:
                    break
                self._run_one(trial)
        except Exception as error:  # the storage went away, say: end cleanly and say why
            self.error = _plain(error)
        finally:
            self.job = None
            self._done.set()
        return self.outcomes

    def _run_one(self, trial: optuna.Trial) -> None:
        try:
            outcome = run_trial(
                trial, self.sweep, self.dataset, storage=self.storage, scheduler=self.scheduler, store=self.store,
                by=self.by, stop=self._stop, on_job=self._set_job, on_started=self._prepare_next,
            )  # fmt: skip
        except Exception as error:
            self._give_back(trial, _plain(error))
            raise
        finally:
            self.job = None
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _set_job(self, job: TrainingJob) -> None:
        self.job = job

    def _prepare_next(self) -> None:
        # TensorFlow takes seconds to import: the next trial's process gets ready while this one trains.
        # Only once this trial's job has taken its process: prepared earlier, it could take this one.
        # Not after the last trial: an unused process costs an import's CPU and holds memory until it leaves.
        if self._stop.is_set() or (self.max_trials is not None and len(self.outcomes) + 1 >= self.max_trials):
            return
        try:
            waiting = has_waiting_trial(self.sweep, self.storage)
        except Exception:  # the storage's trouble is met, and said, when the next trial is claimed
            return
        if waiting:
            with contextlib.suppress(OSError):  # the next trial then starts its own process, only slower
                prepare_worker()

    def _give_back(self, trial: optuna.Trial, why: str) -> None:
        """A trial this worker could not finish is failed and queued again, never left RUNNING."""
        with contextlib.suppress(Exception):
            self.storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, why)
            self.storage.set_trial_user_attr(trial._trial_id, ERROR, why)
            if self.storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                requeue(trial.study, self.storage.get_trial(trial._trial_id))


def _plain(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"The sweep stopped: {text[0] if text else type(error).__name__}"
