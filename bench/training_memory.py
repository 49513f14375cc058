"""Memory of the app's process over repeated train/stop cycles, and how long a job waits to start.

Trains the tiny default model again and again on the embedded MNIST sample, stopping each job
after a few batches, in this process (threads) and in a training process (what the app does), and
prints the resident memory of this process after each cycle; then the time from submitting a job
to its first batch, with a cold and with a prepared (warm) worker process.

    .venv/bin/python -m bench.training_memory [--cycles 8]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time

from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import load_dataset
from core.runs.store import RunStore
from core.training import TrainConfig, TrainingJob
from core.training.isolated import prepare_worker, retire_spare_worker


def resident_mb() -> float:
    """This process's resident set size now, from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def train_and_stop(dataset, store: RunStore, isolated: bool, after_steps: int = 5) -> float:
    """One cycle: start a job, stop it after a few batches, wait; seconds from submit to first batch."""
    config = TrainConfig(dataset="mnist", epochs=1, batch_size=64)
    job = TrainingJob(dataset, ModelSpec(), config, on_finish=store.saver(dataset.source), isolated=isolated)
    started = time.perf_counter()
    job.start()
    while job.snapshot().step == 0 and not job.state.is_over:
        time.sleep(0.01)
    first_batch = time.perf_counter() - started
    while job.snapshot().step < after_steps and not job.state.is_over:
        time.sleep(0.01)
    job.stop(by=LOCAL)
    job.wait()
    if job.result.error:
        raise RuntimeError(job.result.error)
    return first_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=8)
    args = parser.parse_args()
    dataset = load_dataset("mnist")
    store = RunStore(tempfile.mkdtemp(prefix="explorer-bench-"))
    for isolated in (True, False):
        label = "training process" if isolated else "threads        "
        memory, first_batch = [], []
        for _ in range(args.cycles):
            first_batch.append(train_and_stop(dataset, store, isolated))
            gc.collect()
            memory.append(resident_mb())
        growth = (memory[-1] - memory[1]) / (len(memory) - 2)
        print(
            f"{label}: RSS after each cycle {[round(m) for m in memory]} MB; {growth:+.1f} MB per cycle after "
            f"the first; submit -> first batch median {statistics.median(first_batch):.2f} s"
        )
    cold = [train_and_stop(dataset, store, isolated=True) for _ in range(3)]
    warm = []
    for _ in range(3):
        prepare_worker()
        time.sleep(8)  # the worker imports TensorFlow while the user picks settings
        warm.append(train_and_stop(dataset, store, isolated=True))
    retire_spare_worker()
    print(
        f"submit -> first batch: cold worker median {statistics.median(cold):.2f} s, "
        f"prepared worker median {statistics.median(warm):.2f} s"
    )


if __name__ == "__main__":
    main()
