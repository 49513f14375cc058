"""Ship the Fashion starter: every TFLite format's size, accuracy, agreement with Keras and single-image latency.

    .venv/bin/python -m bench.export [--repeats 1000] [--out /tmp/bench-results/export.json]

Uses the full Fashion-MNIST test set when Debian's copy is installed (`/usr/share/datasets/fashion-mnist`),
else the embedded sample, and says which. The export is the app's own code path (`core.export`): the
SavedModel, each conversion, LiteRT with one thread, and the Keras model through the app's compiled
`Predictor`; every format is timed in the same run, the formats taking turns in a rotating order.

Goals (issue 16): full INT8 at most 30 % of the float32 file and at most 0.5 points of test accuracy
lost against the Keras model; full INT8 p50 at or below float32 TFLite p50. A second, smaller table
times float32 and full INT8 with and without LiteRT's default XNNPACK delegate and with two threads,
to show what the runtime options do on this CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core.runtime  # noqa: E402,F401  (the app's thread settings, made before TensorFlow starts)
from bench.machine import machine_info  # noqa: E402
from bench.percentiles import percentiles  # noqa: E402
from core.datasets import load_dataset  # noqa: E402
from core.export.formats import FLOAT32, FORMATS, FULL_INT8, convert, representative_images, write_saved_model  # noqa: E402
from core.export.measure import single_image_timings_ms  # noqa: E402
from core.export.run_export import LATENCY_IMAGES, compare  # noqa: E402
from core.export.runner import DEFAULT_THREADS, TfliteModel  # noqa: E402
from core.export.table import shipping_sentence  # noqa: E402
from core.pretrained import load_pretrained, pretrained_model  # noqa: E402

DATASET = "fashion_mnist"
SIZE_GOAL = 0.30
POINTS_GOAL = 0.5
OUT = Path("/tmp/bench-results/export.json")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def runtime_options(exports: Path, images, repeats: int) -> dict:
    """float32 and full INT8 p50/p95 with the default (XNNPACK, one thread), two threads, and no XNNPACK."""
    arms = {}
    for fmt in (FLOAT32, FULL_INT8):
        path = exports / fmt.file_name
        arms[f"{fmt.key}/xnnpack_1_thread"] = TfliteModel(path, 1).probabilities
        arms[f"{fmt.key}/xnnpack_2_threads"] = TfliteModel(path, 2).probabilities
        arms[f"{fmt.key}/no_xnnpack_1_thread"] = TfliteModel(path, 1, xnnpack=False).probabilities
    timings = single_image_timings_ms(arms, images, repeats)
    return {name: percentiles(values, digits=4) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1000, help="single-image calls timed per format")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    dataset = load_dataset(DATASET)
    starter = pretrained_model(DATASET)
    model = load_pretrained(DATASET)
    log(f"Data: {dataset.source}")
    formats = tuple(FORMATS.values())
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        exports = Path(folder)
        started = time.perf_counter()
        write_saved_model(model, exports / "saved_model")
        conversion_s = {}
        for fmt in formats:
            log(f"Converting to {fmt.label}…")
            begun = time.perf_counter()
            calibration = representative_images(dataset.x_train) if fmt is FULL_INT8 else None
            (exports / fmt.file_name).write_bytes(convert(exports / "saved_model", fmt, calibration))
            conversion_s[fmt.key] = round(time.perf_counter() - begun, 2)
        export_s = round(time.perf_counter() - started, 2)
        comparison = compare(
            model, exports, formats, dataset, run_id="fashion starter", model_sha256=starter.sha256,
            progress=lambda fraction, message: log(f"[{100 * fraction:3.0f} %] {message}"),
            latency_repeats=args.repeats,
        )  # fmt: skip
        log("Timing runtime options…")
        options = runtime_options(exports, dataset.x_test[:LATENCY_IMAGES], args.repeats)

    keras, float32, int8 = comparison.keras, comparison.row("float32"), comparison.row("int8")
    rows = {
        row.key: {
            "label": row.label,
            "size_bytes": row.size_bytes,
            "size_share_of_float32": round(row.size_bytes / float32.size_bytes, 4),
            "test_accuracy": round(row.test_accuracy, 4),
            "points_lost_vs_keras": round(100 * (keras.test_accuracy - row.test_accuracy), 2),
            "drawn_accuracy": {style: round(value, 4) for style, value in row.drawn_accuracy.items()},
            "agreement_with_keras": round(row.agreement, 4),
            "p50_ms": round(row.latency_p50_ms, 4),
            "p50_ratio_to_float32_tflite": round(row.latency_p50_ms / float32.latency_p50_ms, 3),
            "input_dtype": row.input_dtype,
        }
        for row in comparison.rows
    }
    int8_share = int8.size_bytes / float32.size_bytes
    int8_points = 100 * (keras.test_accuracy - int8.test_accuracy)
    report = {
        "machine": machine_info(),
        "model": f"the {DATASET} starter (assets/pretrained/{starter.path.name}), {starter.trained_on}",
        "data": dataset.source,
        "test_images": comparison.test_images,
        "drawn_images": comparison.drawn_images,
        "settings": {
            "latency_repeats": args.repeats,
            "latency_images": LATENCY_IMAGES,
            "litert_threads": DEFAULT_THREADS,
            "keras_latency": "core.inference.Predictor (the app's compiled call), TensorFlow on every core",
            "representative_images": len(representative_images(dataset.x_train)),
        },
        "conversion_s": conversion_s,
        "export_s": export_s,
        "formats": rows,
        "goals": {
            "int8_size_share_of_float32": round(int8_share, 4),
            "int8_size_goal_met": int8_share <= SIZE_GOAL,
            "int8_points_lost": round(int8_points, 2),
            "int8_accuracy_goal_met": int8_points <= POINTS_GOAL,
            "int8_p50_ratio_to_float32": round(int8.latency_p50_ms / float32.latency_p50_ms, 3),
            "int8_latency_goal_met": int8.latency_p50_ms <= float32.latency_p50_ms,
        },
        "runtime_options": options,
        "sentence": shipping_sentence(comparison),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
