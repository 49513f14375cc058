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


# A bench that drives the app from outside never loads TensorFlow itself; a child that does costs about
# 6 s once (2 cores), before the app starts, and leaves no TensorFlow runtime here competing for the cores.
GPU_PROBE = "import json, tensorflow as tf; print(json.dumps([d.name for d in tf.config.list_physical_devices('GPU')]))"


def _gpus() -> list[str] | str:
    """The GPUs TensorFlow sees: asked of this process if it has TensorFlow loaded, else of a fresh Python."""
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        return [device.name for device in tf.config.list_physical_devices("GPU")]
    try:
        completed = subprocess.run(
            [sys.executable, "-c", GPU_PROBE], capture_output=True, text=True, check=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"not checked ({type(error).__name__})"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine_info() -> dict:
    """Cores, CPU model, GPUs, Python and packages."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "gpus": _gpus(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
