"""Make a dataset of your own from 28x28 images per class: checks, duplicates, split, atomic write.

The folder is written under a hidden temporary name next to the others, every file fsynced, the
manifest last, and only then renamed into place: a crash or a refusal never leaves a half-made
dataset that `custom_dataset_names` would list.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.access import AccessDenied, Action, Caller, require
from core.datasets.custom import (
    IDX_FILES,
    MANIFEST,
    MAX_CLASSES,
    MIN_CLASSES,
    MIN_PER_CLASS,
    NAME_PATTERN,
    CustomManifest,
    check_class_name,
    custom_info,
    datasets_root,
    read_manifest,
)
from core.datasets.registry import IMAGE_SIDE, DrawingRecipe
from core.datasets.splits import DatasetError

# A fifth of each class is held out as the test set, at least one image: the usual share for small sets.
TEST_SHARE = 0.2
# The split is the same every time the same images are given, so a rebuilt dataset scores comparably.
SPLIT_SEED = 17


@dataclass(frozen=True)
class BuildReport:
    """What was made: the manifest, and what was dropped on the way and why."""

    manifest: CustomManifest
    duplicates_dropped: int


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of uint8 images (N, 28, 28) or labels (N,), the format MNIST ships in."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def check_classes(images_by_class: dict[str, np.ndarray]) -> None:
    """2-20 safe, distinct class names, each with enough images; DatasetError saying what to fix."""
    if len(images_by_class) < MIN_CLASSES:
        found = ", ".join(images_by_class) or "none"
        raise DatasetError(
            f"A dataset needs at least {MIN_CLASSES} classes to tell apart; found {len(images_by_class)} ({found})."
        )
    if len(images_by_class) > MAX_CLASSES:
        raise DatasetError(f"A dataset can have at most {MAX_CLASSES} classes; found {len(images_by_class)}.")
    seen: dict[str, str] = {}
    for name, images in images_by_class.items():
        check_class_name(name)
        # Two classes whose names differ only in case would share a folder on macOS and Windows.
        if name.lower() in seen:
            raise DatasetError(f"The classes {seen[name.lower()]!r} and {name!r} differ only in capitals.")
        seen[name.lower()] = name
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or images.dtype != np.uint8:
            raise DatasetError(f"Class {name!r}: images must be 28x28 uint8, found {images.dtype} {images.shape}.")
    short = [f"{name!r} has {len(images)}" for name, images in images_by_class.items() if len(images) < MIN_PER_CLASS]
    if short:
        raise DatasetError(
            f"Each class needs at least {MIN_PER_CLASS} different images: {'; '.join(short)}. Add more, or leave "
            "those classes out."
        )


def drop_duplicates(images_by_class: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    """Each distinct image once per class, so no image can land in both train and test.

    The same image in two classes is refused: its label contradicts itself, and whichever split it
    landed in would teach or score the model wrongly.
    """
    owner: dict[bytes, str] = {}
    kept: dict[str, np.ndarray] = {}
    dropped = 0
    for name, images in images_by_class.items():
        keep = []
        for index, image in enumerate(images):
            digest = hashlib.sha256(image.tobytes()).digest()
            if digest in owner:
                if owner[digest] != name:
                    raise DatasetError(
                        f"The same image is in class {owner[digest]!r} and class {name!r} (after resizing to "
                        "28x28): remove it from the class it does not belong to."
                    )
                dropped += 1
                continue
            owner[digest] = name
            keep.append(index)
        kept[name] = images[keep]
    return kept, dropped


def stratified_split(images_by_class: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): a fixed-seed TEST_SHARE of every class held out."""
    rng = np.random.default_rng(SPLIT_SEED)
    parts: dict[str, list[np.ndarray]] = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for label, images in enumerate(images_by_class.values()):
        order = rng.permutation(len(images))
        n_test = max(1, round(TEST_SHARE * len(images)))
        for split, chosen in (("test", order[:n_test]), ("train", order[n_test:])):
            parts[f"x_{split}"].append(images[np.sort(chosen)])
            parts[f"y_{split}"].append(np.full(len(chosen), label, dtype=np.uint8))
    return tuple(np.concatenate(parts[key]) for key in ("x_train", "y_train", "x_test", "y_test"))


