"""The machine and package versions a benchmark ran on, for its JSON: figures mean little without them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("tensorflow", "keras", "streamlit", "numpy", "scikit-learn", "scipy", "pillow", "plotly", "playwright")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# A bench that drives the app from outside never loads TensorFlow itself. A child that does costs about
# 6 s once (2 cores), before the app starts, and leaves no TensorFlow runtime here competing for the cores.
GPU_PROBE = "import json, tensorflow as tf; print(json.dumps([d.name for d in tf.config.list_physical_devices('GPU')]))"


def gpus_in_subprocess() -> list[str] | str:
    """The GPUs TensorFlow sees, asked of a fresh Python with the same environment as the app's worker."""
    try:
        completed = subprocess.run(
            [sys.executable, "-c", GPU_PROBE], capture_output=True, text=True, check=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"not checked ({type(error).__name__})"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine_info(gpus: list[str] | str | None = None) -> dict:
    """Cores, CPU model, GPUs (when the caller has TensorFlow loaded and passes them), Python and packages."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "gpus": gpus if gpus is not None else "not checked",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
