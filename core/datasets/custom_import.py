"""Images of your own classes from a `.zip` or a folder of class sub-folders (`circle/001.png`, ...).

Seed 003's ImageFolder layout: one sub-folder per class, optionally all inside one top folder. Each
image goes through `core.preprocessing`, the same path as the Predict page's uploads, with its
safety rules (size, decompression bombs, formats); a file it refuses is reported and skipped. The
archive itself is checked before anything is unpacked: no absolute or `..` paths, no symlinks, at
most MAX_FILES files and MAX_TOTAL_BYTES unpacked, counted again while reading.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from core.access import Action, Caller, require
from core.datasets.custom import CustomManifest, check_class_name, dataset_name_from
from core.datasets.custom_build import BuildReport, build_custom_dataset
from core.datasets.registry import DrawingRecipe
from core.datasets.splits import DatasetError
from core.preprocessing import MAX_BYTES, ImageInputError, preprocess_image

MAX_FILES = 10_000
# A 10,000-image set of 28x28 scans is a few MB; even phone photos at 50 kB each stay far below this.
MAX_TOTAL_BYTES = 1 << 30
# Files every operating system adds to folders and zips: not images, and not worth a complaint.
JUNK = re.compile(r"^(__MACOSX|\..*|Thumbs\.db|desktop\.ini)$", re.IGNORECASE)
READ_CHUNK = 1 << 16
# Images read, then preprocessed in parallel, at a time: bounds the memory held in undecoded files.
CHUNK = 256
WORKERS = min(4, os.cpu_count() or 1)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FileProblem:
    """One file that was skipped, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class ImportedImages:
    """The 28x28 images found per class, in file-name order, and the files skipped."""

    images_by_class: dict[str, np.ndarray]
    problems: list[FileProblem] = field(default_factory=list)


def _split_path(name: str) -> tuple[str, ...]:
    """An entry's path parts; DatasetError for paths that could point outside the folder."""
    # Zips made on Windows may use backslashes; treating them as separators catches `..\\` too.
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise DatasetError(
            f"The zip holds an absolute path ({name!r}), which could write anywhere: refused. Zip the class "
            "folders themselves, from inside the dataset folder."
        )
    parts = tuple(part for part in PurePosixPath(posix).parts if part not in ("", "."))
    if ".." in parts:
        raise DatasetError(
            f"The zip holds a path that climbs out of it ({name!r}): refused. Zip the class folders themselves."
        )
    return parts


def _class_of(paths: list[tuple[str, ...]]) -> Callable[[tuple[str, ...]], str | None]:
    """Which part of a path names its class: the first, or the second when one folder wraps them all."""
    tops = {parts[0] for parts in paths if len(parts) > 1}
    wrapped = len(tops) == 1 and all(len(parts) >= 3 for parts in paths)
    depth = 1 if wrapped else 0
    return lambda parts: parts[depth] if len(parts) > depth + 1 else None


def _group(
    paths: list[tuple[str, ...]], folders: list[tuple[str, ...]], problems: list[FileProblem]
) -> dict[str, list[tuple[str, ...]]]:
    """Files by class folder (sorted); files outside any class folder are reported, empty classes refused."""
    class_of = _class_of(paths)
    grouped: dict[str, list[tuple[str, ...]]] = {}
    for parts in sorted(paths):
        name = class_of(parts)
        if name is None:
            problems.append(FileProblem("/".join(parts), "not inside a class folder, so it has no class: skipped"))
            continue
        grouped.setdefault(name, []).append(parts)
    for name in grouped:
        check_class_name(name)
    empty = sorted({class_of((*parts, "file")) for parts in folders if parts} - set(grouped) - {None})
    if empty:
        raise DatasetError(
            f"The class folder{'s' if len(empty) > 1 else ''} {', '.join(map(repr, empty))} hold no files: "
            "add images to them, or remove them."
        )
    return grouped


def _model_input(data: bytes | ImageInputError, recipe: DrawingRecipe) -> np.ndarray | str:
    """One file's 28x28 picture, or why it cannot be used."""
    if isinstance(data, ImageInputError):
        return str(data)
    try:
        result = preprocess_image(data, None, recipe=recipe, keep_steps=False)
    except ImageInputError as error:
        return str(error)
    return "blank: no shape to read" if result.is_empty else result.model_input


