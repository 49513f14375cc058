"""The Data page through Streamlit's AppTest, for both datasets."""

from __future__ import annotations

import pytest
from app_driver import open_app
from streamlit.testing.v1 import AppTest

from core.datasets import forget_loaded_datasets, load_dataset


def run_app(dataset_name: str | None = None) -> AppTest:
    app = open_app()
    if dataset_name:
        app.sidebar.selectbox(key="dataset_name").select(dataset_name).run()
    return app


@pytest.fixture(autouse=True)
def fresh_dataset_cache():
    forget_loaded_datasets()
    yield
    forget_loaded_datasets()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_data_page_shows_the_dataset(name):
    app = run_app(name)
    assert not app.exception
    dataset = load_dataset(name)
    assert app.title[0].value == f"{dataset.info.display_name}: the data"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Training images"] == f"{len(dataset.x_train):,}"
    assert metrics["Test images"] == f"{len(dataset.x_test):,}"
    assert [tab.label for tab in app.tabs] == [
        "Examples",
        "Class balance",
        "Mean images",
        "Pixel intensities",
        "One image",
    ]
    charts = {chart.proto.id: chart for chart in app.get("plotly_chart")}
    assert len(charts) == 5
    # The sidebar says where the data came from.
    sidebar_text = " ".join(alert.value for alert in [*app.sidebar.warning, *app.sidebar.success])
    assert dataset.source in sidebar_text


def test_reshuffle_draws_new_examples():
    app = run_app("mnist")
    before = app.get("plotly_chart")[0].proto.spec
    app.button(key="reshuffle").click().run()
    assert not app.exception
    assert app.get("plotly_chart")[0].proto.spec != before


def test_single_image_viewer_shows_the_label_of_the_chosen_image():
    app = run_app("fashion_mnist")
    dataset = load_dataset("fashion_mnist")
    app.number_input(key="viewer_index").set_value(7).run()
    assert not app.exception
    label = {metric.label: metric.value for metric in app.metric}["Label"]
    assert label == dataset.class_names[dataset.y_train[7]]


def test_sample_data_comes_with_directions_to_the_full_set():
    app = run_app("mnist")
    assert "embedded sample" in app.sidebar.warning[0].value
    hint = " ".join(markdown.value for markdown in app.sidebar.markdown)
    assert "dataset-fashion-mnist" in hint and "EXPLORER_DATA_DIR" in hint


def test_a_missing_data_folder_is_reported_and_the_page_keeps_working(tmp_path):
    app = run_app("mnist")
    app.sidebar.text_input(key="data_dir").input(str(tmp_path / "nowhere")).run()
    assert not app.exception
    assert any("No folder at" in warning.value for warning in app.sidebar.warning)
    assert app.metric[0].value == f"{len(load_dataset('mnist').x_train):,}"


def test_a_corrupt_data_folder_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not an npz at all")
    app = run_app("mnist")
    app.sidebar.text_input(key="data_dir").input(str(tmp_path)).run()
    assert not app.exception
    reasons = " ".join(markdown.value for markdown in app.sidebar.markdown)
    assert "your data folder" in reasons and "not a valid .npz" in reasons
    assert "embedded sample" in app.sidebar.warning[0].value
