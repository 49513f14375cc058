"""Drawings not yet saved as a dataset, kept on disk per owner so a reload or a closed tab loses none."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.datasets.custom import MAX_CLASSES, check_class_name
from core.datasets.registry import IMAGE_SIDE
from core.datasets.splits import DatasetError

DRAFTS_FOLDER = "drafts"
# Far more than anyone draws by hand (50,000 drawings), and a bound on what a damaged file can make us read.
MAX_BYTES = 50_000 * IMAGE_SIDE * IMAGE_SIDE


@dataclass
class Draft:
    """Drawings by class name, and the dataset name, drawing recipe and saved dataset they belong to."""

    examples: dict[str, list[np.ndarray]] = field(default_factory=dict)
    display_name: str = ""
    recipe: str = ""
    source: str | None = None


def draft_path(owner: str, runs_folder: str | Path | None = None) -> Path:
    """Where an owner's draft lives: named by a hash, as an owner can be an email or any session id."""
    from core.runs.folder import runs_dir  # the run store imports the datasets package

    digest = hashlib.sha256(owner.encode()).hexdigest()[:32]
    return runs_dir(runs_folder) / DRAFTS_FOLDER / f"{digest}.npz"


def save_draft(owner: str, draft: Draft, runs_folder: str | Path | None = None) -> None:
    """Write the owner's draft whole or not at all (an empty one removes the file)."""
    from core.runs.folder import write_bytes_atomically

    path = draft_path(owner, runs_folder)
    if not draft.examples:
        path.unlink(missing_ok=True)
        return
    names = list(draft.examples)
    meta = {"classes": names, "display_name": draft.display_name, "recipe": draft.recipe, "source": draft.source}
    arrays = {
        f"class_{index}": np.stack(images) if images else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
        for index, images in enumerate(draft.examples.values())
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(path, buffer.getvalue())


def load_draft(owner: str, runs_folder: str | Path | None = None) -> Draft | None:
    """The owner's saved draft, None if there is none.

    DatasetError if the file cannot be read as one; it is then moved aside (`.damaged`), never deleted,
    and the next drawing starts a new draft.
    """
    path = draft_path(owner, runs_folder)
    if not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            # Sizes as stored, before anything is decompressed: a damaged file cannot make us read more.
            if sum(entry.file_size for entry in archive.infolist()) > MAX_BYTES:
                raise ValueError("too large")
        with np.load(path, allow_pickle=False) as content:
            meta = json.loads(str(content["meta"]))
            names = [check_class_name(str(name)) for name in meta["classes"]]
            if len(names) > MAX_CLASSES or len({name.lower() for name in names}) != len(names):
                raise ValueError("wrong classes")
            examples = {}
            for index, name in enumerate(names):
                images = content[f"class_{index}"]
                if images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
                    raise ValueError("wrong images")
                examples[name] = list(images)
        source = meta.get("source")
        return Draft(examples, str(meta.get("display_name", "")), str(meta.get("recipe", "")), source and str(source))
    except Exception as error:  # whatever a damaged file raises (zlib, zip, NumPy, JSON): one line, and it is kept
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".damaged"))
        raise DatasetError(
            f"Your unsaved drawings could not be read back ({type(error).__name__}); the file was kept aside "
            f"as {path.with_suffix('.damaged').name}, and new drawings start a new draft."
        ) from error