def _read_or_reason(read: Callable[[tuple[str, ...]], bytes], parts: tuple[str, ...]) -> bytes | ImageInputError:
    try:
        return read(parts)
    except ImageInputError as error:
        return error


def _preprocess_all(
    grouped: dict[str, list[tuple[str, ...]]],
    read: Callable[[tuple[str, ...]], bytes],
    recipe: DrawingRecipe,
    problems: list[FileProblem],
    progress: Progress | None,
) -> dict[str, np.ndarray]:
    total = sum(len(files) for files in grouped.values())
    done = 0
    images_by_class = {}
    # Which file first gave each picture, so a picture in two classes can be named by its files.
    first_seen: dict[bytes, tuple[str, str]] = {}
    # Files are read in order here (one zip, one reader) and decoded on every core: Pillow and NumPy
    # release the GIL for most of the work, so threads share it without copying anything.
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for name, files in grouped.items():
            images = np.empty((len(files), 28, 28), dtype=np.uint8)
            kept = 0
            for start in range(0, len(files), CHUNK):
                chunk = files[start : start + CHUNK]
                data = [_read_or_reason(read, parts) for parts in chunk]
                for parts, outcome in zip(chunk, pool.map(_model_input, data, [recipe] * len(data)), strict=True):
                    path = "/".join(parts)
                    if isinstance(outcome, str):
                        problems.append(FileProblem(path, outcome))
                    else:
                        _refuse_if_in_another_class(first_seen, outcome, name, path)
                        images[kept] = outcome
                        kept += 1
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            images_by_class[name] = images[:kept]
    return images_by_class


def _refuse_if_in_another_class(first_seen: dict[bytes, tuple[str, str]], image, name: str, path: str) -> None:
    """The same 28x28 picture filed under two classes contradicts itself: refuse, naming both files."""
    digest = hashlib.sha256(image.tobytes()).digest()
    other_class, other_path = first_seen.setdefault(digest, (name, path))
    if other_class != name:
        raise DatasetError(
            f"{other_path} and {path} are the same picture (after resizing to 28x28) in two classes, "
            f"{other_class!r} and {name!r}: remove it from the class it does not belong to."
        )


