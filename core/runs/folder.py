"""One folder per run, written so that a crash can never leave a run that looks complete.

Every file goes to a temporary name in the run's folder and is then `os.replace`d into place; the
manifest `run.json`, which marks the run complete and records the model's SHA-256, comes last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.access import LOCAL
from core.datasets.files import sha256_file

if TYPE_CHECKING:
    from core.training.engine import TrainingResult

RUNS_DIR_ENV = "EXPLORER_RUNS_DIR"
DEFAULT_RUNS_DIR = Path(__file__).resolve().parents[2] / "runs"
RUN_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
MANIFEST = "run.json"
MODEL_FILE = "model.keras"
FORMAT_VERSION = 1


def runs_dir(configured: str | Path | None = None) -> Path:
    """Where runs live: the given folder, else EXPLORER_RUNS_DIR, else `runs/` in the app's folder."""
    return Path(configured or os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR).expanduser()


def new_run_id() -> str:
    """A sortable, unguessable id such as 20261123-154212-3fa9c1."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def is_valid_run_id(run_id: str) -> bool:
    """Run ids are names, never paths: only the exact generated form is accepted."""
    return isinstance(run_id, str) and RUN_ID_PATTERN.fullmatch(run_id) is not None


def _fsync_and_replace(partial: Path, final: Path) -> None:
    with open(partial, "rb") as file:
        os.fsync(file.fileno())
    os.replace(partial, final)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all; a failed write (a full disk) leaves no temporary file behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        _fsync_and_replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, content: Any) -> None:
    write_bytes_atomically(path, json.dumps(content, indent=2, allow_nan=False, default=str).encode())


def _finite(value: float | None) -> float | None:
    return value if value is None or np.isfinite(value) else None


def history_of(result: TrainingResult) -> dict[str, Any]:
    """The epochs, per-batch curve and live-change events of a run, as plain JSON."""
    epochs = [{k: _finite(v) if isinstance(v, float) else v for k, v in vars(e).items()} for e in result.epochs]
    return {
        "epochs": epochs,
        "batches": {
            "step": list(result.batch_steps),
            "loss": [_finite(v) for v in result.batch_loss],
            "accuracy": [_finite(v) for v in result.batch_accuracy],
        },
        "events": [vars(event) for event in result.events],
    }


def write_tensorboard_logs(folder: Path, result: TrainingResult) -> None:
    """Curves and events in TensorBoard's format: `tensorboard --logdir <runs folder>` shows every run."""
    import tensorflow as tf

    train = tf.summary.create_file_writer(str(folder / "train"))
    validation = tf.summary.create_file_writer(str(folder / "validation"))
    with train.as_default():
        for step, loss, accuracy in zip(result.batch_steps, result.batch_loss, result.batch_accuracy, strict=True):
            tf.summary.scalar("batch_loss", loss, step=step)
            tf.summary.scalar("batch_accuracy", accuracy, step=step)
        for record in result.epochs:
            tf.summary.scalar("epoch_loss", record.loss, step=record.epoch)
            tf.summary.scalar("epoch_accuracy", record.accuracy, step=record.epoch)
            tf.summary.scalar("learning_rate", record.learning_rate, step=record.epoch)
        for event in result.events:
            tf.summary.text("live_changes", event.describe(), step=event.step)
    with validation.as_default():
        for record in result.epochs:
            tf.summary.scalar("epoch_loss", record.val_loss, step=record.epoch)
            tf.summary.scalar("epoch_accuracy", record.val_accuracy, step=record.epoch)
    for writer in (train, validation):
        writer.close()


def as_deployed(model):
    """The model without its training state: the same layers and weights, uncompiled, with no optimiser.

    Nothing resumes training from a saved run, and Adam's two moments and the weight average are three
    more copies of every weight: a run's model.keras is a quarter of the size without them.
    """
    if not getattr(model, "compiled", False):
        return model
    try:
        copy = model.__class__.from_config(model.get_config())
        copy.set_weights(model.get_weights())
    except Exception:  # a model whose config does not rebuild it is saved as it is: bigger, never lost
        return model
    return copy


