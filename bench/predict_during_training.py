"""How fast predictions stay in the app's process while a model trains: idle, training in a thread, in a process.

Times the Predict page's model call (preprocessing excluded) on the starter model, repeatedly,
while the default recipe trains on the embedded MNIST sample beside it, first on a thread of this
process (as before training moved out) and then in a training process (as the app does now).

    .venv/bin/python -m bench.predict_during_training [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace

from core.access import LOCAL
from core.datasets import load_dataset
from core.inference import Predictor
from core.pretrained import load_pretrained
from core.runs.store import RunStore
from core.training import TrainingJob
from core.training.isolated import prepare_worker
from core.training.presets import PRESETS


def latencies_ms(predictor: Predictor, image, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        predictor.probabilities(image)
        times.append(1000 * (time.perf_counter() - started))
        time.sleep(0.01)  # a person drawing: a prediction every few milliseconds, not back to back
    return times


def while_training(predictor: Predictor, image, calls: int, isolated: bool) -> list[float]:
    dataset = load_dataset("mnist")
    preset = PRESETS["default"].for_dataset("mnist")
    store = RunStore(tempfile.mkdtemp(prefix="explorer-bench-"))
    config = replace(preset.config, epochs=50)
    job = TrainingJob(dataset, preset.spec, config, on_finish=store.saver(dataset.source), isolated=isolated)
    job.start()
    while job.snapshot().step < 5:  # measure while it really trains, not while it starts
        time.sleep(0.05)
    times = latencies_ms(predictor, image, calls)
    job.stop(by=LOCAL)
    job.wait()
    return times


def describe(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"{label:<32} median {statistics.median(times):6.2f} ms   95th percentile {p95:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    predictor = Predictor(load_pretrained("mnist"))
    image = load_dataset("mnist").x_test[0]
    prepare_worker()
    idle = latencies_ms(predictor, image, args.calls)
    in_thread = while_training(predictor, image, args.calls, isolated=False)
    in_process = while_training(predictor, image, args.calls, isolated=True)
    print(describe("idle", idle))
    print(describe("training on a thread", in_thread))
    print(describe("training in a process (the app)", in_process))
    print(
        f"median slowdown while training: thread {statistics.median(in_thread) / statistics.median(idle):.1f}x, "
        f"process {statistics.median(in_process) / statistics.median(idle):.1f}x"
    )


if __name__ == "__main__":
    main()