def read_zip(
    source: Path | bytes | BinaryIO, recipe: DrawingRecipe, progress: Progress | None = None
) -> ImportedImages:
    """The images of a zip of class folders; DatasetError if the zip itself is unsafe or unreadable."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        with zipfile.ZipFile(source) as archive:
            return _read_archive(archive, recipe, progress)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as error:
        raise DatasetError(
            f"This file is not a readable .zip ({error}). Make it again with your system's zip tool."
        ) from None


def _read_archive(archive: zipfile.ZipFile, recipe: DrawingRecipe, progress: Progress | None) -> ImportedImages:
    members: dict[tuple[str, ...], zipfile.ZipInfo] = {}
    folders: list[tuple[str, ...]] = []
    declared = 0
    for info in archive.infolist():
        parts = _split_path(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DatasetError(f"The zip holds a symbolic link ({info.filename!r}): refused. Zip the files themselves.")
        if not parts or any(JUNK.match(part) for part in parts):
            continue
        if info.is_dir():
            folders.append(parts)
            continue
        members[parts] = info
        declared += info.file_size
        if len(members) > MAX_FILES:
            raise DatasetError(f"The zip holds more than {MAX_FILES:,} files: split it, or use a folder on the server.")
    if declared > MAX_TOTAL_BYTES:
        raise DatasetError(
            f"The zip would unpack to {declared / 2**30:.1f} GB, more than the {MAX_TOTAL_BYTES / 2**30:.0f} GB "
            "allowed (a zip bomb, or far larger images than 28x28 needs): shrink the images first."
        )
    problems: list[FileProblem] = []
    grouped = _group(list(members), folders, problems)
    unpacked = 0

    def read(parts: tuple[str, ...]) -> bytes:
        nonlocal unpacked
        info = members[parts]
        if info.flag_bits & 0x1:
            raise ImageInputError("encrypted: zip it without a password.")
        if info.file_size > MAX_BYTES:
            raise ImageInputError(
                f"unpacks to {info.file_size / 1e6:.0f} MB; use images under {MAX_BYTES // 2**20} MB."
            )
        # Counted as it unpacks, not trusted from the header: a forged size must not get past the limits.
        chunks, size = [], 0
        try:
            with archive.open(info) as member:
                while chunk := member.read(READ_CHUNK):
                    size += len(chunk)
                    if size > info.file_size or unpacked + size > MAX_TOTAL_BYTES:
                        raise DatasetError(
                            f"{'/'.join(parts)} unpacks to more than its header says: the zip is forged, refused."
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
            raise ImageInputError(f"cannot be unpacked ({error}).") from None
        unpacked += size
        return b"".join(chunks)

    return ImportedImages(_preprocess_all(grouped, read, recipe, problems, progress), problems)


def read_folder(folder: Path, recipe: DrawingRecipe, progress: Progress | None = None) -> ImportedImages:
    """The images of a folder of class folders on this machine; symlinks are refused, not followed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"No folder at {folder}: check the path.")
    paths: dict[tuple[str, ...], Path] = {}
    folders: list[tuple[str, ...]] = []
    total = 0
    for directory, subfolders, files in os.walk(folder, followlinks=False):
        here = Path(directory)
        subfolders[:] = sorted(name for name in subfolders if not JUNK.match(name))
        for name in subfolders + files:
            if (here / name).is_symlink():
                raise DatasetError(f"{here / name} is a symbolic link: refused. Copy the files in instead.")
        folders += [(here / name).relative_to(folder).parts for name in subfolders]
        for name in files:
            if JUNK.match(name):
                continue
            path = here / name
            parts = path.relative_to(folder).parts
            paths[parts] = path
            total += path.stat().st_size
            if len(paths) > MAX_FILES:
                raise DatasetError(f"{folder} holds more than {MAX_FILES:,} files: use at most that many.")
    if total > MAX_TOTAL_BYTES:
        raise DatasetError(f"{folder} holds {total / 2**30:.1f} GB of files, more than the 1 GB allowed.")
    problems: list[FileProblem] = []
    grouped = _group(list(paths), folders, problems)

    def read(parts: tuple[str, ...]) -> bytes:
        path = paths[parts]
        if path.stat().st_size > MAX_BYTES:
            raise ImageInputError(f"is over {MAX_BYTES // 2**20} MB; use smaller images.")
        try:
            return path.read_bytes()
        except OSError as error:
            raise ImageInputError(f"cannot be read ({error.strerror}).") from None

    return ImportedImages(_preprocess_all(grouped, read, recipe, problems, progress), problems)


@dataclass(frozen=True)
class ImportReport:
    """A dataset made from a zip or folder, and the files that were skipped on the way."""

    build: BuildReport
    problems: list[FileProblem]

    @property
    def manifest(self) -> CustomManifest:
        return self.build.manifest


def import_custom_dataset(
    display_name: str,
    source: Path | bytes | BinaryIO,
    recipe: DrawingRecipe,
    *,
    by: Caller,
    replace: bool = False,
    progress: Progress | None = None,
    runs_folder: str | Path | None = None,
) -> ImportReport:
    """Make a dataset of your own from a zip (a path or its bytes) or a folder of class folders.

    A folder on the server is read only by an admin, like the data folder; a zip is anyone's upload.
    """
    require(by, Action.TRAIN)
    name = dataset_name_from(display_name)
    if isinstance(source, Path) and source.is_dir():
        require(by, Action.DATA_FOLDER)
        imported, origin = read_folder(source, recipe, progress), f"imported from the folder {source.name}"
    else:
        label = source.name if isinstance(source, Path) else "an uploaded zip"
        imported, origin = read_zip(source, recipe, progress), f"imported from {label}"
    build = build_custom_dataset(
        name,
        display_name.strip(),
        imported.images_by_class,
        recipe,
        by=by,
        origin=origin,
        skipped_files=len(imported.problems),
        replace=replace,
        runs_folder=runs_folder,
    )
    return ImportReport(build, imported.problems)