def write_run(
    result: TrainingResult,
    dataset_source: str,
    directory: str | Path | None = None,
    run_id: str | None = None,
    owner: str = LOCAL.owner,
    extra_config: Mapping[str, Any] | None = None,
    *,
    name: str = "",
    tags: Sequence[str] = (),
) -> Path:
    """Save a training result as a complete run folder and return it; `owner` is who trained it.

    `extra_config` is merged over the model and training settings in config.json: a run that was not
    trained by `fit` (an ensemble) describes itself there instead. `name` and `tags` go into the
    manifest, so a runs folder copied elsewhere or re-indexed keeps them.
    """
    from core.architectures.facts import parameter_count  # needs Keras, loaded by whoever has a model to save
    from core.training.progress import epochs_trained  # core.training loads Keras too

    if result.model is None:
        raise ValueError("There is no model to save.")
    run_id = run_id or new_run_id()
    folder = runs_dir(directory) / run_id
    folder.mkdir(parents=True)
    # Keras picks the format from the suffix, so the temporary name must end in .keras too.
    partial_model = folder / f".partial.{MODEL_FILE}"
    as_deployed(result.model).save(partial_model)
    _fsync_and_replace(partial_model, folder / MODEL_FILE)

    settings = {"model": result.spec.to_dict(), "training": result.config.to_dict()}
    write_json_atomically(folder / "config.json", {**settings, **(extra_config or {})})
    write_json_atomically(folder / "history.json", history_of(result))
    write_json_atomically(
        folder / "metrics.json",
        {
            "test_accuracy": _finite(result.test_accuracy),
            "test_loss": _finite(result.test_loss),
            "drawn_accuracy": {style: _finite(value) for style, value in result.drawn_accuracy.items()},
            "best_val_accuracy": max((e.val_accuracy for e in result.epochs), default=None),
            # A run stopped partway through an epoch counts that epoch by its share (2.4, not 3).
            "epochs_completed": epochs_trained(result.epochs),
            "elapsed_s": round(result.elapsed_s, 2),
            "device": result.device,
            "parameters": parameter_count(result.model),
        },
    )
    write_tensorboard_logs(folder / "tensorboard", result)
    partial_confusion = folder / ".confusion.partial.npz"
    classes = result.model.output_shape[-1]
    matrices = (
        np.stack(result.confusion_matrices) if result.confusion_matrices else np.zeros((0, classes, classes), np.int64)
    )
    np.savez(partial_confusion, validation=matrices)
    _fsync_and_replace(partial_confusion, folder / "confusion.npz")

    write_json_atomically(
        folder / MANIFEST,
        {
            "format_version": FORMAT_VERSION,
            "run_id": run_id,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "state": result.state.value,
            "error": result.error,
            "dataset": result.config.dataset,
            "dataset_source": dataset_source,
            "architecture": result.spec.architecture,
            "owner": owner,
            "model_sha256": sha256_file(folder / MODEL_FILE),
            "name": name,
            "tags": list(tags),
            "complete": True,
        },
    )
    return folder


@contextlib.contextmanager
def manifest_lock(folder: Path) -> Iterator[None]:
    """Hold the run folder's lock while its manifest is read and rewritten, across threads and processes.

    The lock is on the folder itself: the manifest is replaced by each rewrite, so a lock on the file
    would be on a file that is gone.
    """
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def update_manifest(folder: Path, **changes: Any) -> None:
    """Rewrite a complete run's manifest with these fields changed (atomically; the rest as it was)."""
    with manifest_lock(folder):
        manifest = json.loads((folder / MANIFEST).read_text())
        write_json_atomically(folder / MANIFEST, {**manifest, **changes})
