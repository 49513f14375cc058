"""`RunStore`: every run a user trained, indexed in SQLite, each in its own folder.

The folders are the truth, names and tags included (in each run's manifest); the SQLite index (WAL,
one connection per call so any thread may use it) only makes listing fast, and a lost index is
rebuilt from the folders. A folder whose manifest is
missing is an interrupted save and is listed as such, never as complete; a damaged folder is
listed with its reason and never breaks the listing of the others.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.access import LOCAL, Action, Caller, require
from core.datasets.files import sha256_file
from core.runs.folder import (
    MANIFEST,
    MODEL_FILE,
    is_valid_run_id,
    new_run_id,
    runs_dir,
    update_manifest,
    write_run,
)
from core.runs.index import INDEX_FILE, SCHEMA, add_new_columns, index_run, summary_from_row
from core.runs.summary import RunStoreError, RunSummary, read_folder, read_json

__all__ = ["RunSaver", "RunStore", "RunStoreError", "RunSummary"]

if TYPE_CHECKING:
    from core.training.engine import TrainingResult

MAX_NAME_LENGTH = 80
MAX_TAGS = 10


def clean_name(name: str) -> str:
    """A run name on one line, without runs of spaces, at most MAX_NAME_LENGTH characters."""
    return " ".join(str(name).split())[:MAX_NAME_LENGTH]


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Distinct, sorted, non-empty tags of at most 30 characters, at most MAX_TAGS of them."""
    return sorted({" ".join(str(tag).split())[:30] for tag in tags if str(tag).strip()})[:MAX_TAGS]


@dataclass(frozen=True)
class RunSaver:
    """Saves a training result into the store at `root`, from whichever process trained it."""

    root: Path
    dataset_source: str
    owner: str = LOCAL.owner

    def __call__(self, result: TrainingResult) -> str:
        return RunStore(self.root).save(result, self.dataset_source, self.owner)


