"""Ensembles through AppTest: built on the Runs page, then evaluated, used to predict and looked inside."""

from __future__ import annotations

import dataclasses
import io
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from app_driver import figure_of, open_app, probability_bars, switch_to
from factories import make_training_result
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.access import LOCAL
from core.architectures import ModelSpec, build_model
from core.datasets import forget_loaded_datasets, load_dataset
from core.ensemble import is_ensemble, member_scores, save_ensemble_run
from core.inference import Predictor
from core.preprocessing import preprocess_image
from core.runs import store as run_store_module
from core.runs.store import RunStore

SOURCE = "embedded sample of MNIST"


def save_members(store: RunStore) -> list[str]:
    """Three untrained MNIST runs: a small CNN first (so the Inside page has layers to show), two softmax models."""
    cnn = ModelSpec("compact", dropout=0.25)
    first = dataclasses.replace(make_training_result(0), spec=cnn, model=build_model(cnn, seed=0))
    return [store.save(first, SOURCE)] + [store.save(make_training_result(seed), SOURCE) for seed in (1, 2)]


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()
    st.cache_data.clear()
    forget_loaded_datasets()
    yield RunStore(tmp_path / "runs")
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="module")
def built_ensemble(tmp_path_factory) -> tuple[Path, str, list[str]]:
    """Built once (scoring it draws the test set): a runs folder, the ensemble's run id, its members' ids."""
    folder = tmp_path_factory.mktemp("ensemble") / "runs"
    store = RunStore(folder)
    members = save_members(store)
    run_id = save_ensemble_run(store, members, name="trio", by=LOCAL, dataset=load_dataset("mnist"))
    return folder, run_id, members


@pytest.fixture
def ensemble(store, built_ensemble) -> tuple[str, list[str]]:
    """A copy of the built ensemble's runs folder as this test's store: its run id and its members' ids."""
    folder, run_id, members = built_ensemble
    shutil.copytree(folder, store.root, dirs_exist_ok=True)
    return run_id, members


def open_with_active(run_id: str, page: str) -> AppTest:
    app = open_app()
    app.sidebar.selectbox(key="active_run_id").select(run_id).run()
    switch_to(app, page)
    assert not app.exception, app.exception
    return app


def select_rows(app: AppTest, rows: list[int]) -> None:
    app.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception


def test_an_ensemble_is_built_from_selected_runs_and_made_active(store, monkeypatch):
    members = save_members(store)
    # The build waits at its first member until the test has clicked around, so it is surely still running.
    gate, load_model = threading.Event(), RunStore.load_model
    monkeypatch.setattr(RunStore, "load_model", lambda self, run_id: gate.wait(300) and load_model(self, run_id))
    app = open_app("runs")
    select_rows(app, [0, 1, 2])
    app.text_input(key="ensemble_name").input("best three").run()
    app.button(key="build_ensemble").click().run()
    assert not app.exception, app.exception
    job = app.session_state["ensemble_build_job"]
    # The build runs outside the script: clicks and reruns meanwhile do not abort it, nor start a second one.
    assert app.button(key="build_ensemble").disabled
    app.text_input(key="ensemble_name").input("another name").run()
    assert not app.exception and not job.status().done
    gate.set()
    assert job.wait(timeout=300), "the ensemble was not built within 5 minutes"
    app.run()
    assert not app.exception, app.exception
    assert "ensemble_build_job" not in app.session_state
    (built,) = [run for run in store.list_runs() if is_ensemble(run)]
    assert built.name == "best three" and built.tags == ("ensemble",)
    assert sorted(member.run_id for member in member_scores(built)) == sorted(members)
    assert any(f"{100 * built.test_accuracy:.2f} % test accuracy" in s.value for s in app.success)
    table = app.dataframe[0].value
    assert list(table["name"]).count("best three") == 1 and "ensemble" in set(table["architecture"])
    app.button(key="activate_ensemble").click().run()
    assert not app.exception
    assert app.session_state["active_run_id"] == built.run_id
    assert app.sidebar.selectbox(key="active_run_id").value == built.run_id


def test_a_selection_of_one_run_or_of_two_datasets_says_why_it_cannot_be_ensembled(store):
    store.save(make_training_result(0), SOURCE)
    store.save(make_training_result(1, dataset="fashion_mnist"), "a sample of Fashion-MNIST")
    app = open_app("runs")
    app.multiselect(key="filter_dataset").set_value([]).run()  # show both datasets
    select_rows(app, [0])
    assert any("Select 2 to 5 runs to build an ensemble (1 selected)" in info.value for info in app.info)
    select_rows(app, [0, 1])
    assert any("different datasets (Fashion-MNIST, MNIST); select runs of one dataset" in i.value for i in app.info)
    assert not [button for button in app.button if button.key == "build_ensemble"]


