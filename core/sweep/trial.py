"""One trial: settings from the sampler, trained in its own process as a Train-page run is, pruned by epoch.

The training process reports each epoch back (the job's progress record); this side hands the
validation accuracy to Optuna and, when the pruner says so, stops the job, which saves the run so
far. Optuna holds the settings, the values and where the run is; the run itself is in the RunStore.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import TrialState

from core.access import LOCAL, Caller
from core.datasets import Dataset
from core.runs.store import RunStore
from core.sweep.saver import TrialSaver
from core.sweep.study import INTERRUPTED, Sweep, requeue
from core.training import JobState, TrainingJob
from core.training.scheduler import QueueFull, TrainingScheduler

# How often the trial looks at the job's epochs: bounds how late a prune or a stop is noticed.
POLL_S = 0.25
# How long to wait before asking the scheduler again when this caller may not queue another run yet.
QUEUE_RETRY_S = 2.0
# Trial user attrs.
RUN_ID, RUNS_DIR, DEVICE = "run_id", "runs_dir", "device"
TEST_ACCURACY, DURATION_S, PRUNED_AT, ERROR = "test_accuracy", "duration_s", "pruned_at_epoch", "error"
# A job in one of these states has its training process (a job stopped while queued never had one).
_TRAINING = (JobState.RUNNING, JobState.PAUSED, JobState.STOPPING)


@dataclass(frozen=True)
class TrialOutcome:
    """How one trial ended, as the worker reports it."""

    number: int
    state: TrialState
    value: float | None
    run_id: str | None
    pruned_at_epoch: int | None = None
    error: str | None = None


def suggest(trial: optuna.Trial, sweep: Sweep) -> dict[str, Any]:
    """Ask the sampler for a value of every varied setting (a queued grid point answers for itself)."""
    values = {}
    for param in sweep.spec.params:
        if param.choices:
            values[param.name] = trial.suggest_categorical(param.name, list(param.choices))
        elif param.is_integer:
            low, high, step = int(param.low), int(param.high), int(param.step or 1)
            values[param.name] = trial.suggest_int(param.name, low, high, step=step, log=param.log)
        else:
            values[param.name] = trial.suggest_float(param.name, param.low, param.high, step=param.step, log=param.log)
    return values


def run_trial(
    trial: optuna.Trial,
    sweep: Sweep,
    dataset: Dataset,
    *,
    storage: BaseStorage,
    scheduler: TrainingScheduler,
    store: RunStore,
    by: Caller,
    stop: threading.Event,
    on_job: Callable[[TrainingJob], None] | None = None,
    on_started: Callable[[], None] | None = None,
) -> TrialOutcome:
    """Train one trial to its end, pruning or stopping it as asked, and tell the study how it went.

    `on_job` gets the job once queued; `on_started` is called once its training process has begun.
    """
    with _heartbeat(storage, trial._trial_id):
        try:
            spec, config = sweep.spec.settings(suggest(trial, sweep))
        except ValueError as error:
            return _tell(trial, TrialState.FAIL, None, error=f"These settings cannot be trained: {error}")
        if sweep.spec.trial_seeds:
            config = replace(config, seed=config.seed + trial.number)
        saver = TrialSaver(store.root, dataset.source, by.owner, sweep.name, trial.number)
        job = TrainingJob(dataset, spec, config, on_finish=saver, isolated=True)
        if not _submit(job, scheduler, by, stop):
            return _interrupted(trial, storage, "stopped before it started")
        if on_job is not None:
            on_job(job)
        pruned_at = _follow(job, trial, by, stop, on_started)
    result = job.result
    trial.set_user_attr(RUNS_DIR, str(store.root))
    trial.set_user_attr(DURATION_S, round(result.elapsed_s, 2))
    trial.set_user_attr(DEVICE, result.device)
    if result.saved_run_id:
        trial.set_user_attr(RUN_ID, result.saved_run_id)
    if result.test_accuracy is not None:
        trial.set_user_attr(TEST_ACCURACY, result.test_accuracy)
    if pruned_at is not None:
        trial.set_user_attr(PRUNED_AT, pruned_at)
        if result.saved_run_id:
            _tag_pruned(store, result.saved_run_id)
        outcome = _tell(trial, TrialState.PRUNED, None, result.saved_run_id, pruned_at)
        # Optuna records a pruned trial with its last reported value: report that one too.
        return replace(outcome, value=result.epochs[pruned_at - 1].val_accuracy)
    if result.state is JobState.STOPPED:
        return _interrupted(trial, storage, "stopped by the user", result.saved_run_id)
    if result.state is JobState.FAILED or not result.epochs:
        return _tell(trial, TrialState.FAIL, None, result.saved_run_id, error=result.error or "No epoch finished.")
    return _tell(trial, TrialState.COMPLETE, result.epochs[-1].val_accuracy, result.saved_run_id)


def _submit(job: TrainingJob, scheduler: TrainingScheduler, by: Caller, stop: threading.Event) -> bool:
    """Queue the job like a Train-page run; while this caller may not queue another yet, wait. False if stopped."""
    while not stop.is_set():
        try:
            scheduler.submit(job, by=by)
            return True
        except QueueFull:
            stop.wait(QUEUE_RETRY_S)
    return False


def _follow(
    job: TrainingJob, trial: optuna.Trial, by: Caller, stop: threading.Event, on_started: Callable[[], None] | None
) -> int | None:
    """Report each epoch's validation accuracy as it comes; stop the job when pruned or asked. The pruned epoch."""
    reported = 0
    pruned_at = None
    while True:
        done = job.wait(POLL_S)
        snapshot = job.snapshot()
        if on_started is not None and snapshot.state in _TRAINING:
            on_started()
            on_started = None
        epochs = snapshot.epochs if not done else job.result.epochs
        for record in epochs[reported:]:
            reported += 1
            if pruned_at is not None:
                continue
            trial.report(record.val_accuracy, record.epoch)
            # The last epoch is never pruned: the trial is over anyway, and complete is what it is.
            if record.epoch + 1 < job.config.epochs and trial.should_prune():
                pruned_at = record.epoch + 1
                # Ruled out: saved as it stands, without the seconds of scoring on the test and drawn sets.
                # Its record ends with the epoch judged here; its weights also hold the few batches of
                # the next epoch trained before the stop arrived (Evaluate scores the model as saved).
                job.stop(by=by, score=False)
        if done:
            return pruned_at
        if stop.is_set() and pruned_at is None:
            job.stop(by=by)


