"""Shipping a model: every TFLite format loads in LiteRT and answers like Keras; the table is kept and trusted."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import subprocess
import sys
import threading
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from factories import make_training_result, tiny_mnist

from core import pretrained
from core.access import LOCAL
from core.architectures import ModelSpec
from core.export import (
    FORMATS,
    Comparison,
    ExportError,
    FormatResult,
    TfliteModel,
    export_run,
    load_exported,
    parse_formats,
    read_exported_bytes,
    saved_comparison,
    saved_model_archive,
    shipping_sentence,
    verified_exports,
)
from core.export.run_export import exporting
from core.runs import folder as run_folder
from core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def save_starter_run(store: RunStore) -> str:
    """A finished MNIST run holding the starter's weights: a model that reads digits, augmentation layers and all."""
    manifest = json.loads((pretrained.PRETRAINED_DIR / pretrained.MANIFEST).read_text())
    spec = ModelSpec.from_dict(manifest["mnist"]["model"])
    result = dataclasses.replace(make_training_result(0), spec=spec, model=pretrained.load_pretrained("mnist"))
    return store.save(result, "embedded sample of MNIST")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The starter exported in every format and measured on a small real test slice, recording every warning."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    run_id = save_starter_run(store)
    data = tiny_mnist(600, 300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        comparison = export_run(store, run_id, data, by=LOCAL, latency_repeats=5)
    return store, run_id, data, comparison, caught


def test_every_format_loads_in_litert_and_agrees_with_keras_on_a_test_slice(exported):
    store, run_id, data, comparison, _ = exported
    keras_answers = store.load_model(run_id).predict(data.x_test[..., None], verbose=0).argmax(axis=1)
    exports = store.root / run_id / "exports"
    assert [row.key for row in comparison.formats] == list(FORMATS)
    for fmt in FORMATS.values():
        answers = TfliteModel(exports / fmt.file_name).batch_probabilities(data.x_test).argmax(axis=1)
        assert np.mean(answers == keras_answers) >= 0.97, fmt.label
        row = comparison.row(fmt.key)
        assert row.agreement == pytest.approx(np.mean(answers == keras_answers))
        assert row.test_accuracy == pytest.approx(np.mean(answers == data.y_test))
        assert row.size_bytes == (exports / fmt.file_name).stat().st_size
        assert set(row.drawn_accuracy) == {"strokes", "bold strokes"} and row.latency_p50_ms > 0
    keras = comparison.keras
    assert keras.agreement == 1.0 and keras.test_accuracy == pytest.approx(np.mean(keras_answers == data.y_test))


def test_the_keras_row_counts_the_weights_a_deployed_model_carries_not_the_optimizer_state(tmp_path, monkeypatch):
    """model.keras of a run saved with its Adam state (as runs were before as_deployed) holds two more copies of
    every weight; no device ships those."""
    store, data, result = RunStore(tmp_path), tiny_mnist(60, 40), make_training_result(3)
    result.model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result.model.fit(data.x_train[..., None], data.y_train, epochs=1, verbose=0)
    monkeypatch.setattr(run_folder, "as_deployed", lambda model: model)  # saved as the compiled model it is
    run_id = store.save(result, "sample")
    comparison = export_run(store, run_id, data, parse_formats("float32"), by=LOCAL, latency_repeats=3)
    model = store.load_model(run_id)
    weights = sum(int(np.prod(weight.shape)) * 4 for weight in model.weights)  # float32: 4 bytes each
    keras = comparison.keras
    assert keras.size_bytes == weights and keras.label == "Keras model (float32 weights)"
    assert keras.size_bytes < 0.5 * (tmp_path / run_id / "model.keras").stat().st_size
    # The float32 file is those weights plus a little graph, not a third of "the Keras model".
    assert 0.9 < comparison.row("float32").size_bytes / keras.size_bytes < 1.5


def test_full_int8_takes_and_returns_uint8_and_the_runner_dequantises_it(exported):
    store, run_id, data, _, _ = exported
    path = store.root / run_id / "exports" / FORMATS["int8"].file_name
    interpreter = Interpreter(model_path=str(path))
    (given,), (answer,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert given["dtype"] == np.uint8 and answer["dtype"] == np.uint8
    runner = TfliteModel(path)
    raw = runner.raw_output(data.x_test[:20])
    assert raw.dtype == np.uint8
    probabilities = runner.batch_probabilities(data.x_test[:20])
    scale, zero_point = answer["quantization"]
    np.testing.assert_allclose(probabilities, (raw.astype(np.float32) - zero_point) * scale)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.05)  # still probabilities after dequantising


def test_quantised_files_are_as_small_as_quantisation_promises(exported):
    _, _, _, comparison, _ = exported
    float32 = comparison.row("float32").size_bytes
    assert comparison.row("float16").size_bytes <= 0.55 * float32
    assert comparison.row("dynamic_int8").size_bytes <= 0.30 * float32
    assert comparison.row("int8").size_bytes <= 0.30 * float32  # the goal for full INT8


def test_the_saved_model_answers_like_keras_without_augmenting_its_input(exported):
    import tensorflow as tf

    store, run_id, data, _, _ = exported
    served = tf.saved_model.load(str(store.root / run_id / "exports" / "saved_model"))
    images = data.x_test[:32, ..., None].astype(np.float32)
    expected = store.load_model(run_id)(images, training=False).numpy()
    # The starter has random rotation, shift and zoom layers: served in training mode they would change every answer.
    for _ in range(2):
        np.testing.assert_allclose(served.serve(images).numpy(), expected, atol=1e-5)


def test_no_deprecation_warning_comes_from_our_code_when_exporting(exported):
    *_, caught = exported
    deprecation = DeprecationWarning | PendingDeprecationWarning | FutureWarning
    ours = [
        str(warning.message)
        for warning in caught
        if (issubclass(warning.category, deprecation) and _is_ours(Path(warning.filename)))
        # TensorFlow raises the interpreter's notice as a plain UserWarning from its own file.
        or "tf.lite.Interpreter is deprecated" in str(warning.message)
    ]
    assert ours == []
    sources = [path for folder in ("core", "app_pages") for path in (ROOT / folder).rglob("*.py")]
    calls = [path for path in sources if re.search(r"tf\.lite\.Interpreter\s*\(", path.read_text())]
    assert calls == [], "LiteRT runs every .tflite, not the deprecated interpreter"


def _is_ours(path: Path) -> bool:
    return any(path.is_relative_to(ROOT / folder) for folder in ("core", "app_pages"))


def test_the_table_is_saved_once_and_read_back_without_measuring_again(exported):
    store, run_id, _, comparison, _ = exported
    assert saved_comparison(store, run_id) == comparison
    assert [row.key for row in verified_exports(store, run_id)] == list(FORMATS)


def test_an_export_of_some_formats_keeps_the_rows_of_the_others(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(2), "sample")
    data = tiny_mnist(60, 100)
    export_run(store, run_id, data, parse_formats("float32,dynamic_int8"), by=LOCAL, latency_repeats=3)
    first = saved_comparison(store, run_id)
    again = export_run(store, run_id, data, parse_formats("float16"), by=LOCAL, latency_repeats=3)
    assert [row.key for row in again.rows] == ["keras", "float32", "float16", "dynamic_int8"]  # catalogue order
    assert again.row("float32") == first.row("float32")  # not measured again, kept as it was


def test_a_table_measured_the_old_way_is_not_mixed_with_new_rows(tmp_path):
    """Version-1 tables read the drawn sets plainly: a new export measures every format again, not just its own."""
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(2), "sample")
    data = tiny_mnist(60, 100)
    export_run(store, run_id, data, parse_formats("float32,dynamic_int8"), by=LOCAL, latency_repeats=3)
    table = tmp_path / run_id / "exports" / "comparison.json"
    table.write_text(json.dumps(dict(json.loads(table.read_text()), version=1)))
    assert saved_comparison(store, run_id) is None
    again = export_run(store, run_id, data, parse_formats("float16"), by=LOCAL, latency_repeats=3)
    assert [row.key for row in again.rows] == ["keras", "float16"]


