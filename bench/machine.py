"""The machine and package versions a benchmark ran on, for its JSON: figures mean little without them."""

from __future__ import annotations

import os
import platform
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


def machine_info(gpus: list[str] | None = None) -> dict:
    """Cores, CPU model, GPUs (when the caller has TensorFlow loaded and passes them), Python and packages."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "gpus": gpus if gpus is not None else "not checked",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
