"""A tiny study end to end in this process: trials trained as Train-page runs, tagged, pruned, stopped, requeued."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import optuna
import pytest
from factories import tiny_mnist
from optuna.trial import TrialState

from core.access import LOCAL, Caller, Role
from core.runs.store import RunStore
from core.sweep import (
    Param,
    StorageError,
    SweepSpec,
    SweepWorker,
    add_trials,
    connect,
    create_sweep,
    load_sweep,
    trial_rows,
)
from core.sweep.study import INTERRUPTED, PID, claim_trial, fail_interrupted, make_pruner
from core.training import TrainingJob, TrainingScheduler
from core.training.config import MAX_EPOCHS

VIEWER = Caller(Role.VIEWER, "session-viewer")


def tiny_spec(trials: int = 2, epochs: int = 2, pruner: str = "none", base_changes=(), **changes) -> SweepSpec:
    """Softmax regression on a few hundred digits: a trial trains in seconds."""
    return SweepSpec(
        "mnist",
        params=(Param("dropout", 0.0, 0.5), Param("learning_rate", 1e-3, 1e-1, log=True)),
        base=(("preset", "quick"), ("architecture", "softmax"), ("train_size", 0), ("epochs", epochs),
              ("batch_size", 64), *base_changes),
        trials=trials, sampler="random", pruner=pruner, **changes,
    )  # fmt: skip


@pytest.fixture
def place(tmp_path):
    runs = tmp_path / "runs"
    return runs, connect(None, runs), RunStore(runs)


def worker_for(sweep, storage, store, **options) -> SweepWorker:
    return SweepWorker(
        sweep, storage, tiny_mnist(300, 100), scheduler=TrainingScheduler(1), store=store, by=LOCAL, **options
    )


def test_every_trial_is_trained_and_saved_as_a_tagged_run_the_study_points_to(place):
    runs, storage, store = place
    sweep = create_sweep(tiny_spec(trials=2), "tiny", storage, by=LOCAL)
    outcomes = worker_for(sweep, storage, store).run()
    assert [outcome.state for outcome in outcomes] == [TrialState.COMPLETE, TrialState.COMPLETE]
    trials = load_sweep("tiny", connect(None, runs)).study.get_trials()
    assert sorted(trial.number for trial in trials) == [0, 1]
    for trial in trials:
        attrs = trial.user_attrs
        run = store.get(attrs["run_id"])
        assert run.complete and {"study:tiny", f"trial:{trial.number}"} <= set(run.tags)
        assert run.test_accuracy is not None and attrs["test_accuracy"] == run.test_accuracy
        assert attrs["host"] == socket.gethostname() and attrs["device"] and attrs["runs_dir"] == str(store.root)
        history = store.history(run.run_id)["epochs"]
        # Optuna got the validation accuracy of every epoch, and the last one as the trial's value.
        assert [trial.intermediate_values[e["epoch"]] for e in history] == [e["val_accuracy"] for e in history]
        assert trial.value == history[-1]["val_accuracy"] and len(history) == 2
        # The run was trained with the settings Optuna chose.
        assert run.config["model"]["dropout"] == pytest.approx(trial.params["dropout"])
        assert run.config["training"]["learning_rate"] == pytest.approx(trial.params["learning_rate"])
        assert run.config["training"]["seed"] == 0  # only the settings differ between trials
    rows = trial_rows(sweep.study)
    assert {row.state for row in rows} == {"complete"} and all(row.where.endswith(row.run_id) for row in rows)


def test_with_trial_seeds_each_trial_starts_from_its_own_seed(place):
    _runs, storage, store = place
    sweep = create_sweep(tiny_spec(trials=2, epochs=1, trial_seeds=True), "seeded", storage, by=LOCAL)
    worker_for(sweep, storage, store).run()
    seeds = {t.number: store.get(t.user_attrs["run_id"]).config["training"]["seed"] for t in sweep.study.get_trials()}
    assert seeds == {0: 0, 1: 1}


def test_a_pruner_that_always_prunes_stops_each_trial_after_its_first_epoch_and_keeps_the_run(place):
    _runs, storage, store = place
    # As many epochs as a run may have: the prune is noticed within a poll of the first epoch, long
    # before the last (with 4 epochs of 300 digits, a starved machine once finished them all first).
    sweep = create_sweep(tiny_spec(trials=1, epochs=MAX_EPOCHS), "pruned", storage, by=LOCAL)
    always = optuna.pruners.ThresholdPruner(lower=2.0)  # no accuracy reaches 2: prune at the first report
    (outcome,) = worker_for(sweep, storage, store, pruner=always).run()
    assert outcome.state is TrialState.PRUNED and outcome.pruned_at_epoch == 1
    (trial,) = sweep.study.get_trials()
    assert trial.state is TrialState.PRUNED and trial.user_attrs["pruned_at_epoch"] == 1
    assert trial.value == trial.intermediate_values[0] == outcome.value
    run = store.get(trial.user_attrs["run_id"])
    # The stop was obeyed: the run ended long before its last epoch.
    assert "pruned" in run.tags and run.state == "stopped" and run.epochs_completed < MAX_EPOCHS
    # Ruled out, it was saved without being scored on the test set (Evaluate scores it when opened).
    assert run.test_accuracy is None and "test_accuracy" not in trial.user_attrs
    # Its history holds whole epochs only: the part-epoch the stop cut short was neither validated nor kept.
    steps = [epoch["step"] for epoch in store.history(run.run_id)["epochs"]]
    assert steps == [steps[0] * (index + 1) for index in range(len(steps))]
    assert len(store.validation_confusions(run.run_id)) == len(steps)


def test_stopping_fails_the_running_trial_and_queues_a_fresh_one(place):
    _runs, storage, store = place
    sweep = create_sweep(tiny_spec(trials=2, epochs=150), "stopped", storage, by=LOCAL)
    worker = worker_for(sweep, storage, store)
    first_epoch = threading.Event()
    worker.start()
    deadline = time.monotonic() + 180
    while not first_epoch.is_set():
        job = worker.job
        if job is not None and job.snapshot().epochs:
            first_epoch.set()
        assert time.monotonic() < deadline, "the first trial never finished an epoch"
        assert worker.running, f"the worker ended early: {worker.error}"
        first_epoch.wait(0.2)
    worker.stop()
    assert worker.wait(120), "the worker did not stop"
    states = [trial.state for trial in sweep.study.get_trials()]
    # The stopped trial failed (saying why), and the study still has two trials to run.
    assert states.count(TrialState.FAIL) == 1 and states.count(TrialState.WAITING) == 2
    assert TrialState.RUNNING not in states
    failed = next(t for t in sweep.study.get_trials() if t.state is TrialState.FAIL)
    assert failed.user_attrs[INTERRUPTED] == "stopped by the user"
    # Stopped by a person, not ruled out: scored as a Train-page run that is stopped is.
    assert store.get(failed.user_attrs["run_id"]).test_accuracy is not None


def test_a_dead_workers_running_trial_is_failed_and_queued_again(place):
    _runs, storage, _store = place
    sweep = create_sweep(tiny_spec(trials=2), "stale", storage, by=LOCAL)
    trial = claim_trial(sweep, storage)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    storage.set_trial_user_attr(trial._trial_id, PID, int(gone.stdout))
    assert fail_interrupted(sweep.study, storage) == [trial.number]
    states = [t.state for t in sweep.study.get_trials()]
    assert states.count(TrialState.FAIL) == 1 and states.count(TrialState.WAITING) == 2


def test_a_live_workers_trial_is_left_alone(place):
    _runs, storage, _store = place
    sweep = create_sweep(tiny_spec(trials=1), "alive", storage, by=LOCAL)
    claim_trial(sweep, storage)  # claimed by this process, which is alive
    assert fail_interrupted(sweep.study, storage) == []
    assert [t.state for t in sweep.study.get_trials()] == [TrialState.RUNNING]


def test_each_waiting_trial_is_claimed_once(place):
    runs, storage, _store = place
    sweep = create_sweep(tiny_spec(trials=3), "claims", storage, by=LOCAL)
    other = load_sweep("claims", connect(None, runs))  # another connection, as a second worker has
    claimed = [claim_trial(sweep, storage), claim_trial(other, other.study._storage), claim_trial(sweep, storage)]
    assert sorted(trial.number for trial in claimed) == [0, 1, 2]
    assert claim_trial(other, other.study._storage) is None


def test_a_grid_queues_each_point_once_and_adding_trials_adds_only_new_points(place):
    _runs, storage, _store = place
    spec = SweepSpec("mnist", params=(Param("dropout", choices=(0.0, 0.2, 0.4)),), trials=2, sampler="grid")
    sweep = create_sweep(spec, "grid", storage, by=LOCAL)
    assert add_trials(sweep, 5, by=LOCAL) == 1  # only one point was left
    points = sorted(t.system_attrs["fixed_params"]["dropout"] for t in sweep.study.get_trials())
    assert points == [0.0, 0.2, 0.4]


def test_study_names_are_unique_and_a_missing_study_lists_the_others(place):
    _runs, storage, _store = place
    create_sweep(tiny_spec(), "first", storage, by=LOCAL)
    with pytest.raises(StorageError, match="A study named 'first' already exists"):
        create_sweep(tiny_spec(), "first", storage, by=LOCAL)
    with pytest.raises(StorageError, match=r"No study named 'frist' in this storage\. Studies there: first\."):
        load_sweep("frist", storage)


def test_a_viewers_sweep_waits_behind_their_own_queued_run_and_can_be_stopped_there(place):
    _runs, storage, store = place
    data = tiny_mnist(300, 100)
    scheduler = TrainingScheduler(1)
    spec, config = tiny_spec(epochs=150).settings({})
    busy = TrainingJob(data, spec, config)  # someone else's long run holds the only slot
    mine = TrainingJob(data, spec, config)  # and the viewer already has a run waiting
    scheduler.submit(busy, by=LOCAL)
    scheduler.submit(mine, by=VIEWER)
    try:
        sweep = create_sweep(tiny_spec(trials=1), "viewer", storage, by=VIEWER)
        worker = SweepWorker(sweep, storage, data, scheduler=scheduler, store=store, by=VIEWER)
        worker.start()
        deadline = time.monotonic() + 60
        while not sweep.study.get_trials(states=(TrialState.RUNNING,)):
            assert time.monotonic() < deadline and worker.running, f"no trial was claimed: {worker.error}"
            worker.wait(0.1)
        # One waiting run per viewer: the trial is not queued beside the viewer's own run.
        assert scheduler.queued() == [mine]
        worker.stop()
        assert worker.wait(30), "the worker did not stop while waiting for the queue"
        (trial, again) = sweep.study.get_trials()
        assert trial.state is TrialState.FAIL and trial.user_attrs[INTERRUPTED] == "stopped before it started"
        assert again.state is TrialState.WAITING
    finally:
        for job in (mine, busy):
            job.stop(by=LOCAL)
            assert job.wait(60)


def test_a_worker_at_its_trial_limit_prepares_no_process_though_trials_wait(place):
    from core.training import isolated

    _runs, storage, store = place
    sweep = create_sweep(tiny_spec(trials=3), "limited", storage, by=LOCAL)
    isolated.retire_spare_worker()
    worker_for(sweep, storage, store, max_trials=1)._prepare_next()  # as its only trial starts
    assert isolated._spare is None


def test_each_trial_after_the_first_finds_its_training_process_already_started(place, monkeypatch):
    from core.training import isolated

    _runs, storage, store = place
    data = tiny_mnist(300, 100)
    scheduler = TrainingScheduler(1)
    spec, config = tiny_spec(epochs=150).settings({})
    busy = TrainingJob(data, spec, config)  # holds the only slot, so the first trial waits in the queue
    scheduler.submit(busy, by=LOCAL)
    isolated.retire_spare_worker()
    took_a_spare = []
    take = isolated._take_worker

    def recording_take():  # the real function, with a note of whether a spare was waiting for it
        took_a_spare.append(isolated._spare is not None)
        return take()

    monkeypatch.setattr(isolated, "_take_worker", recording_take)
    sweep = create_sweep(tiny_spec(trials=3, epochs=1), "warm", storage, by=LOCAL)
    worker = SweepWorker(sweep, storage, data, scheduler=scheduler, store=store, by=LOCAL)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not scheduler.queued():
            assert time.monotonic() < deadline and worker.running, f"no trial was queued: {worker.error}"
            worker.wait(0.1)
        worker.wait(1.0)  # a process prepared for the queued trial now would be taken by it
    finally:
        busy.stop(by=LOCAL)
        assert busy.wait(60)
    assert worker.wait(300), "the sweep did not finish"
    # The first starts cold; each later one was prepared while the one before trained, and not taken by it.
    assert took_a_spare == [False, True, True]
    assert isolated._spare is None  # none is started for a next trial when the queue is empty


@pytest.mark.parametrize(
    ("rule", "stops_below_top_third", "stops_below_median", "stops_lowest_third"),
    [
        ("median", False, True, True),
        ("percentile", False, False, True),
        ("top_third", True, True, True),
        ("none", False, False, False),
    ],
)
def test_each_pruner_stops_what_its_name_says_from_the_second_epoch(
    rule, stops_below_top_third, stops_below_median, stops_lowest_third
):
    study = study_with_six_finished_trials(tiny_spec(pruner=rule))
    # At epoch 1 the finished curves stand at 0.75…0.87: median 0.82, the top third above about 0.837,
    # the lowest third below about 0.803.
    assert not judged(study, 0.84, 1)  # in the top third: no rule stops it
    assert judged(study, 0.83, 1) is stops_below_top_third
    assert judged(study, 0.81, 1) is stops_below_median
    assert judged(study, 0.80, 1) is stops_lowest_third
    assert not judged(study, 0.10, 0), "the first epoch of the last step's weights is too noisy to judge"


@pytest.mark.parametrize("rule", ["median", "percentile", "top_third"])
def test_on_averaged_weights_a_trial_far_behind_is_stopped_after_its_first_epoch(rule):
    study = study_with_six_finished_trials(tiny_spec(pruner=rule, base_changes=(("average_weights", True),)))
    assert judged(study, 0.10, 0)
    assert not judged(study, 0.85, 0)  # the finished curves stood at 0.70…0.82 then


def study_with_six_finished_trials(spec: SweepSpec) -> optuna.Study:
    study = optuna.create_study(direction="maximize", pruner=make_pruner(spec))
    for final in (0.80, 0.84, 0.86, 0.88, 0.90, 0.92):  # six finished trials' curves
        trial = study.ask()
        for epoch in range(3):
            trial.report(final - 0.1 + 0.05 * epoch, epoch)
        study.tell(trial, final)
    return study


def judged(study: optuna.Study, value: float, epoch: int) -> bool:
    """Whether a new trial reporting `value` at `epoch` is stopped (it is then told it was pruned)."""
    trial = study.ask()
    trial.report(value, epoch)
    verdict = bool(trial.should_prune())
    study.tell(trial, state=TrialState.PRUNED)
    return verdict
