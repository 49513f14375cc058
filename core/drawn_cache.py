"""Drawn test sets kept on disk, so each training process need not redraw them.

Drawing and preprocessing a thousand test images takes about 3 s a style, and every run, sweep
trial and ensemble is its own process that scores them at its end. The file's name is a hash of
everything the drawings depend on: the dataset's test images and labels, the style, the code that
draws and preprocesses, and the image libraries' versions. The cache is only a shortcut: a file
that is missing, damaged or does not fit is redrawn, and a cache that cannot be read or written
never stops a run. Writes are atomic, so two processes never see half a file.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import numpy as np
import PIL
import scipy

from core.runs.folder import write_bytes_atomically

CACHE_DIR_ENV = "EXPLORER_CACHE_DIR"
# Drawn sets kept at most (about 0.8 MB each); the least recently written go first.
KEPT_SETS = 32


def _code_digest() -> bytes:
    """The drawing code this process runs, read once: a file edited later is not what it runs."""
    core = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for module in ("drawn_test_set.py", "preprocessing.py", "architectures/drawing_style.py", "datasets/registry.py"):
        digest.update((core / module).read_bytes())
    for version in (np.__version__, scipy.__version__, PIL.__version__):
        digest.update(version.encode() + b"\0")
    return digest.digest()


_CODE = _code_digest()


def cache_dir() -> Path:
    """Where drawn sets are kept: EXPLORER_CACHE_DIR, else the user's cache folder."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnn-model-explorer"


def drawn_set_key(dataset_name: str, style: str, x_test: np.ndarray, y_test: np.ndarray) -> str:
    """A name that changes whenever the drawn set could: data, style, drawing code or library versions."""
    digest = hashlib.sha256(_CODE)
    for part in (dataset_name, style):
        digest.update(part.encode() + b"\0")
    for array in (x_test, y_test):
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:32]


def _path(key: str) -> Path:
    return cache_dir() / "drawn" / f"{key}.npz"


def load_drawn_images(key: str) -> np.ndarray | None:
    """The images saved under `key`, or None when there are none or they cannot be read."""
    try:
        with np.load(_path(key), allow_pickle=False) as saved:
            return saved["images"]
    except Exception:  # missing, truncated, hostile or unreadable: drawn again
        return None


def save_drawn_images(key: str, images: np.ndarray) -> None:
    """Keep the images under `key`; a cache that cannot be written only means drawing again next time."""
    try:
        path = _path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, images=images)
        write_bytes_atomically(path, buffer.getvalue())
        _forget_old(path.parent)
    except Exception:
        return


def _forget_old(folder: Path) -> None:
    """Drop all but the KEPT_SETS newest sets, and leftovers of writes killed an hour ago or more."""
    sets = sorted(folder.glob("*.npz"), key=lambda path: path.stat().st_mtime, reverse=True)
    leftovers = [path for path in folder.glob(".*.partial") if path.stat().st_mtime < time.time() - 3600]
    for path in sets[KEPT_SETS:] + leftovers:
        path.unlink(missing_ok=True)