def test_a_changed_exported_file_is_neither_listed_nor_loaded(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(1), "sample")
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32,float16"), by=LOCAL, latency_repeats=3)
    path = tmp_path / run_id / "exports" / FORMATS["float16"].file_name
    path.write_bytes(path.read_bytes()[:-8] + b"tampered")
    assert [row.key for row in verified_exports(store, run_id)] == ["float32"]
    with pytest.raises(ExportError, match="no verified float16 export"):
        load_exported(store, run_id, "float16")
    assert load_exported(store, run_id, "float32").classes == 10


def test_a_table_naming_other_files_or_unknown_formats_never_serves_them(tmp_path):
    """File names come from the format catalogue: an edited comparison.json cannot point a download elsewhere."""
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(1), "sample")
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32"), by=LOCAL, latency_repeats=3)
    table = tmp_path / run_id / "exports" / "comparison.json"
    content = json.loads(table.read_text())
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for download")
    secret_hash = hashlib.sha256(b"not for download").hexdigest()
    float32 = next(row for row in content["rows"] if row["key"] == "float32")
    float32.update(file_name="../../secret.txt", sha256=secret_hash)  # a row pointing outside exports/
    stranger = dict(float32, key="int4", file_name=str(secret))  # a format that does not exist
    content["rows"].append(stranger)
    table.write_text(json.dumps(content))
    assert verified_exports(store, run_id) == ()  # the real float32 file is not the one this row measured
    for key in ("float32", "int4", "keras"):
        with pytest.raises(ExportError, match=f"no verified {key} export"):
            read_exported_bytes(store, run_id, key)
    real_file = tmp_path / run_id / "exports" / "model_float32.tflite"
    float32["sha256"] = hashlib.sha256(real_file.read_bytes()).hexdigest()
    table.write_text(json.dumps(content))
    assert [row.key for row in verified_exports(store, run_id)] == ["float32"]
    assert read_exported_bytes(store, run_id, "float32")[4:8] == b"TFL3"  # the real file, whatever the row named


