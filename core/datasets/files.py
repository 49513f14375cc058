"""Readers for the two on-disk dataset formats: the IDX files (raw or gzipped) and Keras' `.npz`.

Every reader validates before it allocates: header sizes are checked against limits and the
file's length, so a corrupt or hostile file fails fast with a `DatasetError` naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from core.datasets.registry import DATASETS, IMAGE_SIDE, DatasetInfo
from core.datasets.splits import DatasetError, Splits, validate_splits

# The four standard files, by the array each one holds. Each may also end in `.gz`.
IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the official files, so a file can be recognised even when it sits in the wrong place.
KNOWN_SHA256: dict[str, tuple[str, str]] = {
    # MNIST, as published by Yann LeCun and Corinna Cortes (and mirrored by TensorFlow).
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609": ("mnist", "train-images-idx3-ubyte.gz"),
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c": ("mnist", "train-labels-idx1-ubyte.gz"),
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6": ("mnist", "t10k-images-idx3-ubyte.gz"),
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6": ("mnist", "t10k-labels-idx1-ubyte.gz"),
    # Keras' single-file MNIST (the hash keras.datasets.mnist checks after downloading).
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1": ("mnist", "mnist.npz"),
    # Fashion-MNIST as packaged by Debian (`dataset-fashion-mnist`).
    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7": ("fashion_mnist", "train-images-idx3-ubyte.gz"),
    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056": ("fashion_mnist", "train-labels-idx1-ubyte.gz"),
    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa": ("fashion_mnist", "t10k-images-idx3-ubyte.gz"),
    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05": ("fashion_mnist", "t10k-labels-idx1-ubyte.gz"),
}  # fmt: skip

# More images than any dataset of this kind holds: a header claiming more is corrupt or hostile.
MAX_ITEMS = 1_000_000
MAX_NPZ_MEMBER_BYTES = MAX_ITEMS * IMAGE_SIDE * IMAGE_SIDE + 1024

_IDX_UBYTE = 0x08
_IDX_DIMS = {"images": 3, "labels": 1}


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in chunks so a large file costs no memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_known_hash(path: Path, info: DatasetInfo, *, required: bool = False) -> bool:
    """Refuse an official file of another dataset; return whether this one is verified official."""
    known = KNOWN_SHA256.get(sha256_file(path))
    if known is None:
        if required:
            raise DatasetError(f"{path}: checksum does not match the official file (damaged or half-written).")
        return False
    dataset_name, file_name = known
    if dataset_name != info.name or not file_name.startswith(path.name.removesuffix(".gz")):
        other = DATASETS[dataset_name].display_name
        raise DatasetError(f"{path} is {other}'s {file_name}, not {info.display_name}'s {path.name}.")
    return True


def read_idx(path: Path, kind: str) -> np.ndarray:
    """Read one IDX file of uint8 `images` (N, 28, 28) or `labels` (N,), raw or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            dims = _read_idx_header(file, path, kind)
            payload_size = math.prod(dims)
            if opener is open:
                _check_raw_length(path, 4 + 4 * len(dims) + payload_size)
            # One byte more than expected tells a file with trailing garbage from a good one.
            payload = file.read(payload_size + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: cannot be read, it is truncated or not a valid file ({error}).") from None
    if len(payload) < payload_size:
        raise DatasetError(f"{path}: truncated, holds {len(payload):,} of {payload_size:,} data bytes.")
    if len(payload) > payload_size:
        raise DatasetError(f"{path}: has unexpected bytes after the {dims[0]:,} items its header declares.")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _read_idx_header(file, path: Path, kind: str) -> tuple[int, ...]:
    ndim = _IDX_DIMS[kind]
    magic = file.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] != _IDX_UBYTE or magic[3] != ndim:
        raise DatasetError(f"{path}: not an IDX {kind} file (wrong magic number {magic.hex() or 'empty'}).")
    raw_dims = file.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DatasetError(f"{path}: truncated inside its header.")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    if dims[0] > MAX_ITEMS:
        raise DatasetError(f"{path}: header declares {dims[0]:,} items, more than the {MAX_ITEMS:,} allowed.")
    if kind == "images" and dims[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DatasetError(f"{path}: images are {dims[1]}x{dims[2]}, expected {IMAGE_SIDE}x{IMAGE_SIDE}.")
    return dims


def _check_raw_length(path: Path, expected: int) -> None:
    actual = path.stat().st_size
    if actual < expected:
        raise DatasetError(f"{path}: truncated, {actual:,} bytes where its header needs {expected:,}.")
    if actual > expected:
        raise DatasetError(f"{path}: {actual - expected:,} unexpected bytes after the data its header declares.")


def find_idx_files(folder: Path) -> dict[str, Path]:
    """The standard IDX files present in a folder (gzipped preferred), by array name."""
    found = {}
    for key, stem in IDX_STEMS.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def read_idx_folder(folder: Path, info: DatasetInfo, *, require_known_hash: bool = False) -> tuple[Splits, bool]:
    """Read the four IDX files of a folder; return the splits and whether all are verified official."""
    found = find_idx_files(folder)
    missing = [IDX_STEMS[key] for key in IDX_STEMS if key not in found]
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)} (raw or .gz) next to the other IDX files.")
    verified = all([check_known_hash(path, info, required=require_known_hash) for path in found.values()])
    kinds = {"x_train": "images", "y_train": "labels", "x_test": "images", "y_test": "labels"}
    splits = Splits(**{key: read_idx(found[key], kinds[key]) for key in IDX_STEMS})
    return validate_splits(splits, str(folder)), verified


def read_npz(path: Path, info: DatasetInfo, *, require_known_hash: bool = False) -> tuple[Splits, bool]:
    """Read a Keras-style `.npz` with x_train, y_train, x_test, y_test, refusing pickles and bombs."""
    verified = check_known_hash(path, info, required=require_known_hash)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.file_size > MAX_NPZ_MEMBER_BYTES:
                    raise DatasetError(
                        f"{path}: {member.filename} would unpack to {member.file_size:,} bytes, "
                        "far more than a dataset of 28x28 images needs."
                    )
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in Splits._fields if key not in npz.files]
            if missing:
                raise DatasetError(f"{path}: missing the arrays {', '.join(missing)}.")
            splits = Splits(*(npz[key] for key in Splits._fields))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: cannot be read, it is truncated or not a valid .npz ({error}).") from None
    return validate_splits(splits, str(path)), verified