class RunStore:
    """Runs under one folder: save, list, load safely, rename, tag, delete."""

    def __init__(self, root: str | Path | None = None):
        self.root = runs_dir(root)
        self.index_path = self.root / INDEX_FILE
        self._index_ready = False
        # A read-only or full disk must not stop the app: runs are still listed and loaded from
        # their folders, and `write_problem()` says why new ones cannot be saved.
        self.write_problem()

    def write_problem(self) -> str | None:
        """Why runs cannot be saved here (the folder cannot be created or written), or None if they can."""
        if self._index_ready:
            return None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(SCHEMA)
                add_new_columns(db)
        except (OSError, sqlite3.Error) as error:
            return self._describe_write_failure(error, "new runs cannot be saved")
        self._index_ready = True
        return None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.index_path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    # --- writing --------------------------------------------------------------------------------

    def save(
        self,
        result: TrainingResult,
        dataset_source: str,
        owner: str = LOCAL.owner,
        *,
        extra_config: Mapping[str, Any] | None = None,
        name: str = "",
        tags: Sequence[str] = (),
    ) -> str:
        """Write a training result as a new run and index it, with a name and tags if given; returns the run id.

        `extra_config` is merged into the run's config.json (see `write_run`).

        A full or read-only disk gives a RunStoreError in plain words; the half-written folder is
        removed (it was never marked complete) and earlier runs are untouched.
        """
        problem = self.write_problem()
        if problem:
            raise RunStoreError(problem)
        run_id = new_run_id()
        try:
            folder = write_run(result, dataset_source, self.root, run_id, owner, extra_config,
                               name=clean_name(name), tags=clean_tags(tags))  # fmt: skip
            self._index(read_folder(folder))
        except (OSError, sqlite3.Error) as error:
            shutil.rmtree(self.root / run_id, ignore_errors=True)
            raise RunStoreError(self._describe_write_failure(error, "this run was not saved")) from None
        return run_id

    def saver(self, dataset_source: str, owner: str = LOCAL.owner) -> RunSaver:
        """An `on_finish` hook saving into this store, picklable so a training process can call it."""
        return RunSaver(self.root, dataset_source, owner)

    def _describe_write_failure(self, error: Exception, consequence: str) -> str:
        # SQLite says only "unable to open database file"; a real write attempt says why.
        code = getattr(error, "errno", None) or self._write_errno()
        if code == errno.ENOSPC or "full" in str(error).lower():
            return (f"The disk holding the runs folder {self.root} is full, so {consequence}. "
                    "Free space or point EXPLORER_RUNS_DIR at a bigger disk; earlier runs are intact.")  # fmt: skip
        if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in str(error).lower():
            return (f"The runs folder {self.root} cannot be written (read-only), so {consequence}. "
                    "Point EXPLORER_RUNS_DIR at a writable folder; earlier runs are intact.")  # fmt: skip
        return f"Writing to the runs folder {self.root} failed ({error}), so {consequence}. Earlier runs are intact."

    def _write_errno(self) -> int | None:
        """The error number writing a file into the runs folder gives now, or None if it works."""
        try:
            with tempfile.TemporaryFile(dir=self.root if self.root.is_dir() else self.root.parent):
                return None
        except OSError as error:
            return error.errno

    @contextlib.contextmanager
    def _writing(self, consequence: str) -> Iterator[None]:
        """Turn a disk or index failure while changing a run into a RunStoreError in plain words."""
        try:
            yield
        except (OSError, sqlite3.Error) as error:
            raise RunStoreError(self._describe_write_failure(error, consequence)) from None

    def rename(self, run_id: str, name: str, *, by: Caller) -> None:
        """Give a run a name, in its folder's manifest and in the index."""
        require(by, Action.RENAME)
        self._require(run_id)
        name = clean_name(name)
        with self._writing("the name was not changed"):
            self._update_folder(run_id, name=name)
            with self._connect() as db:
                db.execute("UPDATE runs SET name = ? WHERE run_id = ?", (name, run_id))

    def set_tags(self, run_id: str, tags: list[str], *, by: Caller) -> None:
        """Replace a run's tags, in its folder's manifest and in the index."""
        require(by, Action.RENAME)
        self._require(run_id)
        tags = clean_tags(tags)
        with self._writing("the tags were not changed"):
            self._update_folder(run_id, tags=tags)
            with self._connect() as db:
                db.execute("UPDATE runs SET tags = ? WHERE run_id = ?", (json.dumps(tags), run_id))

    def _update_folder(self, run_id: str, **changes: Any) -> None:
        # The folder first: it is the truth an index is rebuilt from. An interrupted or damaged run
        # has no manifest worth rewriting, so its name and tags live in the index alone.
        folder = self._folder(run_id)
        if read_folder(folder).complete:
            update_manifest(folder, **changes)

    def delete(self, run_id: str, *, by: Caller) -> None:
        """Remove a run's folder and its row."""
        require(by, Action.DELETE)
        folder = self._folder(run_id)
        with self._writing("the run was not deleted"):
            if folder.is_dir():
                shutil.rmtree(folder)
            with self._connect() as db:
                db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    # --- reading --------------------------------------------------------------------------------

    def list_runs(self) -> list[RunSummary]:
        """Every run, newest first; folders the index has not seen yet are read and added."""
        if not self.root.is_dir():
            return []
        present = {p.name for p in self.root.iterdir() if p.is_dir() and is_valid_run_id(p.name)}
        try:
            return self._list_indexed(present)
        except sqlite3.Error:
            # The index cannot be used (a full or read-only disk): the folders are the truth, read them.
            return [read_folder(self.root / run_id) for run_id in sorted(present, reverse=True)]

    def _list_indexed(self, present: set[str]) -> list[RunSummary]:
        with self._connect() as db:
            known = {row[0] for row in db.execute("SELECT run_id FROM runs")}
        for run_id in present - known:
            self._index(read_folder(self.root / run_id))
        with self._connect() as db:
            if known - present:
                db.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in known - present])
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM runs ORDER BY run_id DESC").fetchall()
        return [summary_from_row(row) for row in rows]

    def get(self, run_id: str) -> RunSummary:
        self._require(run_id)
        return next(run for run in self.list_runs() if run.run_id == run_id)

    def history(self, run_id: str) -> dict[str, Any]:
        return read_json(self._complete_folder(run_id) / "history.json")

    def validation_confusions(self, run_id: str):
        """The validation confusion matrix recorded at the end of each epoch, shaped (epochs, classes, classes)."""
        path = self._complete_folder(run_id) / "confusion.npz"
        try:
            with np.load(path, allow_pickle=False) as saved:
                matrices = saved["validation"]
        except (OSError, ValueError, KeyError) as error:
            raise RunStoreError(f"confusion.npz of run {run_id} cannot be read ({error}).") from None
        if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
            raise RunStoreError(f"confusion.npz of run {run_id} has the wrong shape {matrices.shape}.")
        return matrices

    def model_path(self, run_id: str) -> Path:
        """The verified model file of a complete run (its SHA-256 checked against the manifest)."""
        folder = self._complete_folder(run_id)
        manifest = read_json(folder / MANIFEST)
        path = folder / MODEL_FILE
        if not path.is_file():
            raise RunStoreError(f"Run {run_id} has no model file.")
        if sha256_file(path) != manifest.get("model_sha256"):
            raise RunStoreError(
                f"Run {run_id}: model.keras does not match its recorded SHA-256; it was changed or damaged."
            )
        return path

    def load_model(self, run_id: str):
        """Load a run's model by id only, hash-checked, with Keras' safe mode on."""
        import keras

        import core.architectures  # noqa: F401  (registers the app's own layers for safe loading)

        path = self.model_path(run_id)
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # any refusal or failure of Keras' loader is reported, never raised raw
            raise RunStoreError(f"Run {run_id}: the model could not be loaded safely ({error}).") from None

    # --- internals ------------------------------------------------------------------------------

    def _index(self, run: RunSummary) -> None:
        with self._connect() as db:
            index_run(db, run)

    def _folder(self, run_id: str) -> Path:
        if not is_valid_run_id(run_id):
            raise RunStoreError(f"{run_id!r} is not a run id.")
        return self.root / run_id

    def _require(self, run_id: str) -> None:
        if not self._folder(run_id).is_dir():
            raise RunStoreError(f"There is no run {run_id}.")

    def _complete_folder(self, run_id: str) -> Path:
        folder = self._folder(run_id)
        summary = read_folder(folder) if folder.is_dir() else None
        if summary is None:
            raise RunStoreError(f"There is no run {run_id}.")
        if not summary.complete:
            raise RunStoreError(f"Run {run_id} is {summary.state}: {summary.problem}")
        return folder
