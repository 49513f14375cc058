"""Where a dataset's files may be, tried in order; the first complete, valid one wins.

1. the user's folder (`EXPLORER_DATA_DIR` or the app's setting),
2. the system copy from Debian's `dataset-fashion-mnist`,
3. Keras' cache (`$KERAS_HOME/datasets`, default `~/.keras/datasets`),
4. Keras' own download, when the machine is online,
5. the embedded sample in `assets/`, always there.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

from core.datasets.files import find_idx_files, read_idx_folder, read_npz
from core.datasets.registry import DatasetInfo
from core.datasets.splits import DatasetError, Splits, validate_splits

DATA_DIR_ENV = "EXPLORER_DATA_DIR"
# Set to 1 on machines that must never try the network (tests, air-gapped labs).
OFFLINE_ENV = "EXPLORER_OFFLINE"
SYSTEM_DATA_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
KERAS_DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CONNECT_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 180.0


class SourceKind(str, Enum):
    """The five kinds of place a dataset can come from, in the order they are tried."""

    FOLDER = "folder"
    SYSTEM = "system"
    KERAS_CACHE = "keras_cache"
    DOWNLOAD = "download"
    SAMPLE = "sample"
    # A dataset of your own, in the runs folder (core/datasets/custom.py); it has no other source.
    CUSTOM = "custom"


@dataclass(frozen=True)
class Found:
    """Arrays read from one source, with where they came from."""

    splits: Splits
    location: str
    verified: bool = False


@dataclass(frozen=True)
class Source:
    """One place to look: `read` returns None when nothing is there, raises DatasetError when it is bad."""

    kind: SourceKind
    label: str
    read: Callable[[], Found | None]


def sample_path(info: DatasetInfo) -> Path:
    """The embedded sample shipped with the app for this dataset."""
    return ASSETS_DIR / f"{info.name}_sample.npz"


def keras_home() -> Path:
    """Keras' cache root, honouring `KERAS_HOME` as Keras itself does."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def read_data_folder(folder: Path, info: DatasetInfo, *, require_known_hash: bool = False) -> Found | None:
    """Look for this dataset in a folder: its own sub-folder first, then the folder itself."""
    if not folder.is_dir():
        return None
    for directory in [folder / name for name in info.folder_names] + [folder]:
        if find_idx_files(directory):
            splits, verified = read_idx_folder(directory, info, require_known_hash=require_known_hash)
            return Found(splits, str(directory), verified)
        for npz_name in info.npz_names:
            if (directory / npz_name).is_file():
                splits, verified = read_npz(directory / npz_name, info, require_known_hash=require_known_hash)
                return Found(splits, str(directory / npz_name), verified)
    return None


def read_sample(info: DatasetInfo) -> Found | None:
    """The embedded sample; missing only if the app was installed without its assets."""
    path = sample_path(info)
    if not path.is_file():
        return None
    splits, _ = read_npz(path, info)
    return Found(splits, str(path), verified=True)


def download_with_keras(info: DatasetInfo) -> Found | None:
    """Keras' own `load_data`, only when its server answers, and never longer than a timeout."""
    if os.environ.get(OFFLINE_ENV) == "1":
        raise DatasetError(f"skipped: offline mode ({OFFLINE_ENV}=1).")
    host = urlparse(KERAS_DOWNLOAD_URL).hostname
    try:
        socket.create_connection((host, 443), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise DatasetError(f"offline: cannot reach {host} ({error}).") from None

    result: dict[str, object] = {}

    def download() -> None:
        try:
            # Imported here: TensorFlow takes seconds to import and most loads never get this far.
            import keras

            loader = getattr(keras.datasets, info.name)
            (x_train, y_train), (x_test, y_test) = loader.load_data()
            result["splits"] = Splits(x_train, y_train, x_test, y_test)
        except Exception as error:
            result["error"] = error

    # A daemon thread so a stalled download can be abandoned; Keras' cache checks make that safe.
    worker = threading.Thread(target=download, name=f"download-{info.name}", daemon=True)
    worker.start()
    worker.join(DOWNLOAD_TIMEOUT_S)
    if worker.is_alive():
        raise DatasetError(f"download did not finish within {DOWNLOAD_TIMEOUT_S:.0f} s.")
    if "error" in result:
        raise DatasetError(f"download failed: {result['error']}")
    splits = validate_splits(result["splits"], f"Keras download of {info.display_name}")
    return Found(splits, f"Keras' download into {keras_home() / 'datasets'}", verified=True)


def default_sources(info: DatasetInfo, data_dir: str | Path | None = None) -> list[Source]:
    """The five sources for a dataset, in the order they are tried."""
    user_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    sources = []
    if user_dir:
        folder = Path(user_dir).expanduser()
        sources.append(Source(SourceKind.FOLDER, f"your data folder {folder}", lambda: read_data_folder(folder, info)))
    system_dir = SYSTEM_DATA_DIRS.get(info.name)
    if system_dir is not None:
        sources.append(
            Source(SourceKind.SYSTEM, f"the system copy in {system_dir}", lambda: read_data_folder(system_dir, info))
        )
    cache = keras_home() / "datasets"
    sources += [
        Source(
            SourceKind.KERAS_CACHE,
            f"Keras' cache in {cache}",
            # Keras checked these files when it downloaded them: anything else is damaged or half-written.
            lambda: read_data_folder(cache, info, require_known_hash=info.name == "mnist"),
        ),
        Source(SourceKind.DOWNLOAD, "Keras' online download", lambda: download_with_keras(info)),
        Source(SourceKind.SAMPLE, "the embedded sample", lambda: read_sample(info)),
    ]
    return sources
