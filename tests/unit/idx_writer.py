"""Writers for small synthetic dataset files in the real formats, for the loader tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from core.datasets.files import IDX_STEMS


def idx_bytes(array: np.ndarray) -> bytes:
    """An array of uint8 in the IDX format: magic, big-endian dimensions, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write one IDX file, gzipped when the name ends in .gz."""
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def tiny_splits(n_train: int = 40, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images whose labels cover all ten classes."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray] | None = None, gz: bool = True) -> Path:
    """Write the four standard IDX files of a tiny dataset into a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = arrays or tiny_splits()
    for key, stem in IDX_STEMS.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return folder


def write_npz(path: Path, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a Keras-style .npz of a tiny dataset."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **(arrays or tiny_splits()))
    return path
