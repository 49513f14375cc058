"""Export a run from the store: the SavedModel, the chosen TFLite formats, and their comparison table.

The model is loaded only from the store, by run id, with its hash checked: a run whose model file
was changed or damaged is refused. Each file is written to a temporary name and swapped in, so a
crash or a kill never leaves a half-written file under its final name.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.access import Action, Caller, require
from core.datasets import Dataset
from core.datasets.files import sha256_file
from core.export.formats import (
    EXPORTS_DIR,
    FORMATS,
    FULL_INT8,
    SAVED_MODEL_DIR,
    ExportError,
    ExportFormat,
    convert,
    representative_images,
    write_saved_model,
)
from core.export.measure import LATENCY_REPEATS, Progress, agreement, score, single_image_latency_ms
from core.export.runner import DEFAULT_THREADS, TfliteModel
from core.export.table import KERAS_KEY, Comparison, FormatResult, load_comparison, save_comparison
from core.runs.folder import MODEL_FILE, is_valid_run_id, write_bytes_atomically
from core.runs.store import RunStore, RunStoreError

if TYPE_CHECKING:
    from core.drawn_test_set import DrawnTestSet

# Images the latency is measured on, taken from the start of the test set.
LATENCY_IMAGES = 50
# Held while a run is being exported, so a second export of it (another tab, the command line) is refused.
LOCK_FILE = ".export.lock"
KERAS_LABEL = "Keras model (float32 weights)"


def _silent(_fraction: float, _message: str) -> None:
    return None


def export_run(
    store: RunStore,
    run_id: str,
    dataset: Dataset,
    formats: Iterable[ExportFormat] = tuple(FORMATS.values()),
    *,
    by: Caller,
    progress: Progress = _silent,
    latency_repeats: int = LATENCY_REPEATS,
    num_threads: int = DEFAULT_THREADS,
) -> Comparison:
    """Write the SavedModel and each format into the run's `exports/`, measure them all, save and return the table."""
    require(by, Action.EXPORT)
    formats = tuple(formats)
    try:
        run = store.get(run_id)
        if run.dataset != dataset.name:
            raise ExportError(
                f"Run {run_id} was trained on {run.dataset}: load that dataset to check its exports on its test set."
            )
        model = store.load_model(run_id)
    except RunStoreError as error:
        raise ExportError(f"Run {run_id} cannot be exported: {error}") from None
    exports = store.root / run_id / EXPORTS_DIR
    try:
        exports.mkdir(exist_ok=True)
    except OSError as error:
        raise ExportError(f"The exports folder {exports} could not be made ({error}).") from None
    with exporting(exports, run_id):
        return _export_into(
            store, run_id, model, run.model_sha256 or "", dataset, formats, progress=progress,
            latency_repeats=latency_repeats, num_threads=num_threads,
        )  # fmt: skip


