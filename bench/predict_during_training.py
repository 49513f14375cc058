"""How fast predictions stay in the app's process while a model trains: idle, training in a thread, in a process.

Times the Predict page's model call (preprocessing excluded) on the starter model, repeatedly,
while the default recipe trains on the embedded MNIST sample beside it, first on a thread of this
process (as before training moved out) and then in a training process (as the app does now).

    .venv/bin/python -m bench.predict_during_training [--calls 300]

Prints JSON: p50 and p95 in milliseconds for each case, and each training case's p50 and p95 over
idle's (the reference: the same call with nothing training). A smoke test in about 30 s: --calls 20.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace

from bench.machine import machine_info
from bench.percentiles import percentiles
from core.access import LOCAL
from core.datasets import load_dataset
from core.inference import Predictor
from core.pretrained import load_pretrained
from core.runs.store import RunStore
from core.training import TrainingJob
from core.training.isolated import prepare_worker
from core.training.presets import PRESETS

# A person drawing: a prediction every few milliseconds, not back to back.
PAUSE_BETWEEN_CALLS_S = 0.01
# Long enough that training never ends before the calls do; the job is stopped after them.
TRAINING_EPOCHS = 50
# Measure while it really trains, not while it starts.
STEPS_BEFORE_MEASURING = 5


def latencies_ms(predictor: Predictor, image, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        predictor.probabilities(image)
        times.append(1000 * (time.perf_counter() - started))
        time.sleep(PAUSE_BETWEEN_CALLS_S)
    return times


def while_training(predictor: Predictor, image, calls: int, isolated: bool) -> list[float]:
    dataset = load_dataset("mnist")
    preset = PRESETS["default"].for_dataset("mnist")
    store = RunStore(tempfile.mkdtemp(prefix="explorer-bench-"))
    config = replace(preset.config, epochs=TRAINING_EPOCHS)
    job = TrainingJob(dataset, preset.spec, config, on_finish=store.saver(dataset.source), isolated=isolated)
    job.start()
    while job.snapshot().step < STEPS_BEFORE_MEASURING:
        time.sleep(0.05)
    times = latencies_ms(predictor, image, calls)
    job.stop(by=LOCAL)
    job.wait()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed model calls in each case")
    args = parser.parse_args()
    predictor = Predictor(load_pretrained("mnist"))
    image = load_dataset("mnist").x_test[0]
    predictor.probabilities(image)  # traces the compiled call, so idle's first call is not a trace
    prepare_worker()
    cases = {"idle": latencies_ms(predictor, image, args.calls)}
    for name, isolated in (("training_on_a_thread", False), ("training_in_a_process", True)):
        print(f"measuring {name}", file=sys.stderr, flush=True)
        cases[name] = while_training(predictor, image, args.calls, isolated)
    figures = {name: percentiles(times, digits=3) for name, times in cases.items()}
    idle = figures["idle"]
    report = {
        "machine": machine_info(),
        "model": "the mnist starter (assets/pretrained): the Predict page's compiled call, preprocessing excluded",
        "training": f"the default preset on the embedded MNIST sample, {TRAINING_EPOCHS} epochs, stopped after the "
        f"calls; measured from its step {STEPS_BEFORE_MEASURING}",
        "calls": args.calls,
        "pause_between_calls_ms": 1000 * PAUSE_BETWEEN_CALLS_S,
        "latency_ms": figures,
        "slowdown_vs_idle": {
            name: {
                "p50_ratio": round(figures[name]["p50_ms"] / idle["p50_ms"], 2),
                "p95_ratio": round(figures[name]["p95_ms"] / idle["p95_ms"], 2),
            }
            for name in cases
            if name != "idle"
        },
        "headline": {
            "p50_ms_while_training_in_a_process": figures["training_in_a_process"]["p50_ms"],
            "p50_slowdown_vs_idle": round(figures["training_in_a_process"]["p50_ms"] / idle["p50_ms"], 2),
            "is": "the app's path: the Predict page's call while another session trains in the worker process",
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
