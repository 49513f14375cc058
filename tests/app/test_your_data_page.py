"""Your data through AppTest: drafts, counts, delete, save, "Train on it", and every page on a 3-class dataset."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from app_driver import figure_of, open_app, plotly_array, switch_to
from shape_strokes import SHAPES, shape_png

from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import dataset_names, forget_loaded_datasets, load_dataset
from core.datasets.custom_import import import_custom_dataset
from core.datasets.drafts import DRAFTS_FOLDER
from core.datasets.registry import DrawingRecipe
from core.runs.store import RunStore
from core.training import TrainConfig, TrainingJob, TrainingScheduler

PAGES = ["data", "train", "runs", "evaluate", "predict", "inside", "your_data"]


def shapes_zip(per_class: int = 12) -> bytes:
    rng = np.random.default_rng(3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for shape in SHAPES:
            for index in range(per_class):
                archive.writestr(f"{shape}/{index:03d}.png", shape_png(shape, rng))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory) -> tuple[str, str]:
    """A runs folder holding the 3-class dataset 'shapes' and a small CNN trained on it for two epochs."""
    runs = str(tmp_path_factory.mktemp("runs"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXPLORER_RUNS_DIR", runs)
        import_custom_dataset("shapes", shapes_zip(), DrawingRecipe.DIGIT_BOX, by=LOCAL)
        dataset = load_dataset("shapes")
        store = RunStore(runs)
        job = TrainingJob(
            dataset,
            ModelSpec("simple_cnn", dropout=0.0, batch_norm=False),
            TrainConfig(dataset="shapes", epochs=2, batch_size=8),
            on_finish=store.saver(dataset.source),
        )
        TrainingScheduler(1).submit(job, by=LOCAL)
        assert job.wait(300), "training the tiny shapes run did not finish within 300 s"
        assert job.result.saved_run_id, job.result.error
        forget_loaded_datasets()
    return runs, job.result.saved_run_id


@pytest.fixture
def runs_folder(shapes_run, monkeypatch) -> str:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", shapes_run[0])
    shutil.rmtree(Path(shapes_run[0]) / DRAFTS_FOLDER, ignore_errors=True)  # each test starts with no kept draft
    st.cache_resource.clear()
    st.cache_data.clear()
    forget_loaded_datasets()
    yield shapes_run[0]
    st.cache_resource.clear()
    forget_loaded_datasets()


def test_every_page_works_on_a_three_class_dataset(runs_folder, shapes_run):
    app = open_app()
    app.sidebar.selectbox(key="dataset_name").select("shapes").run()
    app.sidebar.selectbox(key="active_run_id").select(shapes_run[1]).run()
    assert not app.exception
    for page in PAGES:
        switch_to(app, page)
        assert not app.exception, (page, app.exception)
        assert not app.error, (page, [error.value for error in app.error])
        if page == "data":
            metrics = {metric.label: metric.value for metric in app.metric}
            assert metrics["Classes"] == "3" and metrics["Training images"] == "30"
        if page == "evaluate":
            heatmap = next(
                figure_of(c) for c in app.get("plotly_chart") if figure_of(c).layout.title.text == "Test set"
            )
            matrix = plotly_array(heatmap.data[0].customdata)
            assert matrix.shape == (3, 3) and matrix.sum() == 6
            assert any("does not apply to shapes" in info.value for info in app.info)
        if page == "predict":
            assert any("one of your classes (circle, square, triangle)" in c.value for c in app.caption)
    switch_to(app, "inside")
    app.segmented_control(key="inside_view").set_value("MNIST vs Fashion").run()
    assert not app.exception
    assert any("does not apply to shapes" in info.value for info in app.info)


def drawings(count: int, seed: int) -> list[np.ndarray]:
    """Distinct 28x28 pictures, enough to stand in for drawings."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(count)]


def page_with_draft(draft: dict[str, list[np.ndarray]], name: str = "Drawn shapes"):
    app = open_app()
    app.session_state["your_data_draft"] = draft
    switch_to(app, "your_data")
    app.text_input(key="your_data_name").input(name).run()
    assert not app.exception
    return app


def test_drawings_are_counted_deleted_saved_and_trained_on(runs_folder):
    draft = {"circle": drawings(10, 0), "square": drawings(10, 1), "triangle": drawings(10, 2)}
    app = page_with_draft(draft)
    assert app.button(key="save_drawn").disabled is False
    assert [e.label for e in app.expander if e.label.startswith("circle")] == ["circle: 10 drawings (ready)"]

    app.button(key="delete_circle_0").click().run()
    assert len(app.session_state["your_data_draft"]["circle"]) == 9
    assert any(info.value == "Still needed: 1 more drawing of circle." for info in app.info)
    assert app.button(key="save_drawn").disabled is True

    app.session_state["your_data_draft"]["circle"].append(drawings(1, 9)[0])
    app.run()
    app.button(key="save_drawn").click().run()
    assert not app.exception
    assert "drawn-shapes" in dataset_names()
    assert any("Saved Drawn shapes: 24 drawings to train on and 6 to test." in s.value for s in app.success)
    assert np.bincount(load_dataset("drawn-shapes").y_test).tolist() == [2, 2, 2]
    assert not list((Path(runs_folder) / DRAFTS_FOLDER).glob("*.npz")), "saved drawings are no unsaved draft"

    app.button(key="train_on_drawn").click().run()
    assert not app.exception
    assert app.session_state["dataset_name"] == "drawn-shapes"
    assert app.session_state["preset"] == "small_data" and app.session_state["epochs"] == 15
    assert app.title[0].value.startswith("Train")


