"""A sweep's study: created with its spec and a queue of trials, loaded by name, its trials claimed one at a time.

`create_sweep` puts exactly `spec.trials` WAITING trials in the study (grid points fixed, otherwise
left for the sampler). A worker claims one atomically (`claim_trial`), so any number of workers on
any machines run each trial once and stop when the queue is empty: none lost, none run twice.
A trial interrupted by a stop or a dead worker is failed and a fresh one queued in its place.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from core.access import Action, Caller, require
from core.sweep.spec import MAX_TRIALS, SpecError, SweepSpec
from core.sweep.storage import StorageError, open_storage

SPEC_ATTR = "sweep_spec"
# Trial user attrs: where the trial's run is and who ran it.
HOST, PID, WORKER = "host", "pid", "worker"
# Recorded on a trial failed because it was interrupted, not because its settings fail.
INTERRUPTED = "interrupted"
GRID_ATTR = "grid_point"

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class Sweep:
    """A loaded study and the spec it was created with."""

    study: optuna.Study
    spec: SweepSpec

    @property
    def name(self) -> str:
        return self.study.study_name


def connect(url: str | None = None, runs_folder: str | Path | None = None) -> BaseStorage:
    """The storage a URL names (see `open_storage`); trials an RDB storage finds without a heartbeat are requeued."""
    return open_storage(url, runs_folder=runs_folder, on_stale_trial=requeue)


def make_sampler(spec: SweepSpec, trial_number: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler, seeded per trial: reproducible, and two workers never draw the same random points."""
    # Mixed, not added: NumPy generators seeded 1, 2, 3 draw nearly the same first numbers.
    seed = int(np.random.SeedSequence([spec.seed, trial_number]).generate_state(1)[0])
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(2, spec.trials // 3)))
    # Grid points are fixed on the queued trials themselves; the sampler is never asked for them.
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The spec's pruner; steps are epochs (counted from 0), values validation accuracy."""
    # The last step's weights rank trials too poorly in the first epoch to judge it; averaged weights
    # rank them after it much as at the end (core/training/averaging.py), so those are judged from it.
    first_judged = 0 if dict(spec.base).get("average_weights") else 1
    if spec.pruner == "median":
        # Once three trials have finished.
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=first_judged)
    if spec.pruner == "percentile":
        # Gentler than the median: Optuna's percentile is the share kept, so 66.7 stops only the lowest third.
        return optuna.pruners.PercentilePruner(66.7, n_startup_trials=3, n_warmup_steps=first_judged)
    if spec.pruner == "top_third":
        # Stops all but the trials in the finished ones' top third at their epoch, from two finished on:
        # for averaged weights, whose early ranks hold (measured in bench/README.md, sweep.py).
        return optuna.pruners.PercentilePruner(33.3, n_startup_trials=2, n_warmup_steps=first_judged)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(spec.max_epochs, 2), reduction_factor=3)
    return optuna.pruners.NopPruner()


def create_sweep(spec: SweepSpec, name: str, storage: BaseStorage, *, by: Caller) -> Sweep:
    """A new study named `name` holding the spec and its queue of trials; StorageError if the name is taken."""
    require(by, Action.TRAIN)
    name = name.strip()
    if not name or len(name) > 100:
        raise StorageError("A study needs a name of 1-100 characters.")
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        raise StorageError(
            f"A study named {name!r} already exists there: pick another name, or run `work` on it."
        ) from None
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    _enqueue(study, spec, spec.trials)
    return Sweep(study, spec)


def add_trials(sweep: Sweep, count: int, *, by: Caller) -> int:
    """Queue `count` more trials (a grid only has its points not tried yet); how many were queued."""
    require(by, Action.TRAIN)
    if not 1 <= count <= MAX_TRIALS:
        raise ValueError(f"Add 1-{MAX_TRIALS} trials at a time.")
    before = len(sweep.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    _enqueue(sweep.study, sweep.spec, count)
    return len(sweep.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))) - before


