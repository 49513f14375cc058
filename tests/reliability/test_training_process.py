"""Training in a child process, as the app does it: same progress and controls, flat memory, crashes contained."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import factories
import pytest
from processes import training_processes

from core import runtime
from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import Dataset
from core.runs.store import RunStore
from core.training import JobState, TrainConfig, TrainingJob, TrainingScheduler
from core.training.isolated import WorkerProcess, prepare_worker, retire_spare_worker

SPEC = ModelSpec("simple_cnn", dropout=0.3, batch_norm=False)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return factories.tiny_mnist(n_train=1500)


def isolated_job(dataset: Dataset, store: RunStore, epochs: int = 2) -> TrainingJob:
    config = TrainConfig(dataset="mnist", epochs=epochs, batch_size=32, learning_rate=2e-3, schedule="constant")
    return TrainingJob(dataset, SPEC, config, on_finish=store.saver(dataset.source), isolated=True)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.02)


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_job_in_a_training_process_reports_obeys_and_saves_like_one_in_a_thread(digits, tmp_path):
    store = RunStore(tmp_path)
    job = TrainingScheduler(1).submit(isolated_job(digits, store, epochs=3), by=LOCAL)
    wait_for(lambda: job.snapshot().step >= 3, "step 3")
    # The training process sees the same devices as this one: a CPU here, a GPU there.
    assert job.snapshot().device == runtime.describe_devices(runtime.training_strategy())
    job.set_dropout(0.6, by=LOCAL)
    job.pause(by=LOCAL)
    # PAUSED comes from the training process itself, sent just before it blocks (the thread tests
    # show that block holds); the step it reports is the last one done.
    wait_for(lambda: job.state is JobState.PAUSED, "the training process to report it paused")
    paused = job.snapshot()
    assert paused.eta_s is None and job.curves().count == paused.step
    job.resume(by=LOCAL)
    wait_for(lambda: job.snapshot().epochs, "the first epoch to end")
    job.stop(by=LOCAL)
    assert job.wait(120)
    result, snapshot = job.result, job.snapshot()
    assert result.state is JobState.STOPPED and result.error is None
    assert 1 <= len(result.epochs) < 3 and snapshot.epochs == result.epochs
    assert [(event.setting, event.new) for event in result.events] == [("dropout", 0.6)]
    assert snapshot.step > paused.step and job.curves().count == snapshot.step
    # The model stayed in the training process; the run it saved there is complete and loads here.
    assert result.model is None and result.saved_run_id
    saved = store.get(result.saved_run_id)
    assert saved.complete and saved.state == "stopped" and result.test_accuracy is not None
    assert saved.test_accuracy == pytest.approx(result.test_accuracy)
    model = store.load_model(result.saved_run_id)
    assert model.predict(digits.x_test[:5, ..., None] / 255.0, verbose=0).shape == (5, 10)
    # The training process leaves without the interpreter's teardown: everything was written before.
    logged = factories.tensorboard_scalars(tmp_path / result.saved_run_id)
    assert logged["validation/epoch_accuracy"] == pytest.approx([epoch.val_accuracy for epoch in result.epochs])


# Each cycle starts a training process, a TensorFlow import: seconds of CPU.
MEMORY_CYCLES = 4


def test_the_apps_memory_stops_growing_over_repeated_train_and_stop_cycles(digits, tmp_path):
    store = RunStore(tmp_path)
    memory = []
    for _ in range(MEMORY_CYCLES):
        job = isolated_job(digits, store, epochs=1)
        job.start()
        wait_for(lambda job=job: job.snapshot().step >= 3 or job.state.is_over, "step 3 or the end")
        job.stop(by=LOCAL)
        assert job.wait(120) and job.result.state is JobState.STOPPED, job.result.error
        gc.collect()
        memory.append(resident_mb())
    # Trained in this process, each model leaves about 20 MB behind (40 MB over the two cycles after
    # the second, which comes after one-time allocations).
    assert memory[-1] - memory[1] < 15, f"resident MB after each cycle: {memory}"
    assert len(store.list_runs()) == MEMORY_CYCLES


def test_a_training_process_killed_mid_run_fails_the_job_in_words_and_the_next_job_runs(digits, tmp_path):
    retire_spare_worker()  # one a page prepared earlier in this process would be a second training process
    store = RunStore(tmp_path)
    scheduler = TrainingScheduler(1)
    doomed = scheduler.submit(isolated_job(digits, store, epochs=20), by=LOCAL)
    after = scheduler.submit(isolated_job(digits, store, epochs=1), by=LOCAL)
    wait_for(lambda: doomed.snapshot().step >= 3, "step 3")
    (worker,) = training_processes()
    os.kill(worker, signal.SIGKILL)
    assert doomed.wait(30)
    assert doomed.result.state is JobState.FAILED
    assert "killed by SIGKILL" in doomed.result.error and "Runs saved before are safe" in doomed.result.error
    assert after.wait(120) and after.result.state is JobState.FINISHED and after.result.saved_run_id
    assert [run.run_id for run in store.list_runs()] == [after.result.saved_run_id]


def test_a_prepared_worker_takes_the_next_job_and_an_unused_one_leaves_by_itself(digits, tmp_path):
    retire_spare_worker()
    prepare_worker()
    (prepared,) = training_processes()
    prepare_worker()  # asking again while one waits starts no second one
    assert training_processes() == [prepared]
    job = isolated_job(digits, RunStore(tmp_path), epochs=1)
    job.start()
    wait_for(lambda: job.snapshot().step >= 1, "step 1")
    assert training_processes() == [prepared]
    job.stop(by=LOCAL)
    assert job.wait(120) and job.result.state is JobState.STOPPED
    idle = WorkerProcess(idle_s=1.0)
    idle.process.wait(timeout=60)
    assert idle.process.returncode == 0


ORPHAN_SCRIPT = """
import os, signal, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
import factories
from core.architectures import ModelSpec
from core.runs.store import RunStore
from core.training import TrainConfig, TrainingJob

