"""`load_dataset`: try each source in order, keep why any was skipped, cache the winner per process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datasets.custom import describe_custom, manifest_stamp, read_custom_splits
from core.datasets.registry import DatasetInfo, dataset_info
from core.datasets.sources import Found, Source, SourceKind, default_sources
from core.datasets.splits import DatasetError


@dataclass(frozen=True)
class SkippedSource:
    """A source that was tried and not used, and why."""

    label: str
    reason: str


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: read-only uint8 arrays, class names, and a plain sentence saying where it came from."""

    info: DatasetInfo
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source_kind: SourceKind
    source: str
    # Sources tried before this one that held something unusable (absent ones are not listed).
    skipped: tuple[SkippedSource, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def is_sample(self) -> bool:
        return self.source_kind is SourceKind.SAMPLE


def describe_source(info: DatasetInfo, found: Found, kind: SourceKind) -> str:
    """A sentence for the UI: which data, how much, from where."""
    n_train, n_test = len(found.splits.x_train), len(found.splits.x_test)
    counts = f"{n_train:,} train / {n_test:,} test images"
    if kind is SourceKind.SAMPLE:
        return f"embedded sample of {info.display_name}: {counts}"
    full = "full " if (n_train, n_test) == info.official_sizes else ""
    unverified = "" if found.verified else " (files not recognised as the official ones)"
    return f"{full}{info.display_name} ({counts}) from {found.location}{unverified}"


def load_from_sources(info: DatasetInfo, sources: list[Source]) -> Dataset:
    """Return the first source that holds a complete, valid dataset; remember why others failed."""
    skipped = []
    for source in sources:
        try:
            found = source.read()
        except DatasetError as error:
            skipped.append(SkippedSource(source.label, str(error)))
            continue
        if found is None:
            continue
        return Dataset(
            info,
            *found.splits,
            source_kind=source.kind,
            source=describe_source(info, found, source.kind),
            skipped=tuple(skipped),
        )
    reasons = "; ".join(f"{s.label}: {s.reason}" for s in skipped) or "no source holds it"
    raise DatasetError(f"{info.display_name} could not be loaded ({reasons}).")


# Least recently used out: every data folder typed in the sidebar is a key, and a full dataset is
# 55 MB, so an unbounded cache is a way to fill the server's memory.
MAX_LOADED = 6
_cache: OrderedDict[tuple[str, str], Dataset] = OrderedDict()
_cache_lock = threading.Lock()


def load_dataset(name: str, data_dir: str | Path | None = None) -> Dataset:
    """Load a dataset by name from the first usable source; the last MAX_LOADED kept per process."""
    info = dataset_info(name)
    # Your own datasets ignore the data folder, and are read again whenever they are rebuilt.
    key = (name, f"custom {manifest_stamp(name)}" if info.custom else str(data_dir or ""))
    # One lock for all loads: two sessions asking at once read the files once.
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_custom(name) if info.custom else load_from_sources(info, default_sources(info, data_dir))
            while len(_cache) > MAX_LOADED:
                _cache.popitem(last=False)
        _cache.move_to_end(key)
        return _cache[key]


def load_custom(name: str) -> Dataset:
    """A dataset of your own from the runs folder, its files checked against the manifest."""
    manifest, splits = read_custom_splits(name)
    return Dataset(manifest.info, *splits, source_kind=SourceKind.CUSTOM, source=describe_custom(manifest, splits))


def loaded_count() -> int:
    """How many datasets this process keeps loaded."""
    with _cache_lock:
        return len(_cache)


def forget_loaded_datasets() -> None:
    """Drop the per-process cache, so the next load looks at the sources again."""
    with _cache_lock:
        _cache.clear()
