"""Datasets of your own classes: 2-20 named classes stored under the runs folder, listed beside MNIST.

Each lives in `<runs folder>/datasets/<name>/`: the four standard IDX files and `dataset.json`, a
manifest with the class names, the drawing recipe and the SHA-256 of every file. A folder is only
ever moved into place complete (see `custom_build.py`), so anything listed here is whole; a file
changed since is refused on loading by its hash.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.datasets.files import IDX_STEMS, read_idx, sha256_file
from core.datasets.registry import DATASETS, DatasetInfo, DrawingRecipe
from core.datasets.splits import DatasetError, Splits, validate_splits

DATASETS_FOLDER = "datasets"
MANIFEST = "dataset.json"
FORMAT_VERSION = 1
MIN_CLASSES, MAX_CLASSES = 2, 20
# Ten drawings per class is what a class of students draws in a few minutes, and enough for a small CNN
# with augmentation to tell clearly different shapes apart (bench/custom_accuracy.py measures it).
MIN_PER_CLASS = 10
# A dataset's name is a folder name and a key in the run store: lower-case letters, digits, - and _.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Class names come from people and from folder names in zips: plain words only, no path characters.
CLASS_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$")
IDX_FILES = {key: stem for key, stem in IDX_STEMS.items()}
_KINDS = {"x_train": "images", "y_train": "labels", "x_test": "images", "y_test": "labels"}


def datasets_root(runs_folder: str | Path | None = None) -> Path:
    """Where datasets of your own live: `datasets/` in the runs folder."""
    # Imported here: the run store imports the datasets package.
    from core.runs.folder import runs_dir

    return runs_dir(runs_folder) / DATASETS_FOLDER


def dataset_name_from(text: str) -> str:
    """The folder-safe name for what a user typed ("My Shapes" -> "my-shapes"); DatasetError if none."""
    name = re.sub(r"[\s]+", "-", text.strip().lower())
    if not NAME_PATTERN.fullmatch(name):
        raise DatasetError(
            f"{text!r} cannot name a dataset: use up to 40 letters, digits, spaces, - or _, starting with a "
            "letter or digit (for example 'shapes')."
        )
    if name in DATASETS:
        raise DatasetError(f"{text!r} is a built-in dataset's name: pick another name for yours.")
    return name


def check_class_name(name: str) -> str:
    """A class name as given, if it is safe as a folder name and a label; DatasetError saying why not."""
    if not isinstance(name, str) or not CLASS_NAME_PATTERN.fullmatch(name):
        raise DatasetError(
            f"The class name {name!r} is not allowed: use up to 40 letters, digits, spaces, - or _, "
            "starting with a letter or digit (no dots, slashes or other symbols)."
        )
    return name


@dataclass(frozen=True)
class CustomManifest:
    """What `dataset.json` says about a dataset of your own."""

    info: DatasetInfo
    owner: str
    created: str
    origin: str
    files: dict[str, str]
    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]
    duplicates_dropped: int
    skipped_files: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "name": self.info.name,
            "display_name": self.info.display_name,
            "class_names": list(self.info.class_names),
            "drawing_recipe": self.info.drawing_recipe.value,
            "owner": self.owner,
            "created": self.created,
            "origin": self.origin,
            "files": self.files,
            "train_counts": list(self.train_counts),
            "test_counts": list(self.test_counts),
            "duplicates_dropped": self.duplicates_dropped,
            "skipped_files": self.skipped_files,
        }


def custom_info(name: str, display_name: str, class_names: tuple[str, ...], recipe: DrawingRecipe) -> DatasetInfo:
    """The registry entry of a dataset of your own."""
    return DatasetInfo(
        name=name,
        display_name=display_name,
        class_names=class_names,
        drawing_recipe=recipe,
        folder_names=(),
        npz_names=(),
        official_sizes=(0, 0),
        # Your classes may be arrows or letters: a mirror image is not assumed to be the same class.
        mirror_invariant=False,
        custom=True,
    )


def manifest_from_json(content: Any, folder: Path) -> CustomManifest:
    """Parse and check a manifest; DatasetError naming the folder if anything is off."""
    try:
        if content["format_version"] != FORMAT_VERSION:
            raise DatasetError(f"{folder}: made by another version of the app (format {content['format_version']}).")
        classes = tuple(check_class_name(name) for name in content["class_names"])
        if not MIN_CLASSES <= len(classes) <= MAX_CLASSES or content["name"] != folder.name:
            raise DatasetError(f"{folder}: its manifest does not match the folder.")
        info = custom_info(
            content["name"], str(content["display_name"]), classes, DrawingRecipe(content["drawing_recipe"])
        )
        files = {str(key): str(value) for key, value in content["files"].items()}
        if set(files) != {f"{stem}" for stem in IDX_FILES.values()}:
            raise DatasetError(f"{folder}: its manifest does not list the four IDX files.")
        return CustomManifest(
            info,
            str(content["owner"]),
            str(content["created"]),
            str(content["origin"]),
            files,
            tuple(int(n) for n in content["train_counts"]),
            tuple(int(n) for n in content["test_counts"]),
            int(content["duplicates_dropped"]),
            int(content["skipped_files"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, DatasetError):
            raise
        raise DatasetError(f"{folder}: its manifest {MANIFEST} is damaged ({error!r}).") from None


# Manifests by folder, kept while the file is unchanged: `dataset_info` is asked often.
_manifests: dict[Path, tuple[int, CustomManifest]] = {}
_manifests_lock = threading.Lock()


def read_manifest(folder: Path) -> CustomManifest:
    """The manifest of one dataset folder (cached while the file is unchanged)."""
    path = folder / MANIFEST
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise DatasetError(f"{folder}: no {MANIFEST}, so it is not a complete dataset.") from None
    with _manifests_lock:
        cached = _manifests.get(folder)
        if cached and cached[0] == stamp:
            return cached[1]
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DatasetError(f"{folder}: its manifest {MANIFEST} cannot be read ({error}).") from None
    manifest = manifest_from_json(content, folder)
    with _manifests_lock:
        _manifests[folder] = (stamp, manifest)
    return manifest


def custom_dataset_names(runs_folder: str | Path | None = None) -> list[str]:
    """Names of the complete datasets of your own, sorted; damaged ones are left out."""
    root = datasets_root(runs_folder)
    try:
        folders = sorted(entry for entry in root.iterdir() if NAME_PATTERN.fullmatch(entry.name) and entry.is_dir())
    except OSError:
        return []
    names = []
    for folder in folders:
        try:
            read_manifest(folder)
        except DatasetError:
            continue
        names.append(folder.name)
    return names


def custom_dataset_info(name: str, runs_folder: str | Path | None = None) -> DatasetInfo | None:
    """The registry entry of a dataset of your own, or None if there is no such complete dataset."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return None
    try:
        return read_manifest(datasets_root(runs_folder) / name).info
    except DatasetError:
        return None


