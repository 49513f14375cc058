"""The Inside page through AppTest, with the shipped starter model and the embedded samples."""

from __future__ import annotations

import time

import numpy as np
import pytest
import streamlit as st
from app_driver import ROOT, figure_of, open_app, plotly_array, switch_to
from factories import make_training_result
from streamlit.testing.v1 import AppTest

from app_pages.resources import LastInput
from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import forget_loaded_datasets, load_dataset
from core.evaluation import evaluate_model
from core.insight.uncertainty import calibration
from core.pretrained import load_pretrained
from core.runs.store import RunStore


@pytest.fixture
def runs(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()
    st.cache_data.clear()
    forget_loaded_datasets()
    yield RunStore(tmp_path / "runs")
    st.cache_resource.clear()


def show(app: AppTest, view: str) -> AppTest:
    app.segmented_control(key="inside_view").set_value(view).run()
    assert not app.exception, app.exception
    return app


def chart_titles(app: AppTest) -> list[str]:
    return [figure_of(chart).layout.title.text or "" for chart in app.get("plotly_chart")]


def test_feature_maps_show_every_convolution_with_its_shape_and_the_verdict_is_checked(runs):
    app = open_app("inside")
    assert not app.exception
    # Nothing drawn yet: a test image is shown, with the way to look at one's own.
    assert [link.proto.label for link in app.get("page_link")] == [
        "Draw or upload your own image on Predict to look at it here"
    ]
    app.number_input(key="inside_test_index").set_value(3).run()
    digits = load_dataset("mnist")
    said = load_pretrained("mnist").predict(digits.x_test[3:4, ..., None], verbose=0).argmax()
    verdict = next(m.value for m in app.markdown if m.value.startswith("For test image #3"))
    assert f"says **{said}**" in verdict and ("right" if said == digits.y_test[3] else "wrong") in verdict
    titles = chart_titles(app)
    assert titles[0] == "First layer's 16 filters (3x3)"
    assert titles[1:] == [
        "conv_1: 28 x 28 x 16 channels",
        "conv_2: 14 x 14 x 32 channels",
        "conv_3: 7 x 7 x 64 channels",
    ]


def test_where_it_looks_explains_any_class_by_each_method(runs):
    app = show(open_app("inside"), "Where it looks")
    for method in ("HiResCAM", "Grad-CAM", "Gradient saliency"):
        app.radio(key="heatmap_method").set_value(method).run()
        app.selectbox(key="heatmap_class").select_index(2).run()
        assert not app.exception
        chosen = app.selectbox(key="heatmap_class").value
        captions = [caption for image in app.image for caption in image.captions]
        assert f"{method} for {chosen}" in captions and "laid over the input" in captions


def test_an_input_unlike_any_digit_is_placed_among_the_test_images_and_flagged(runs):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    # Stripes: no digit looks like them. (Pixel noise no longer does for the drawing-robust starter,
    # which learned to look past grey texture; its features of noise sit among real digits'.)
    stripes = ((np.arange(28)[:, None] // 4 % 2) * np.full((28, 28), 255)).astype(np.uint8)
    app.session_state["last_input"] = LastInput("mnist", stripes, "stripes")
    app.run()
    switch_to(app, "inside")
    app.radio(key="inside_source").set_value("yours").run()
    show(app, "Embeddings")
    figure = figure_of(app.get("plotly_chart")[0])
    names = [trace.name for trace in figure.data]
    assert "your input" in names and "nearest to your input" in names and "7" in names
    classes = [trace for trace in figure.data if trace.name in [str(digit) for digit in range(10)]]
    assert sum(len(plotly_array(trace.x)) for trace in classes) == 1000
    assert any("far from every training image" in warning.value for warning in app.warning)
    app.radio(key="inside_source").set_value("test").run()
    assert not any("far from every training image" in warning.value for warning in app.warning)


def test_uncertainty_shows_mc_dropout_and_the_calibration_of_the_model(runs):
    app = show(open_app("inside"), "Uncertainty")
    mc = next(figure_of(c) for c in app.get("plotly_chart") if figure_of(c).data[0].name == "mean of the passes")
    means, spreads = plotly_array(mc.data[0].y), plotly_array(mc.data[0].error_y.array)
    assert means.shape == (10,) and spreads.max() > 0  # the starter model has dropout
    digits = load_dataset("mnist")
    evaluation = evaluate_model(load_pretrained("mnist"), digits.x_test, digits.y_test)
    expected = calibration(evaluation.probabilities, evaluation.labels).expected_calibration_error
    table = app.dataframe[0].value
    assert table["expected calibration error"].iloc[0] == pytest.approx(expected, abs=1e-6)


def test_robustness_sweeps_a_knob_around_the_current_setting(runs):
    app = show(open_app("inside"), "Robustness")
    app.slider(key="probe_rotation").set_value(30).run()
    app.selectbox(key="probe_sweep").set_value("rotation").run()
    assert not app.exception
    figure = figure_of(app.get("plotly_chart")[0])
    swept = plotly_array(figure.data[0].x)
    assert len(figure.data) == 10 and swept[0] == -60 and swept[-1] == 60
    assert figure.layout.shapes[0].x0 == 30


def test_mnist_and_fashion_twins_are_compared_side_by_side(runs):
    runs.save(make_training_result(0, dataset="mnist"), "embedded sample of MNIST")
    runs.save(make_training_result(0, dataset="fashion_mnist"), "embedded sample of Fashion-MNIST")
    app = show(open_app("inside"), "MNIST vs Fashion")
    assert [metric.label for metric in app.metric] == ["Test accuracy", "Test accuracy"]
    assert [s.value for s in app.subheader] == ["MNIST", "Fashion-MNIST"]
    assert any("share a silhouette" in m.value for m in app.markdown)
    assert len(app.dataframe) == 2


def test_the_active_runs_recipe_can_be_trained_on_the_other_dataset_and_then_compared(runs):
    from app_pages.resources import training_scheduler

    run_id = runs.save(make_training_result(0, dataset="mnist"), "embedded sample of MNIST")
    app = open_app()
    app.sidebar.selectbox(key="active_run_id").select(run_id).run()
    switch_to(app, "inside")
    show(app, "MNIST vs Fashion")
    assert any("None of your runs has been trained on both datasets" in info.value for info in app.info)
    app.button(key="train_twin").click().run()
    assert not app.exception
    job = training_scheduler().find(app.session_state["train_job_id"])
    assert job.config.dataset == "fashion_mnist" and job.isolated
    original = runs.get(run_id).config
    # The same recipe, as it applies to clothing (drawings drawn as clothing is drawn).
    assert job.spec == ModelSpec.from_dict(original["model"]).for_dataset("fashion_mnist")
    assert job.spec.augmentation.drawing_recipe == "fill_frame"
    assert {k: v for k, v in job.config.to_dict().items() if k != "dataset"} == {
        k: v for k, v in original["training"].items() if k != "dataset"
    }
    assert job.wait(180) and job.result.saved_run_id, job.result.error
    show(app, "MNIST vs Fashion")
    assert [s.value for s in app.subheader] == ["MNIST", "Fashion-MNIST"]
    assert any(m.value.startswith("The same recipe is **") and "than on MNIST" in m.value for m in app.markdown), [
        m.value for m in app.markdown
    ]


def test_a_flipping_clothing_recipe_trained_on_digits_does_not_flip_them(runs):
    from dataclasses import replace

    from app_pages.resources import training_scheduler
    from core.architectures import Augmentation
    from core.training import TrainConfig

    flipping = ModelSpec(
        "softmax", batch_norm=False, augmentation=Augmentation(horizontal_flip=True, shift_fraction=0.1)
    )
    result = replace(make_training_result(0, dataset="fashion_mnist"), spec=flipping.for_dataset("fashion_mnist"),
                     config=TrainConfig(dataset="fashion_mnist", epochs=1))  # fmt: skip
    run_id = runs.save(result, "embedded sample of Fashion-MNIST")
    app = open_app()
    app.sidebar.selectbox(key="dataset_name").select("fashion_mnist").run()
    app.sidebar.selectbox(key="active_run_id").select(run_id).run()
    switch_to(app, "inside")
    show(app, "MNIST vs Fashion")
    app.button(key="train_twin").click().run()
    assert not app.exception
    job = training_scheduler().find(app.session_state["train_job_id"])
    try:
        assert job.config.dataset == "mnist"
        assert not job.spec.augmentation.horizontal_flip, "a mirrored digit is another symbol"
        assert job.spec.augmentation.shift_fraction == 0.1, "the rest of the recipe is kept"
    finally:
        job.stop(by=LOCAL)
        assert job.wait(120)


def test_without_runs_the_default_recipe_is_queued_on_both_datasets(runs):
    from app_pages.resources import training_scheduler

    app = show(open_app("inside"), "MNIST vs Fashion")
    # Until the user has a pair, the shipped starter models (one recipe, one seed) are compared.
    assert [s.value for s in app.subheader] == ["MNIST", "Fashion-MNIST"]
    for name, metric in zip(("mnist", "fashion_mnist"), app.metric, strict=True):
        data = load_dataset(name)
        accuracy = evaluate_model(load_pretrained(name), data.x_test, data.y_test).accuracy
        assert metric.value == f"{100 * accuracy:.2f} %"
    assert any(c.value.startswith("The starter model, trained and tested on the embedded sample of MNIST")
               for c in app.caption)  # fmt: skip
    # Two starters, the clothing one wider: the gap is between them, not "the same network" on two datasets.
    assert any(m.value.startswith("The clothing starter is **") and "than the digit starter on MNIST" in m.value
               for m in app.markdown)  # fmt: skip
    app.button(key="train_both").click().run()
    assert not app.exception
    scheduler = training_scheduler()
    jobs = [job for job in scheduler.running() + scheduler.queued() if job.isolated]
    assert sorted(job.config.dataset for job in jobs) == ["fashion_mnist", "mnist"]
    assert jobs[0].spec.for_dataset(jobs[1].config.dataset) == jobs[1].spec
    assert jobs[0].config.seed == jobs[1].config.seed
    for job in jobs:  # a run stopped early is kept, and is enough to compare
        deadline = time.monotonic() + 180  # a queued job first waits for the other to stop
        while job.snapshot().step == 0 and not job.state.is_over:
            if time.monotonic() > deadline:
                pytest.fail(f"the {job.config.dataset} job never took a step: {job.snapshot()}")
            time.sleep(0.05)
        job.stop(by=LOCAL)
    assert all(job.wait(120) and job.result.saved_run_id for job in jobs), [job.result.error for job in jobs]
    show(app, "MNIST vs Fashion")
    assert [s.value for s in app.subheader] == ["MNIST", "Fashion-MNIST"]