def _enqueue(study: optuna.Study, spec: SweepSpec, count: int) -> None:
    """Queue `count` trials: grid points not queued yet (in a seeded order), or open ones for the sampler."""
    if spec.sampler != "grid":
        for _ in range(count):
            study.enqueue_trial({})
        return
    names = [param.name for param in spec.params]
    grid = itertools.product(*(param.grid_values() for param in spec.params))
    points = [dict(zip(names, values, strict=True)) for values in grid]
    random.Random(spec.seed).shuffle(points)
    queued = {
        str(sorted(t.system_attrs.get("fixed_params", {}).items()))
        for t in study.get_trials(deepcopy=False)
        if t.state is not TrialState.FAIL
    }
    fresh = [point for point in points if str(sorted(point.items())) not in queued]
    for point in fresh[:count]:
        study.enqueue_trial(point)


def load_sweep(name: str, storage: BaseStorage) -> Sweep:
    """The study named `name` and its spec; StorageError naming the studies there if it is missing."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = study_names(storage)
        there = f" Studies there: {', '.join(names)}." if names else " There are no studies there yet."
        raise StorageError(f"No study named {name!r} in this storage.{there}") from None
    data = study.user_attrs.get(SPEC_ATTR)
    if data is None:
        raise StorageError(f"Study {name!r} was not made by this app (it has no sweep spec).")
    try:
        spec = SweepSpec.from_dict(data)
    except SpecError as error:
        raise StorageError(f"Study {name!r} has a spec this version cannot use: {error}") from None
    return Sweep(study, spec)


def study_names(storage: BaseStorage) -> list[str]:
    """Names of the studies in a storage, newest first."""
    return [summary.study_name for summary in reversed(optuna.get_all_study_summaries(storage))]


def this_worker() -> dict[str, object]:
    """What identifies this process on a trial: its machine and process id."""
    return {HOST: socket.gethostname(), PID: os.getpid()}


def claim_trial(
    sweep: Sweep, storage: BaseStorage, pruner: optuna.pruners.BasePruner | None = None
) -> optuna.Trial | None:
    """Atomically take the next WAITING trial (the storage refuses a trial another worker took); None if none.

    `pruner` replaces the spec's (tests use one that always prunes)."""
    study_id = storage.get_study_id_from_name(sweep.name)
    for frozen in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if not storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                continue
        except UpdateFinishedTrialError:
            continue
        # A sampler seeded by trial number: the same study replayed proposes the same settings.
        study = optuna.load_study(
            study_name=sweep.name, storage=storage, sampler=make_sampler(sweep.spec, frozen.number),
            pruner=pruner or make_pruner(sweep.spec),
        )  # fmt: skip
        # load_study wraps an RDB storage in a cache that only knows trials it has read: read them.
        study.get_trials(deepcopy=False)
        trial = optuna.Trial(study, frozen._trial_id)
        for key, value in this_worker().items():
            trial.set_user_attr(key, value)
        return trial
    return None


def has_waiting_trial(sweep: Sweep, storage: BaseStorage) -> bool:
    """Whether a trial is still queued for some worker to claim."""
    study_id = storage.get_study_id_from_name(sweep.name)
    return bool(storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)))


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a fresh trial in place of an interrupted one: the same grid point, or new settings from the sampler."""
    study.enqueue_trial(dict(trial.system_attrs.get("fixed_params", {})))


def fail_interrupted(study: optuna.Study, storage: BaseStorage) -> list[int]:
    """Fail (and requeue) RUNNING trials whose worker is gone: dead processes on this host, and, with an
    RDB storage, trials whose heartbeat stopped anywhere. Returns the trial numbers failed here."""
    failed = []
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get(HOST) != host or _alive(attrs.get(PID)):
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, "its worker process ended")
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                requeue(study, trial)
                failed.append(trial.number)
        except UpdateFinishedTrialError:
            continue  # another worker got there first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return failed


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return True  # not ours to judge: some other tool made it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