def test_evaluate_shows_the_ensemble_next_to_each_member_and_a_deleted_member_says_so(store, ensemble):
    run_id, members = ensemble
    store.delete(members[2], by=LOCAL)
    app = open_with_active(run_id, "evaluate")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Ensemble of"] == "3 runs"
    run = store.get(run_id)
    assert metrics["Test accuracy"] == f"{100 * run.test_accuracy:.2f} %"
    (table,) = [frame.value for frame in app.dataframe if "note" in frame.value.columns]
    assert list(table["test accuracy"]) == pytest.approx(
        [run.test_accuracy, *(member.test_accuracy for member in member_scores(run))]
    )
    assert list(table["note"]) == ["this run", "", "", "deleted since"]
    chart = figure_of(app.get("plotly_chart")[0])
    assert list(chart.data[0].x) == pytest.approx([100 * value for value in table["test accuracy"]])
    assert chart.layout.legend.y >= 1 and chart.layout.legend.yanchor == "bottom"  # above the bars, off the axis
    assert any("its best member" in markdown.value for markdown in app.markdown)
    assert any("An ensemble is not trained" in info.value for info in app.info)
    assert any(f"test images of the {SOURCE}" in caption.value for caption in app.caption)  # what scored it
    # The galleries' heatmaps are the first member's, and the page says so.
    app.toggle(key="gallery_heatmaps").set_value(True).run()
    assert not app.exception, app.exception
    assert any("heatmaps show where its first member looked" in caption.value for caption in app.caption)


def test_predict_answers_with_the_ensemble(store, ensemble):
    run_id, _ = ensemble
    app = open_with_active(run_id, "predict")
    digit = load_dataset("mnist").x_test[0]
    buffer = io.BytesIO()
    Image.fromarray(digit).resize((140, 140)).save(buffer, "PNG")
    app.file_uploader(key="upload").upload("digit.png", buffer.getvalue(), "image/png").run()
    assert not app.exception, app.exception
    model_input = preprocess_image(buffer.getvalue(), "mnist").model_input
    expected = Predictor(RunStore(store.root).load_model(run_id)).probabilities(model_input)
    np.testing.assert_allclose(list(probability_bars(app).values()), expected, atol=1e-5)
    answer = load_dataset("mnist").class_names[int(expected.argmax())]
    assert any(f"**{answer}**" in box.value for box in [*app.success, *app.warning])
    captions = [image.caption for element in app.get("image") for image in element.proto.imgs]
    assert any(caption.startswith("Where its first member looked") for caption in captions)


@pytest.mark.parametrize("view", ["Feature maps", "Where it looks", "Uncertainty", "Robustness", "MNIST vs Fashion"])
def test_inside_looks_into_the_first_member_and_says_so(store, ensemble, view):
    run_id, _ = ensemble
    app = open_with_active(run_id, "inside")
    assert any("ensemble of 3 models" in info.value and "first member" in info.value for info in app.info)
    app.segmented_control(key="inside_view").set_value(view).run()
    assert not app.exception, app.exception
    if view == "Feature maps":
        titles = [figure_of(chart).layout.title.text or "" for chart in app.get("plotly_chart")]
        assert titles[0].startswith("First layer's") and any(title.startswith("conv_1:") for title in titles)
    if view == "MNIST vs Fashion":
        # An ensemble has no recipe of its own to train on the other dataset.
        assert not [button for button in app.button if button.key == "train_twin"]
        assert any("The active model is an ensemble" in caption.value for caption in app.caption)


def test_a_build_that_fails_in_the_background_says_why_on_the_page(store):
    members = save_members(store)
    app = open_app("runs")
    select_rows(app, [0, 1, 2])  # every member, the damaged one included
    with open(store.root / members[0] / "model.keras", "ab") as model_file:  # damaged since it was listed
        model_file.write(b"x")
    app.button(key="build_ensemble").click().run()
    if "ensemble_build_job" in app.session_state:  # else it failed at once, in the rerun the click made
        assert app.session_state["ensemble_build_job"].wait(timeout=300)
        app.run()
    assert not app.exception, app.exception
    assert any("The ensemble was not built" in error.value and "SHA-256" in error.value for error in app.error)
    assert not [run for run in store.list_runs() if is_ensemble(run)]


def managed_run(app: AppTest) -> str:
    """The run the page offers to manage: the first selected one."""
    (heading,) = [header.value for header in app.subheader if header.value.startswith("Run ")]
    return heading.removeprefix("Run ")


def test_a_selection_stays_on_its_runs_when_a_new_run_is_listed_above_them(store, monkeypatch):
    # Ids in saving order: two saves in one second would otherwise be ordered by their random part.
    ids = iter(f"20260101-00000{second}-abcdef" for second in range(10))
    monkeypatch.setattr(run_store_module, "new_run_id", lambda: next(ids))
    older = store.save(make_training_result(0), SOURCE)
    newer = store.save(make_training_result(1), SOURCE)
    store.rename(older, "older", by=LOCAL)
    store.rename(newer, "newer", by=LOCAL)
    app = open_app("runs")
    select_rows(app, [1])  # newest first: row 1 is the older run
    assert managed_run(app) == "older"
    # A run saved meanwhile (by a training, a sweep or an ensemble) is listed first and pushes every row down.
    store.rename(store.save(make_training_result(2), SOURCE), "newest", by=LOCAL)
    app.run()
    assert not app.exception, app.exception
    assert managed_run(app) == "older"
    assert app.session_state["runs_table"]["selection"]["rows"] == [2]
    # A filter that hides a selected run drops it from the selection instead of handing its row to another run.
    app.text_input(key="filter_text").input("newer").run()
    assert not [header for header in app.subheader if header.value.startswith("Run ")]
