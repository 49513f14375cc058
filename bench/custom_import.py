"""Issue 17's goal: importing a 10,000-image zip takes <= 10 s and peaks at <= 500 MB.

Makes a zip of --images PNG "scans" with PIL (dark shapes on light paper, 96x96, --classes class
folders, each image different), then imports it with `import_custom_dataset` -- the Your data page's
and `python -m core.datasets import`'s path: safety checks, preprocessing, de-duplication, split,
atomic store -- in a fresh Python process per round, which reports its wall time and its peak
resident memory (the kernel's VmHWM for that process, so nothing of this one is counted) and its CPU
seconds, which say more than wall time on a machine shared with other work.

    .venv/bin/python -m bench.custom_import [--images 10000] [--classes 10] [--rounds 3]

Prints JSON and saves it to /tmp/bench-results/custom_import.json: the zip's size, per round the
seconds and peak RSS in MB, their p50/p95, and the goal's limits.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.machine import machine_info
from bench.percentiles import percentiles

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("/tmp/bench-results/custom_import.json")
GOAL_SECONDS, GOAL_PEAK_MB = 10.0, 500.0
SIDE = 96

CHILD = """
import json, re, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from core.access import LOCAL
from core.datasets.custom_import import import_custom_dataset
from core.datasets.registry import DrawingRecipe
report = import_custom_dataset("bench-scans", Path(sys.argv[1]), DrawingRecipe.DIGIT_BOX, by=LOCAL,
                               runs_folder=sys.argv[2])
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak_kb / 1024,
                  "skipped": len(report.problems),
                  "train": sum(report.manifest.train_counts), "test": sum(report.manifest.test_counts),
                  "duplicates_dropped": report.build.duplicates_dropped}))
"""


def scan(label: int, rng: np.random.Generator) -> bytes:
    """A dark outline on light, slightly grey paper: class `label` decides its kind (and corners)."""
    picture = Image.new("L", (SIDE, SIDE), int(rng.integers(215, 250)))
    pen = ImageDraw.Draw(picture)
    x0, y0 = rng.integers(8, 30, size=2)
    x1, y1 = rng.integers(60, 88, size=2)
    ink, width = int(rng.integers(0, 60)), int(rng.integers(3, 8))
    if label == 0:
        pen.ellipse([x0, y0, x1, y1], outline=ink, width=width)
    elif label == 1:
        pen.rectangle([x0, y0, x1, y1], outline=ink, width=width)
    else:  # a triangle, a pentagon, ...: one more corner per class
        sides = 1 + label
        angles = np.linspace(0, 2 * np.pi, sides, endpoint=False) + rng.uniform(0, 0.3)
        centre, radius = (x0 + x1) / 2, (x1 - x0) / 2
        corners = [(centre + radius * np.cos(a), centre + radius * np.sin(a)) for a in angles]
        pen.polygon(corners, outline=ink, width=width)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(path: Path, images: int, classes: int) -> None:
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(images):
            label = index % classes
            archive.writestr(f"scans/class_{label}/{index:05d}.png", scan(label, rng))


def one_round(zip_path: Path) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(zip_path), runs], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    line = f"{result['seconds']:.2f} s ({result['cpu_s']:.2f} s of CPU), peak RSS {result['peak_rss_mb']:.0f} MB"
    print(line, file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        zip_path = Path(folder) / "scans.zip"
        make_zip(zip_path, args.images, args.classes)
        zip_mb = zip_path.stat().st_size / 1e6
        rounds = [one_round(zip_path) for _ in range(args.rounds)]
    seconds = [r["seconds"] for r in rounds]
    peaks = [r["peak_rss_mb"] for r in rounds]
    report = {
        "bench": "custom_import",
        "machine": machine_info(),
        "settings": {"images": args.images, "classes": args.classes, "image_side_px": SIDE, "zip_mb": round(zip_mb, 1)},
        "rounds": [
            {key: round(value, 2) if isinstance(value, float) else value for key, value in r.items()} for r in rounds
        ],
        "import_time": percentiles(seconds, unit="s", digits=2),
        # CPU seconds (user + system, all threads) barely depend on what else the machine runs: on a shared,
        # busy machine they say what the wall time would be on an idle one better than the wall time does.
        "import_cpu_time": percentiles([r["cpu_s"] for r in rounds], unit="s", digits=2),
        "load_average_1min_after": round(os.getloadavg()[0], 1),
        "peak_rss": percentiles(peaks, unit="mb", digits=0),
        "goal": {"seconds_at_most": GOAL_SECONDS, "peak_rss_mb_at_most": GOAL_PEAK_MB},
        "goal_met": max(seconds) <= GOAL_SECONDS and max(peaks) <= GOAL_PEAK_MB,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