def _write_synced(path: Path, data: bytes) -> str:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return hashlib.sha256(data).hexdigest()


def _check_may_replace(folder: Path, by: Caller) -> None:
    """Adding to a dataset replaces it: your own, or any as an admin."""
    try:
        owner = read_manifest(folder).owner
    except DatasetError:
        owner = None
    if not by.is_admin and owner != by.owner:
        raise AccessDenied("You can only add to datasets you made yourself; make a new one under another name.")


def build_custom_dataset(
    name: str,
    display_name: str,
    images_by_class: dict[str, np.ndarray],
    recipe: DrawingRecipe,
    *,
    by: Caller,
    origin: str,
    skipped_files: int = 0,
    replace: bool = False,
    runs_folder: str | Path | None = None,
) -> BuildReport:
    """Check, de-duplicate, split and store a dataset of your own; it is listed only once complete.

    `name` must come from `dataset_name_from`. With `replace`, an existing dataset of that name (yours,
    or anyone's for an admin) is swapped for the new one in one rename.
    """
    require(by, Action.TRAIN)
    if not NAME_PATTERN.fullmatch(name):
        raise DatasetError(f"{name!r} is not a dataset name: make it with dataset_name_from.")
    check_classes(images_by_class)
    unique, dropped = drop_duplicates(images_by_class)
    check_classes(unique)
    x_train, y_train, x_test, y_test = stratified_split(unique)
    root = datasets_root(runs_folder)
    final = root / name
    if final.exists() and not replace:
        raise DatasetError(f"A dataset named {name!r} already exists: pick another name, or add to that one.")
    if final.exists():
        _check_may_replace(final, by)
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".building-{name}-{secrets.token_hex(4)}"
    building.mkdir()
    try:
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        files = {stem: _write_synced(building / stem, idx_bytes(arrays[key])) for key, stem in IDX_FILES.items()}
        classes = tuple(unique)
        manifest = CustomManifest(
            info=custom_info(name, display_name, classes, recipe),
            owner=by.owner,
            created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            origin=origin,
            files=files,
            train_counts=tuple(int(n) for n in np.bincount(y_train, minlength=len(classes))),
            test_counts=tuple(int(n) for n in np.bincount(y_test, minlength=len(classes))),
            duplicates_dropped=dropped,
            skipped_files=skipped_files,
        )
        _write_synced(building / MANIFEST, json.dumps(manifest.to_json(), indent=2).encode())
        _move_into_place(building, final, replace)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return BuildReport(manifest, dropped)


def _move_into_place(building: Path, final: Path, replace: bool) -> None:
    """One rename makes the dataset visible; an old one is renamed aside first and removed after."""
    retired = None
    if replace and final.exists():
        retired = final.with_name(f".retired-{final.name}-{secrets.token_hex(4)}")
        os.rename(final, retired)
    try:
        os.rename(building, final)
    except OSError as error:
        if retired is not None:
            os.rename(retired, final)
        raise DatasetError(f"A dataset named {final.name!r} was made by someone else meanwhile ({error}).") from None
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    # The rename itself is durable only once the folder holding it is synced.
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def delete_custom_dataset(name: str, *, by: Caller, runs_folder: str | Path | None = None) -> None:
    """Remove a dataset of your own (admins only); runs trained on it stay, but cannot be re-evaluated."""
    require(by, Action.DELETE)
    folder = datasets_root(runs_folder) / name
    read_manifest(folder)  # only a real dataset folder, never any path
    retired = folder.with_name(f".retired-{name}-{secrets.token_hex(4)}")
    os.rename(folder, retired)
    shutil.rmtree(retired, ignore_errors=True)