def custom_manifest(name: str, runs_folder: str | Path | None = None) -> CustomManifest:
    """The manifest of a dataset of your own; DatasetError if there is none."""
    if not NAME_PATTERN.fullmatch(name):
        raise DatasetError(f"There is no dataset named {name!r}.")
    return read_manifest(datasets_root(runs_folder) / name)


def manifest_stamp(name: str, runs_folder: str | Path | None = None) -> str:
    """Changes whenever the dataset is rebuilt: a cache key for its loaded arrays."""
    path = datasets_root(runs_folder) / name / MANIFEST
    try:
        stat = path.stat()
    except OSError:
        return ""
    return f"{stat.st_mtime_ns}-{stat.st_ino}"


def read_custom_splits(name: str, runs_folder: str | Path | None = None) -> tuple[CustomManifest, Splits]:
    """The arrays of a dataset of your own, each file checked against its manifest's SHA-256 first."""
    folder = datasets_root(runs_folder) / name
    manifest = custom_manifest(name, runs_folder)
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = folder / stem
        if not path.is_file() or os.path.islink(path):
            raise DatasetError(f"{path}: missing, so the dataset is incomplete.")
        if sha256_file(path) != manifest.files[stem]:
            raise DatasetError(f"{path}: changed since the dataset was made (its SHA-256 does not match).")
        arrays[key] = read_idx(path, _KINDS[key])
    splits = validate_splits(Splits(**arrays), str(folder), manifest.info.num_classes)
    return manifest, splits


def describe_custom(manifest: CustomManifest, splits: Splits) -> str:
    """A sentence for the UI: which data, how much, from where, and when (pages cache by this sentence)."""
    info = manifest.info
    return (
        f"{info.display_name} dataset you made ({info.num_classes} classes, {len(splits.y_train):,} train / "
        f"{len(splits.y_test):,} test images, {manifest.origin}, saved {manifest.created})"
    )
