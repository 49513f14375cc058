"""Memory of the app's process over repeated train/stop cycles, and how long a job waits to start.

Trains the tiny default model again and again on the embedded MNIST sample, stopping each job
after a few batches, in a training process (what the app does) and in this process (threads), and
records the resident memory of this process after each cycle; then the time from submitting a job
to its first batch, with a cold and with a prepared (warm) worker process.

    .venv/bin/python -m bench.training_memory [--cycles 8] [--start-repeats 3]

Prints JSON: RSS after each cycle and its growth per cycle in MB, submit-to-first-batch p50 and p95
in seconds, and the prepared worker's p50 over the cold one's (the reference). Each cycle also goes
to stderr. A smoke test in under 3 minutes: --cycles 3 --start-repeats 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time

from bench.machine import machine_info
from bench.percentiles import percentiles
from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import load_dataset
from core.runs.store import RunStore
from core.training import TrainConfig, TrainingJob
from core.training.isolated import prepare_worker, retire_spare_worker

STEPS_PER_CYCLE = 5
# The worker imports TensorFlow while the user picks settings; this is how long the bench gives it.
WORKER_PREPARE_S = 8


def resident_mb() -> float:
    """This process's resident set size now, from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def train_and_stop(dataset, store: RunStore, isolated: bool, after_steps: int = STEPS_PER_CYCLE) -> float:
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


def cycles(dataset, store: RunStore, isolated: bool, count: int) -> dict:
    """`count` train/stop cycles; memory after each, and how it grows once the first cycle has loaded everything."""
    memory, first_batch = [], []
    for cycle in range(count):
        first_batch.append(train_and_stop(dataset, store, isolated))
        gc.collect()
        memory.append(resident_mb())
        label = "process" if isolated else "thread"
        print(f"{label} cycle {cycle + 1}: RSS {memory[-1]:.0f} MB", file=sys.stderr, flush=True)
    return {
        "rss_mb_after_each_cycle": [round(mb, 1) for mb in memory],
        # From the second cycle to the last: the first one imports and builds what every later one reuses.
        "rss_growth_mb_per_cycle_after_the_first": round((memory[-1] - memory[1]) / (count - 2), 2),
        "submit_to_first_batch_s": percentiles(first_batch, unit="s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=8, help="train/stop cycles of each kind (at least 3)")
    parser.add_argument("--start-repeats", type=int, default=3, help="jobs started with a cold and a prepared worker")
    args = parser.parse_args()
    if args.cycles < 3:
        parser.error("--cycles must be at least 3: growth is measured from the second cycle to the last")
    dataset = load_dataset("mnist")
    store = RunStore(tempfile.mkdtemp(prefix="explorer-bench-"))
    report: dict = {
        "machine": machine_info(),
        "job": f"the default ModelSpec on the embedded MNIST sample, batch 64, stopped after {STEPS_PER_CYCLE} "
        "batches; RSS is this process's (the app's), after gc",
        "cycles": args.cycles,
        "start_repeats": args.start_repeats,
        "worker_prepare_s": WORKER_PREPARE_S,
    }
    report["training_in_a_process"] = cycles(dataset, store, isolated=True, count=args.cycles)
    report["training_on_threads"] = cycles(dataset, store, isolated=False, count=args.cycles)
    cold = [train_and_stop(dataset, store, isolated=True) for _ in range(args.start_repeats)]
    warm = []
    for _ in range(args.start_repeats):
        prepare_worker()
        time.sleep(WORKER_PREPARE_S)
        warm.append(train_and_stop(dataset, store, isolated=True))
    retire_spare_worker()
    cold_figures, warm_figures = percentiles(cold, unit="s"), percentiles(warm, unit="s")
    report["submit_to_first_batch_s"] = {
        "cold_worker": cold_figures,
        "prepared_worker": warm_figures,
        "prepared_p50_speedup_vs_cold": round(cold_figures["p50_s"] / warm_figures["p50_s"], 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