@contextmanager
def exporting(exports: Path, run_id: str) -> Iterator[None]:
    """Hold the run's export lock for the duration, or refuse at once if another export holds it."""
    descriptor = os.open(exports / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(
                f"Run {run_id} is being exported already (from another tab or the command line): "
                "wait for that export to finish, then look again."
            ) from None
        yield  # the lock goes with the descriptor, even if the process is killed
    finally:
        os.close(descriptor)


def _export_into(
    store: RunStore,
    run_id: str,
    model,
    model_sha256: str,
    dataset: Dataset,
    formats: tuple[ExportFormat, ...],
    *,
    progress: Progress,
    latency_repeats: int,
    num_threads: int,
) -> Comparison:
    """The export itself, once the run is checked and its lock is held."""
    exports = store.root / run_id / EXPORTS_DIR
    progress(0.02, "Writing the SavedModel…")
    try:
        write_saved_model(model, exports / SAVED_MODEL_DIR)
    except OSError as error:
        raise ExportError(
            f"The SavedModel could not be written into {exports} ({error}); nothing was changed."
        ) from None
    calibration = representative_images(dataset.x_train) if FULL_INT8 in formats else None
    for number, fmt in enumerate(formats):
        progress(0.05 + 0.25 * number / len(formats), f"Converting to {fmt.label}…")
        try:
            content = convert(exports / SAVED_MODEL_DIR, fmt, calibration)
        except ExportError:
            raise
        except Exception as error:  # the converter raises many kinds; the user needs which format and why
            raise ExportError(f"{fmt.label} could not be made from this model ({first_line(error)}).") from None
        _write_file(exports / fmt.file_name, content)

    comparison = compare(
        model, exports, formats, dataset, run_id=run_id, model_sha256=model_sha256, progress=progress,
        latency_repeats=latency_repeats, num_threads=num_threads,
    )  # fmt: skip
    comparison = comparison.merged_into(saved_comparison(store, run_id))
    try:
        save_comparison(exports, comparison)
    except OSError as error:
        raise ExportError(f"The comparison table could not be saved in {exports} ({error}).") from None
    progress(1.0, "Done.")
    return comparison


def compare(
    model,
    exports: Path,
    formats: tuple[ExportFormat, ...],
    dataset: Dataset,
    *,
    run_id: str,
    model_sha256: str,
    progress: Progress = _silent,
    latency_repeats: int = LATENCY_REPEATS,
    num_threads: int = DEFAULT_THREADS,
) -> Comparison:
    """Score the Keras model and each exported file on the test set and its drawn versions, and time them."""
    from core.inference import Predictor

    progress(0.32, "Drawing the test set as people draw…")
    drawn = _drawn_sets(dataset)
    progress(0.38, f"Scoring the Keras model on {len(dataset.x_test):,} test images…")
    predictor = Predictor(model)
    keras_scores = score(predictor.batch_probabilities, dataset.x_test, dataset.y_test, drawn)
    runners = {fmt.key: TfliteModel(exports / fmt.file_name, num_threads) for fmt in formats}
    scores = {}
    for number, fmt in enumerate(formats):
        progress(0.45 + 0.4 * number / len(formats), f"Scoring {fmt.label} on the test set…")
        scores[fmt.key] = score(runners[fmt.key].batch_probabilities, dataset.x_test, dataset.y_test, drawn)

    progress(0.88, "Timing one image at a time…")
    # One model call per image, as a deployed model is called (the Predict page reads each image in 11 views).
    answerers = {KERAS_KEY: predictor.batch_probabilities} | {key: r.batch_probabilities for key, r in runners.items()}
    callers = {key: partial(_one_image, answer) for key, answer in answerers.items()}
    latency = single_image_latency_ms(callers, dataset.x_test[:LATENCY_IMAGES], latency_repeats)

    # The Keras row's size is its weights' bytes: a run saved before core.runs.folder.as_deployed also holds
    # the optimizer's state in model.keras (Adam's two more copies of every weight), which no deployed model carries.
    rows = [
        FormatResult(
            KERAS_KEY, KERAS_LABEL, MODEL_FILE, weights_bytes(model), keras_scores.test_accuracy, 1.0,
            latency[KERAS_KEY], keras_scores.drawn_accuracy, model_sha256, "float32",
        )
    ]  # fmt: skip
    for fmt in formats:
        path = exports / fmt.file_name
        rows.append(
            FormatResult(
                fmt.key, fmt.label, fmt.file_name, path.stat().st_size, scores[fmt.key].test_accuracy,
                agreement(scores[fmt.key].test_answers, keras_scores.test_answers), latency[fmt.key],
                scores[fmt.key].drawn_accuracy, sha256_file(path), runners[fmt.key].input_dtype.name,
            )
        )  # fmt: skip
    return Comparison(
        run_id, model_sha256, dataset.name, dataset.source, len(dataset.x_test),
        sum(len(drawing.images) for drawing in drawn), num_threads, latency_repeats, tuple(rows),
    )  # fmt: skip


def weights_bytes(model) -> int:
    """Bytes of the model's weights (trainable and not, e.g. batch-norm statistics), without optimizer state."""
    return int(sum(weight.numpy().nbytes for weight in model.weights))


def first_line(error: Exception, limit: int = 300) -> str:
    """The first line of an error, shortened: the converter's messages run to pages of MLIR."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0] if len(lines[0]) <= limit else lines[0][: limit - 1] + "…"


def _write_file(path: Path, content: bytes) -> None:
    """Write one exported file atomically; on a disk error, say so and leave no temporary file behind."""
    try:
        write_bytes_atomically(path, content)  # which removes its own temporary file on failure
    except OSError as error:
        raise ExportError(
            f"{path.name} could not be written into {path.parent} ({error}); the files already there are intact."
        ) from None


def _drawn_sets(dataset: Dataset) -> list[DrawnTestSet]:
    # Imported here: it loads TensorFlow, which pages that only show a saved table should not wait for.
    from core.drawn_test_set import drawn_styles, drawn_test_set

    try:
        styles = drawn_styles(dataset.name)
    except (KeyError, ValueError):  # a dataset without drawn versions: the column stays empty
        return []
    return [drawn_test_set(dataset.name, dataset.x_test, dataset.y_test, style) for style in styles]


def saved_comparison(store: RunStore, run_id: str) -> Comparison | None:
    """The comparison saved by the last export, if it was made for the run's current model."""
    try:
        run = store.get(run_id)
    except RunStoreError:
        return None
    comparison = load_comparison(store.root / run_id / EXPORTS_DIR)
    if comparison is None or comparison.model_sha256 != run.model_sha256:
        return None
    return comparison


def verified_exports(store: RunStore, run_id: str) -> tuple[FormatResult, ...]:
    """The exported formats whose file is present and still the one that was measured."""
    comparison = saved_comparison(store, run_id)
    if comparison is None:
        return ()
    exports = store.root / run_id / EXPORTS_DIR
    return tuple(row for row in comparison.formats if _measured_bytes(exports, row) is not None)


def load_exported(store: RunStore, run_id: str, key: str, num_threads: int = DEFAULT_THREADS) -> TfliteModel:
    """An exported .tflite of a run, loaded with LiteRT after checking it is the file that was measured."""
    return TfliteModel(_verified_bytes(store, run_id, key, "export it again on the Runs page"), num_threads)


def read_exported_bytes(store: RunStore, run_id: str, key: str) -> bytes:
    """The bytes of a verified exported file, for a download button."""
    return _verified_bytes(store, run_id, key, "export it again")


def has_saved_model(store: RunStore, run_id: str) -> bool:
    """Whether the run has an exported SavedModel folder of its own (not a link to one elsewhere)."""
    folder = store.root / run_id / EXPORTS_DIR / SAVED_MODEL_DIR
    return is_valid_run_id(run_id) and not folder.is_symlink() and (folder / "saved_model.pb").is_file()


def saved_model_archive(store: RunStore, run_id: str) -> bytes:
    """A run's exported SavedModel folder as a zip (its `saved_model/` folder at the top), for a download button."""
    if not has_saved_model(store, run_id):
        raise ExportError(f"Run {run_id} has no exported SavedModel: export it again.")
    folder = store.root / run_id / EXPORTS_DIR / SAVED_MODEL_DIR
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                # Regular files only: a link planted in the folder must not serve what it points to.
                if path.is_file() and not path.is_symlink():
                    archive.write(path, Path(SAVED_MODEL_DIR) / path.relative_to(folder))
    except OSError as error:  # an export running again swaps the folder out
        raise ExportError(
            f"Run {run_id}'s SavedModel could not be read ({error.strerror or error}): try again."
        ) from error
    return buffer.getvalue()


def _verified_bytes(store: RunStore, run_id: str, key: str, advice: str) -> bytes:
    comparison = saved_comparison(store, run_id)
    row = comparison.row(key) if comparison is not None and key != KERAS_KEY else None
    content = _measured_bytes(store.root / run_id / EXPORTS_DIR, row) if row is not None else None
    if content is None:
        raise ExportError(f"Run {run_id} has no verified {key} export: {advice}.")
    return content


def _measured_bytes(exports: Path, row: FormatResult) -> bytes | None:
    """The file's bytes if they are the ones measured for the row; read once, so what is hashed is what is served.

    The path comes from the format catalogue, never from the saved table: a table edited to name
    `../../something` must not serve that file, and a row of an unknown format is ignored.
    """
    fmt = FORMATS.get(row.key)
    if fmt is None:
        return None
    try:
        content = (exports / fmt.file_name).read_bytes()
    except OSError:
        return None
    return content if hashlib.sha256(content).hexdigest() == row.sha256 else None


def _one_image(batch_probabilities: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> np.ndarray:
    """One plain model call for one image."""
    return batch_probabilities(image[np.newaxis])[0]
