"""Drawn test sets kept on disk, so each training process need not redraw them.

Drawing and preprocessing a thousand test images takes about 3 s a style, and every run, sweep
trial and ensemble is its own process that scores them at its end. The file's name is a hash of
everything the drawings depend on: the dataset's test images and labels, the style, the code that
draws and preprocesses, and the image libraries' versions. A file that is missing, truncated or
does not fit is redrawn; writes are atomic, so two processes never see half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import PIL
import scipy

CACHE_DIR_ENV = "EXPLORER_CACHE_DIR"
# The modules whose code decides what a drawing looks like: editing one redraws every set.
_DRAWING_CODE = ("drawn_test_set.py", "preprocessing.py", "architectures/drawing_style.py", "datasets/registry.py")
_CORE = Path(__file__).resolve().parent
_FIELDS = ("images", "labels", "test_indices")


def cache_dir() -> Path:
    """Where drawn sets are kept: EXPLORER_CACHE_DIR, else the user's cache folder."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnn-model-explorer"


def drawn_set_key(dataset_name: str, style: str, x_test: np.ndarray, y_test: np.ndarray) -> str:
    """A name that changes whenever the drawn set could: data, style, drawing code or library versions."""
    digest = hashlib.sha256()
    for part in (dataset_name, style, np.__version__, scipy.__version__, PIL.__version__):
        digest.update(part.encode() + b"\0")
    for module in _DRAWING_CODE:
        digest.update((_CORE / module).read_bytes())
    for array in (x_test, y_test):
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:32]


def _path(key: str) -> Path:
    return cache_dir() / "drawn" / f"{key}.npz"


def load_drawn_arrays(key: str) -> dict[str, np.ndarray] | None:
    """The arrays saved under `key`, or None when there are none or the file is unreadable."""
    try:
        with np.load(_path(key), allow_pickle=False) as saved:
            return {name: saved[name] for name in _FIELDS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def save_drawn_arrays(key: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep the arrays under `key`; a cache that cannot be written only means drawing again next time."""
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **{name: arrays[name] for name in _FIELDS})
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
