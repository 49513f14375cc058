"""Shipping a model through AppTest: the Runs page exports and shows the comparison table, the chart, the
sentence and the downloads; Predict answers with an exported format beside the Keras model."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal

import numpy as np
import pytest
import streamlit as st
from app_driver import figure_of, open_app, plotly_array, switch_to
from factories import make_training_result, tiny_mnist
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import pretrained
from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import forget_loaded_datasets, load_dataset
from core.export import FORMATS, export_run, load_exported, saved_comparison
from core.export.background import current_export
from core.preprocessing import preprocess_image
from core.runs.store import RunStore


def save_starter_run(store: RunStore) -> str:
    """A finished MNIST run holding the starter's weights: a model that reads digits."""
    manifest = json.loads((pretrained.PRETRAINED_DIR / pretrained.MANIFEST).read_text())
    spec = ModelSpec.from_dict(manifest["mnist"]["model"])
    result = dataclasses.replace(make_training_result(0), spec=spec, model=pretrained.load_pretrained("mnist"))
    return store.save(result, load_dataset("mnist").source)


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()
    forget_loaded_datasets()
    yield RunStore(tmp_path / "runs")
    st.cache_resource.clear()


def open_run(run_index: int = 0) -> AppTest:
    app = open_app("runs")
    app.session_state["runs_table"] = {"selection": {"rows": [run_index], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    return app


def click_export_and_wait(app: AppTest, store: RunStore) -> None:
    """Click Export, wait (with a deadline) for its child process to end, and show the page again."""
    app.button(key="export_run").click().run()
    assert not app.exception
    run_id = next(run.run_id for run in store.list_runs())
    export = current_export(store.root, run_id)
    assert export is not None and export.wait(timeout=600), "the export did not end"
    app.run()


def export_table(app: AppTest):
    """The comparison table (the runs table is the page's other dataframe)."""
    return next(frame.value for frame in app.dataframe if "format" in frame.value.columns)


def test_exporting_from_the_runs_page_shows_the_table_chart_sentence_and_downloads(store):
    run_id = store.save(make_training_result(5), "embedded sample of MNIST")
    app = open_run()
    assert any("Nothing exported yet" in caption.value for caption in app.caption)
    app.multiselect(key="export_formats").set_value(["float32", "int8"]).run()
    click_export_and_wait(app, store)
    assert not app.exception and not app.error

    saved = saved_comparison(store, run_id)
    assert [row.key for row in saved.rows] == ["keras", "float32", "int8"]
    table = export_table(app)
    assert list(table["format"]) == ["Keras model (float32 weights)", "TFLite float32", "TFLite full INT8"]
    assert list(table.columns) == [
        "format", "size (MB)", "test accuracy", "drawn accuracy", "agreement", "p50 latency (ms)", "input", "download",
    ]  # fmt: skip
    np.testing.assert_allclose(table["size (MB)"], [row.size_bytes / 1e6 for row in saved.rows])
    np.testing.assert_allclose(table["agreement"], [row.agreement for row in saved.rows])
    assert list(table["input"]) == ["float32", "float32", "uint8"]
    # The test set is the embedded sample's 1,000 images, and the drawn column is filled for MNIST.
    assert saved.test_images == 1000 and table["drawn accuracy"].notna().all()

    chart = figure_of(app.get("plotly_chart")[-1])
    sizes = plotly_array(chart.data[0].y)
    np.testing.assert_allclose(sizes, [row.size_bytes / 1e6 for row in saved.rows])
    assert list(chart.data[1].x) == list(table["format"])
    assert any(
        "TFLite full INT8 is" in markdown.value and "smaller than TFLite float32" in markdown.value
        for markdown in app.markdown
    )
    downloads = {button.proto.label for button in app.get("download_button")}
    assert {"TFLite float32", "TFLite full INT8", "SavedModel (zip)"} <= downloads


def test_a_saved_comparison_is_shown_again_without_exporting(store):
    run_id = store.save(make_training_result(6), "embedded sample of MNIST")
    comparison = export_run(store, run_id, tiny_mnist(60, 80), [FORMATS["float16"]], by=LOCAL, latency_repeats=3)
    app = open_run()
    table = export_table(app)
    assert list(table["format"]) == ["Keras model (float32 weights)", "TFLite float16"]
    np.testing.assert_allclose(table["p50 latency (ms)"], [row.latency_p50_ms for row in comparison.rows])
    assert app.button(key="export_run").label == "Export again"
    assert any("Measured on 80 test images" in caption.value for caption in app.caption)


def test_an_export_of_a_damaged_model_is_refused_on_the_page(store):
    run_id = store.save(make_training_result(7), "embedded sample of MNIST")
    model_file = store.root / run_id / "model.keras"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    app = open_run()
    click_export_and_wait(app, store)
    assert not app.exception
    assert any("Export failed" in error.value and "SHA-256" in error.value for error in app.error)
    assert not (store.root / run_id / "exports").exists()


def digit_upload(digit: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(digit).resize((112, 112)).save(buffer, "PNG")
    return buffer.getvalue()


def test_predict_answers_with_an_exported_format_beside_the_keras_model(store):
    run_id = save_starter_run(store)
    export_run(store, run_id, tiny_mnist(300, 60), [FORMATS["int8"]], by=LOCAL, latency_repeats=3)
    app = open_app()
    app.session_state["active_run_id"] = run_id
    switch_to(app, "predict")
    assert app.selectbox(key="answer_with").options == ["Keras model only", "TFLite full INT8, beside Keras"]
    app.selectbox(key="answer_with").set_value("int8").run()
    data = digit_upload(load_dataset("mnist").x_test[3])
    app.file_uploader(key="upload").upload("digit.png", data, "image/png").run()
    assert not app.exception

    image = preprocess_image(data, "mnist").model_input
    expected = load_exported(store, run_id, "int8").probabilities(image)
    label = load_dataset("mnist").class_names[int(expected.argmax())]
    shown = " ".join(alert.value for alert in [*app.info, *app.warning])
    assert f"TFLite full INT8 says **{label}** ({100 * expected.max():.1f} %)" in shown
    figure = next(figure_of(chart) for chart in app.get("plotly_chart") if "Keras model" in figure_of(chart).to_json())
    assert [trace.name for trace in figure.data] == ["Keras model", "TFLite full INT8"]
    np.testing.assert_allclose(plotly_array(figure.data[1].x), expected, atol=1e-6)


def test_a_viewer_sees_what_an_admin_shipped_and_can_download_it_but_not_export(store, monkeypatch):
    monkeypatch.setenv("EXPLORER_PASSWORD", "viewers-secret-1")
    monkeypatch.setenv("EXPLORER_ADMIN_PASSWORD", "admins-secret-22")
    run_id = store.save(make_training_result(8), "embedded sample of MNIST")
    export_run(store, run_id, tiny_mnist(60, 60), [FORMATS["dynamic_int8"]], by=LOCAL, latency_repeats=3)
    app = open_app()
    app.text_input(key="sign_in_password").input("viewers-secret-1")
    app.button[0].click().run()
    switch_to(app, "runs")
    app.session_state["runs_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert list(export_table(app)["format"]) == ["Keras model (float32 weights)", "TFLite dynamic-range INT8"]
    assert {button.proto.label for button in app.get("download_button")} >= {"TFLite dynamic-range INT8"}
    assert "export_run" not in {button.key for button in app.button}
    assert not [box for box in app.multiselect if box.key == "export_formats"]


def test_a_row_whose_file_changed_says_so_and_rows_keep_the_catalogue_order(store):
    run_id = store.save(make_training_result(9), "embedded sample of MNIST")
    data = tiny_mnist(60, 60)
    export_run(store, run_id, data, [FORMATS["dynamic_int8"]], by=LOCAL, latency_repeats=3)
    export_run(store, run_id, data, [FORMATS["float16"]], by=LOCAL, latency_repeats=3)  # exported later
    changed = store.root / run_id / "exports" / FORMATS["dynamic_int8"].file_name
    changed.write_bytes(changed.read_bytes() + b"\0")
    table = export_table(open_run())
    assert list(table["format"]) == ["Keras model (float32 weights)", "TFLite float16", "TFLite dynamic-range INT8"]
    assert list(table["download"]) == ["model.keras", "model_float16.tflite", "file changed or missing: export again"]


def test_an_export_checks_the_run_on_the_sidebars_data_folder(store, tmp_path):
    """The page exports with the data folder typed in the sidebar, as every other page loads data."""
    folder = tmp_path / "data"
    folder.mkdir()
    sample = tiny_mnist(120, 70)
    np.savez(folder / "mnist.npz", x_train=sample.x_train, y_train=sample.y_train, x_test=sample.x_test,
             y_test=sample.y_test)  # fmt: skip
    run_id = store.save(make_training_result(10), "embedded sample of MNIST")
    app = open_app()
    app.sidebar.text_input(key="data_dir").input(str(folder)).run()
    app.session_state["dataset_name"] = "fashion_mnist"  # the sidebar shows another dataset than the run's
    switch_to(app, "runs")
    app.session_state["runs_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    app.multiselect(key="export_formats").set_value(["float32"]).run()
    click_export_and_wait(app, store)
    assert not app.exception and not app.error
    saved = saved_comparison(store, run_id)
    assert saved.test_images == 70 and str(folder) in saved.dataset_source


def test_an_export_runs_on_through_reruns_and_its_progress_is_shown(store):
    """Any click reruns the page: the export runs in its own process, so a rerun neither aborts nor repeats it."""
    run_id = store.save(make_training_result(11), "embedded sample of MNIST")
    app = open_run()
    app.multiselect(key="export_formats").set_value(["float16"]).run()
    app.button(key="export_run").click().run()
    export = current_export(store.root, run_id)
    app.run()  # another click somewhere on the page
    assert not app.exception and current_export(store.root, run_id) is export
    if not export.status().done:
        assert app.button(key="export_run").disabled  # one export of a run at a time
        assert any("does not stop it" in caption.value for caption in app.caption)
    assert export.wait(timeout=600)
    app.run()
    assert not app.exception and not app.error
    assert [row.key for row in saved_comparison(store, run_id).formats] == ["float16"]
    assert list(export_table(app)["format"]) == ["Keras model (float32 weights)", "TFLite float16"]


def test_an_export_whose_process_dies_is_one_line_and_the_page_keeps_serving(store):
    """A converter that crashes (here: the export process killed) takes down its child, not the app."""
    run_id = store.save(make_training_result(12), "embedded sample of MNIST")
    app = open_run()
    app.button(key="export_run").click().run()
    export = current_export(store.root, run_id)
    os.kill(export.pid, signal.SIGKILL)
    assert export.wait(timeout=60)
    app.run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "Export failed: the export stopped unexpectedly (exit code -9); nothing was half-written."
    ]
    assert saved_comparison(store, run_id) is None and not app.button(key="export_run").disabled
    app.run()
    assert not app.error  # said once, not on every rerun
