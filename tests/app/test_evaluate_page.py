"""The Evaluate page through AppTest, on a real (briefly trained) run of the embedded MNIST sample."""

from __future__ import annotations

import os

import numpy as np
import pytest
import streamlit as st
from app_driver import figure_of, open_app, plotly_array, switch_to

from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import forget_loaded_datasets, load_dataset
from core.drawn_test_set import drawn_styles, drawn_test_set
from core.evaluation import confusion_matrix, evaluate_steadily
from core.runs.store import RunStore
from core.training import TrainConfig, TrainingJob, TrainingScheduler


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[str, str]:
    """A softmax-regression run trained for one epoch on 1,000 sample digits: quick, and far from perfect."""
    runs = tmp_path_factory.mktemp("runs")
    store = RunStore(runs)
    dataset = load_dataset("mnist")
    job = TrainingJob(
        dataset, ModelSpec("softmax", dropout=0.0, batch_norm=False),
        TrainConfig(dataset="mnist", epochs=2, train_size=1_000, batch_size=64),
        on_finish=store.saver(dataset.source),
    )  # fmt: skip
    TrainingScheduler(1).submit(job, by=LOCAL)
    assert job.wait(120) and job.result.saved_run_id
    return str(runs), job.result.saved_run_id


@pytest.fixture
def app(trained_run, monkeypatch):
    runs, run_id = trained_run
    monkeypatch.setenv("EXPLORER_RUNS_DIR", runs)
    st.cache_resource.clear()
    st.cache_data.clear()
    forget_loaded_datasets()
    app = open_app()
    app.sidebar.selectbox(key="active_run_id").select(run_id).run()
    switch_to(app, "evaluate")
    assert not app.exception
    yield app
    st.cache_resource.clear()


def test_evaluate_page_reports_the_test_set(app, trained_run):
    dataset = load_dataset("mnist")
    model = RunStore(trained_run[0]).load_model(trained_run[1])
    predictions = model.predict(dataset.x_test[..., None], verbose=0).argmax(1)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{100 * np.mean(predictions == dataset.y_test):.2f} %"
    assert metrics[f"Mistakes (of {len(dataset.y_test):,})"] == f"{int(np.sum(predictions != dataset.y_test)):,}"
    assert [tab.label for tab in app.tabs] == ["Curves", "Confusion matrix", "Per class", "Mistakes", "Drawings"]
    assert any(word in " ".join(m.value for m in app.markdown) for word in ("Overfitting", "Underfitting", "good fit"))
    # The heatmap holds the same counts as a confusion matrix computed here.
    heatmap = next(figure_of(c) for c in app.get("plotly_chart") if figure_of(c).layout.title.text == "Test set")
    np.testing.assert_array_equal(
        plotly_array(heatmap.data[0].customdata),
        confusion_matrix(dataset.y_test, predictions, len(dataset.class_names)),
    )


def test_choosing_a_cell_opens_its_images(app):
    # What the browser sends for a click on the cell (true 3, predicted 5).
    point = {"curve_number": 1, "point_index": 35, "x": "5", "y": "3", "customdata": {"0": 3, "1": 5, "2": 2, "3": 2.0}}
    selection = {"points": [point], "point_indices": [35], "box": [], "lasso": []}
    app.session_state["test_confusion"] = {"selection": selection}
    app.run()
    assert not app.exception
    assert "**3** mistaken for **5**, most confident first" in " ".join(m.value for m in app.markdown)
    dataset = load_dataset("mnist")
    model = RunStore(os.environ["EXPLORER_RUNS_DIR"]).load_model(app.session_state["active_run_id"])
    predictions = model.predict(dataset.x_test[..., None], verbose=0).argmax(1)
    in_cell = int(np.sum((dataset.y_test == 3) & (predictions == 5)))
    assert in_cell > 0, "a weak model on digits confuses 3 and 5 at least once"
    (gallery,) = [image for image in app.image if "true 3 · said 5" in image.captions[0]]
    assert len(gallery.captions) == min(in_cell, 24)
    assert all("true 3 · said 5" in caption for caption in gallery.captions)
    # With the heatmap toggle the same images come back with the model's evidence laid over them.
    app.toggle(key="gallery_heatmaps").set_value(True).run()
    assert not app.exception
    (overlaid,) = [image for image in app.image if "true 3 · said 5" in image.captions[0]]
    assert overlaid.captions == gallery.captions
    assert {i.url for i in overlaid.proto.imgs}.isdisjoint({i.url for i in gallery.proto.imgs})
    # Evidence for the true class (3) instead of the answer (5): other heatmaps.
    app.segmented_control(key="gallery_evidence").set_value(True).run()
    (for_truth,) = [image for image in app.image if "true 3 · said 5" in image.captions[0]]
    assert {i.url for i in for_truth.proto.imgs}.isdisjoint({i.url for i in overlaid.proto.imgs})


def test_the_epoch_slider_replays_validation_matrices(app):
    app.segmented_control(key="confusion_source").set_value("validation").run()
    assert not app.exception
    app.slider(key="confusion_epoch").set_value(1).run()
    assert not app.exception
    titles = [figure_of(chart).layout.title.text for chart in app.get("plotly_chart")]
    assert "Validation set after epoch 1" in titles


def test_the_drawings_tab_compares_test_images_with_the_same_images_drawn(app, trained_run):
    dataset = load_dataset("mnist")
    model = RunStore(trained_run[0]).load_model(trained_run[1])
    metrics = {metric.label: metric.value for metric in app.metric}

    # The same sampled test images, and each style drawn and preprocessed, read as Predict reads one.
    for style in drawn_styles("mnist"):
        drawn = drawn_test_set("mnist", dataset.x_test, dataset.y_test, style)
        assert (
            metrics[f"Drawn: {style}"] == f"{100 * evaluate_steadily(model, drawn.images, drawn.labels).accuracy:.1f} %"
        )
    sample = drawn.test_indices
    same_images = evaluate_steadily(model, dataset.x_test[sample], dataset.y_test[sample]).accuracy
    assert metrics["The same test images"] == f"{100 * same_images:.1f} %"
    # Trained without drawings: whatever the gap, the advice (if any) is to train with them.
    reading = " ".join(m.value for m in app.markdown)
    assert "Reads drawings about as well" in reading or "train with *Robust to drawings* to close the gap" in reading
    assert "raise its share" not in reading
    figures = {figure_of(c).layout.title.text: figure_of(c) for c in app.get("plotly_chart")}
    assert "Drawn: strokes" in figures
    gap = next(figure_of(c) for c in app.get("plotly_chart") if figure_of(c).data[0].name == "test images")
    assert [bar.name for bar in gap.data] == ["test images", "strokes", "bold strokes"]
    # The other style's matrix, and a click on one of its cells opens the drawn images behind it.
    app.segmented_control(key="drawn_style").set_value("bold strokes").run()
    assert not app.exception
    matrix = next(
        figure_of(c) for c in app.get("plotly_chart") if figure_of(c).layout.title.text == "Drawn: bold strokes"
    )
    counts = plotly_array(matrix.data[0].customdata)
    true_class, predicted = np.unravel_index(np.argmax(counts), counts.shape)
    point = {"customdata": {"0": int(true_class), "1": int(predicted)}}
    app.session_state["drawn_confusion"] = {
        "selection": {"points": [point], "point_indices": [], "box": [], "lasso": []}
    }
    app.run()
    assert not app.exception
    (gallery,) = [image for image in app.image if f"said {predicted}" in image.captions[0]]
    assert len(gallery.captions) == min(int(counts[true_class, predicted]), 24)