def test_a_second_export_of_the_same_run_at_once_is_refused_in_one_line(tmp_path):
    """Two exports of one run would share temporary names (.saved_model.old, comparison.json.partial)."""
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(1), "sample")
    exports = tmp_path / run_id / "exports"
    exports.mkdir()
    refused = pytest.raises(ExportError, match=f"Run {run_id} is being exported already .*wait for that export")
    with exporting(exports, run_id), refused:  # the lock the first export holds until it is done
        export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32"), by=LOCAL, latency_repeats=3)
    assert not list(exports.glob("*.tflite")) and not (exports / "saved_model").exists()
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32"), by=LOCAL, latency_repeats=3)
    assert [row.key for row in verified_exports(store, run_id)] == ["float32"]  # free again once it is done


def test_an_export_of_a_run_whose_model_fails_its_hash_check_is_refused(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    model_file = tmp_path / run_id / "model.keras"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(ExportError, match=rf"Run {run_id} cannot be exported: .*SHA-256.*changed or damaged"):
        export_run(store, run_id, tiny_mnist(20, 20), by=LOCAL)
    assert not (tmp_path / run_id / "exports").exists()


def test_an_export_checked_on_another_dataset_is_refused(tmp_path):
    from factories import tiny_fashion

    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")  # an MNIST run
    with pytest.raises(ExportError, match="trained on mnist: load that dataset"):
        export_run(store, run_id, tiny_fashion(20, 20), by=LOCAL)
    assert not (tmp_path / run_id / "exports").exists()


def test_formats_are_read_from_a_comma_separated_list_in_catalogue_order():
    assert [fmt.key for fmt in parse_formats("int8, float16")] == ["float16", "int8"]
    assert [fmt.key for fmt in parse_formats("all")] == list(FORMATS)
    with pytest.raises(ExportError, match="Unknown format int4, tiny: choose from float32, float16"):
        parse_formats("float16,int4,tiny")


def row(key: str, size: int, accuracy: float, agreement: float, latency: float) -> FormatResult:
    return FormatResult(key, FORMATS[key].label if key in FORMATS else "Keras model", "f", size, accuracy, agreement,
                        latency)  # fmt: skip


def test_the_sentence_says_what_full_int8_costs_against_float32():
    rows = (
        row("keras", 2_700_000, 0.9083, 1.0, 1.2),
        row("float32", 2_668_000, 0.9083, 1.0, 0.16),
        row("dynamic_int8", 670_000, 0.9085, 0.997, 0.07),
        row("int8", 680_000, 0.9061, 0.994, 0.08),
    )
    comparison = Comparison("r", "sha", "fashion_mnist", "test", 10_000, 2_000, 1, 200, rows)
    assert shipping_sentence(comparison) == (
        "TFLite full INT8 is 3.9x smaller than TFLite float32 and loses 0.2 points of test accuracy "
        "(90.61 % against 90.83 %); it gives the Keras model's answer on 99.4 % of test images and is "
        "2.0x as fast per image (0.08 ms against 0.16 ms)."
    )
    close = Comparison(
        "r", "sha", "fashion_mnist", "test", 10_000, 0, 1, 200, (*rows[:3], row("int8", 680_000, 0.9079, 0.992, 0.08))
    )
    assert "loses 0.04 points of test accuracy (90.79 % against 90.83 %)" in shipping_sentence(close)
    keras_only = Comparison("r", "sha", "mnist", "test", 10, 0, 1, 5, rows[:1])
    assert shipping_sentence(keras_only).startswith("Export a format")


def test_the_runs_page_shows_a_saved_table_without_loading_tensorflow():
    """TensorFlow takes seconds to load; the Runs page must not wait for it until someone exports."""
    code = (
        "import sys, app_pages.runs, app_pages.runs_ensemble, app_pages.runs_export, core.figures.export, "
        "core.export.background; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False False"


class WatchedInterpreter:
    """The real LiteRT interpreter, noting when a second thread uses it while the first is mid-call."""

    def __init__(self, real: Interpreter):
        self._real = real
        self.first_in_invoke = threading.Event()
        self.other_thread_entered = threading.Event()
        self._first: int | None = None

    def _note(self) -> None:
        if self._first is not None and threading.get_ident() != self._first:
            self.other_thread_entered.set()

    def resize_tensor_input(self, *args):
        self._note()
        return self._real.resize_tensor_input(*args)

    def allocate_tensors(self):
        self._note()
        return self._real.allocate_tensors()

    def set_tensor(self, *args):
        self._note()
        return self._real.set_tensor(*args)

    def get_tensor(self, *args):
        self._note()
        if threading.get_ident() == self._first:
            self._first = None  # the first caller's call ends with reading its answer
        return self._real.get_tensor(*args)

    def invoke(self):
        self._note()
        if not self.first_in_invoke.is_set():
            self._first = threading.get_ident()
            self.first_in_invoke.set()
            # Hold the interpreter mid-call: a second caller that is not kept out would touch it now.
            self.other_thread_entered.wait(timeout=2)
        return self._real.invoke()


def test_one_exported_model_shared_by_sessions_answers_each_caller_correctly(exported):
    """The app caches one TfliteModel per file for every session: one caller must never see another's tensors."""
    store, run_id, data, _, _ = exported
    runner = TfliteModel(store.root / run_id / "exports" / FORMATS["int8"].file_name)
    expected_one, expected_batch = runner.probabilities(data.x_test[0]), runner.batch_probabilities(data.x_test[:7])
    watched = WatchedInterpreter(runner._interpreter)
    runner._interpreter = watched
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(runner.probabilities, data.x_test[0])
        assert watched.first_in_invoke.wait(timeout=60)
        second = pool.submit(runner.batch_probabilities, data.x_test[:7])  # a different batch size: a resize
        np.testing.assert_array_equal(first.result(timeout=60), expected_one)
        np.testing.assert_array_equal(second.result(timeout=60), expected_batch)
    assert not watched.other_thread_entered.is_set(), "a second thread used the interpreter mid-call"
    # And many callers at once, unwatched, each get their own answer.
    runner._interpreter = watched._real
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda size: runner.batch_probabilities(data.x_test[:size]), [1, 5, 9, 3] * 10))
    for size, answer in zip([1, 5, 9, 3] * 10, answers, strict=True):
        np.testing.assert_array_equal(answer, runner.batch_probabilities(data.x_test[:size]))


def test_tests_never_read_the_users_keras_cache():
    """tests/conftest.py points KERAS_HOME at an empty folder: a user's ~/.keras/datasets/mnist.npz changes nothing."""
    from core.datasets.sources import keras_home

    assert not keras_home().is_relative_to(Path.home() / ".keras")
    assert not (keras_home() / "datasets" / "mnist.npz").exists()


def test_the_saved_model_downloads_as_a_zip_that_loads_and_answers_like_keras(exported, tmp_path):
    import tensorflow as tf

    store, run_id, data, _, _ = exported
    with zipfile.ZipFile(io.BytesIO(saved_model_archive(store, run_id))) as archive:
        assert all(name.startswith("saved_model/") for name in archive.namelist())
        archive.extractall(tmp_path)
    served = tf.saved_model.load(str(tmp_path / "saved_model"))
    images = data.x_test[:16, ..., None].astype(np.float32)
    np.testing.assert_allclose(
        served.serve(images).numpy(), store.load_model(run_id)(images, training=False).numpy(), atol=1e-5
    )


def test_a_run_without_an_exported_saved_model_has_none_to_download(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    with pytest.raises(ExportError, match="has no exported SavedModel: export it again"):
        saved_model_archive(store, run_id)