def test_unsaved_drawings_come_back_in_a_new_session_until_started_over(runs_folder):
    app = page_with_draft({"circle": drawings(3, 0), "cross": drawings(2, 1)}, name="Half done")
    app.radio(key="your_data_recipe").set_value(DrawingRecipe.FILL_FRAME.value).run()
    switch_to(app, "data")
    switch_to(app, "your_data")  # Streamlit forgot the widgets' values on the other page; the draft did not
    assert app.text_input(key="your_data_name").value == "Half done"
    assert app.radio(key="your_data_recipe").value == DrawingRecipe.FILL_FRAME.value
    later = open_app()  # a reload: a new session, with nothing in it
    switch_to(later, "your_data")
    assert not later.exception
    kept = later.session_state["your_data_draft"]
    assert {name: len(images) for name, images in kept.items()} == {"circle": 3, "cross": 2}
    np.testing.assert_array_equal(kept["circle"][0], drawings(3, 0)[0])
    assert later.text_input(key="your_data_name").value == "Half done"
    assert later.radio(key="your_data_recipe").value == DrawingRecipe.FILL_FRAME.value
    later.button(key="clear_draft").click().run()
    assert not later.exception
    again = open_app()
    switch_to(again, "your_data")
    assert again.session_state["your_data_draft"] == {}


def test_classes_are_added_by_name_and_unsafe_names_refused(runs_folder):
    app = page_with_draft({})
    app.text_input(key="new_class_name").input("circle").run()
    app.button(key="add_class").click().run()
    assert list(app.session_state["your_data_draft"]) == ["circle"]
    app.text_input(key="new_class_name").input("../etc").run()
    app.button(key="add_class").click().run()
    assert any("The class name '../etc' is not allowed" in error.value for error in app.error)
    assert list(app.session_state["your_data_draft"]) == ["circle"]
    assert any(info.value == "Still needed: 1 more class, 10 more drawings of circle." for info in app.info)


def test_a_name_taken_by_another_dataset_cannot_be_saved_over(runs_folder):
    draft = {"circle": drawings(10, 0), "square": drawings(10, 1)}
    app = page_with_draft(draft, name="shapes")
    assert any("There is already a dataset called shapes" in w.value for w in app.warning)
    assert app.button(key="save_drawn").disabled is True


def test_saved_datasets_are_listed_with_train_on_it(runs_folder):
    app = open_app()
    switch_to(app, "your_data")
    assert any("**shapes** · circle, square, triangle · 30 train / 6 test images" in m.value for m in app.markdown)
    app.button(key="train_on_shapes").click().run()
    assert not app.exception
    assert app.session_state["dataset_name"] == "shapes" and app.session_state["preset"] == "small_data"


def upload_page(data: bytes, name: str):
    app = open_app()
    switch_to(app, "your_data")
    app.text_input(key="upload_name").input(name).run()
    app.file_uploader(key="dataset_zip").upload("classes.zip", data, "application/zip").run()
    app.button(key="import_zip").click().run()
    assert not app.exception
    return app


def test_an_uploaded_zip_becomes_a_dataset_and_its_bad_files_are_listed(runs_folder):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, zipfile.ZipFile(io.BytesIO(shapes_zip())) as shapes:
        for member in shapes.infolist():
            archive.writestr(member.filename, shapes.read(member))
        archive.writestr("square/readme.txt", b"these are squares")
    app = upload_page(buffer.getvalue(), "Uploaded shapes")
    assert any(
        "Made **Uploaded shapes**: circle 12, square 12, triangle 12 images (30 to train on, 6 to test)." in s.value
        for s in app.success
    )
    assert [e.label for e in app.main.expander if e.label.startswith("Skipped")] == ["Skipped 1 file"]
    assert "uploaded-shapes" in dataset_names()
    assert app.button(key="train_on_imported").label == "Train on Uploaded shapes"


def test_a_hostile_zip_is_refused_in_one_line_and_nothing_is_made(runs_folder):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, zipfile.ZipFile(io.BytesIO(shapes_zip())) as shapes:
        for member in shapes.infolist():
            archive.writestr(member.filename, shapes.read(member))
        archive.writestr("../../outside.png", b"x")
    before = dataset_names()
    app = upload_page(buffer.getvalue(), "Evil")
    assert [error.value for error in app.error] == [
        "The zip holds a path that climbs out of it ('../../outside.png'): refused. Zip the class folders themselves."
    ]
    assert dataset_names() == before