def _tell(
    trial: optuna.Trial,
    state: TrialState,
    value: float | None,
    run_id: str | None = None,
    pruned_at: int | None = None,
    error: str | None = None,
) -> TrialOutcome:
    if error:
        trial.set_user_attr(ERROR, error[:500])
    trial.study.tell(trial, value, state=state)
    return TrialOutcome(trial.number, state, value, run_id, pruned_at, error)


def _interrupted(trial: optuna.Trial, storage: BaseStorage, why: str, run_id: str | None = None) -> TrialOutcome:
    """A stopped trial fails (it says why) and a fresh one takes its place, so resuming still runs them all."""
    trial.set_user_attr(INTERRUPTED, why)
    outcome = _tell(trial, TrialState.FAIL, None, run_id, error=f"Interrupted: {why}.")
    requeue(trial.study, storage.get_trial(trial._trial_id))
    return outcome


def _tag_pruned(store: RunStore, run_id: str) -> None:
    # Tagging is part of saving the sweep's run (see TrialSaver), not a rename by the caller.
    with contextlib.suppress(Exception):  # a tag is a convenience; the trial's record is what counts
        store.set_tags(run_id, [*store.get(run_id).tags, "pruned"], by=LOCAL)


@contextlib.contextmanager
def _heartbeat(storage: BaseStorage, trial_id: int):
    """While a trial runs, tell an RDB storage it is alive, so only a dead worker's trials go stale."""
    interval = storage.get_heartbeat_interval() if isinstance(storage, RDBStorage) else None
    if interval is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a dropped connection now and then must not end the trial
                storage.record_heartbeat(trial_id)
            if done.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=30)