if __name__ == "__main__":
    dataset = factories.tiny_mnist(n_train=1500)
    config = TrainConfig(dataset="mnist", epochs=50, batch_size=32, schedule="constant")
    store = RunStore({runs!r})
    job = TrainingJob(dataset, ModelSpec("simple_cnn"), config, on_finish=store.saver(dataset.source), isolated=True)
    job.start()
    deadline = time.monotonic() + 120
    while job.snapshot().step < 3:
        if time.monotonic() > deadline or job.state.is_over:
            sys.exit(f"the job never reached step 3: {{job.snapshot()}}")
        time.sleep(0.02)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_when_the_app_dies_its_training_process_stops_and_keeps_the_run(tmp_path):
    runs = tmp_path / "runs"
    script = tmp_path / "app_that_dies.py"
    script.write_text(ORPHAN_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"), runs=str(runs)))
    app = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=180)
    assert app.returncode == -signal.SIGKILL, app.stderr.decode()[-2000:]
    store = RunStore(runs)
    wait_for(lambda: store.list_runs() and store.list_runs()[0].complete, "the orphan's run to be saved", timeout=120)
    (run,) = store.list_runs()
    assert run.state == "stopped" and run.epochs_completed < 50
    assert run.test_accuracy is not None  # stopped because the app went away, not ruled out: still scored
    assert store.load_model(run.run_id).count_params() > 0


def test_the_training_process_runs_at_a_lower_cpu_priority_than_the_app():
    worker = WorkerProcess(idle_s=60)
    try:
        # Field 19 of /proc/PID/stat is the nice value; the worker sets its own as soon as it starts.
        wait_for(lambda: niceness(worker.process.pid) > niceness(os.getpid()), "the worker to lower its priority", 30)
    finally:
        worker.retire()


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
