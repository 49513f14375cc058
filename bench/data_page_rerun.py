"""How long a Data page rerun takes when nothing heavy changes (goal: well under a second).

    .venv/bin/python bench/data_page_rerun.py [--repeats 15]

Runs the real app through Streamlit's AppTest (no browser) and prints JSON: the first run per
dataset (loads and summarises the data) and p50/p95 in seconds of reruns that change nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.machine import machine_info  # noqa: E402
from bench.percentiles import percentiles  # noqa: E402
from core.datasets import forget_loaded_datasets, load_dataset  # noqa: E402

ENTRY = ROOT / "app.py"


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    results: dict = {}
    for name in ("mnist", "fashion_mnist"):
        forget_loaded_datasets()
        st.cache_data.clear()
        app = AppTest.from_file(str(ENTRY), default_timeout=120)
        app.session_state["dataset_name"] = name
        first = timed(app.run)
        reruns = [timed(app.run) for _ in range(args.repeats)]
        reshuffles = [timed(lambda app=app: app.button(key="reshuffle").click().run()) for _ in range(args.repeats)]
        assert not app.exception, app.exception
        results[name] = {
            "source": load_dataset(name).source,
            "first_run_s": round(first, 3),
            "rerun": percentiles(reruns, "s", 3),
            "reshuffle": percentiles(reshuffles, "s", 3),
        }

    results["machine"] = machine_info()
    results["repeats"] = args.repeats
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
