"""The Runs page through AppTest: list, overlay, activate, rename, delete."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import streamlit as st
from app_driver import open_app
from factories import make_training_result
from streamlit.testing.v1 import AppTest

from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import forget_loaded_datasets, load_dataset
from core.runs.store import RunStore
from core.training import JobState, TrainConfig, TrainingJob


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()
    forget_loaded_datasets()
    store = RunStore(tmp_path / "runs")
    for seed, dropout in ((0, 0.0), (1, 0.5)):
        store.save(make_training_result(seed, dropout=dropout), "embedded sample of MNIST")
    yield store
    st.cache_resource.clear()


def open_runs_page() -> AppTest:
    app = open_app("runs")
    assert not app.exception
    return app


def select_rows(app: AppTest, rows: list[int]) -> None:
    app.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    app.run()
    assert not app.exception


def test_runs_are_listed_with_their_settings_and_results(store):
    app = open_runs_page()
    table = app.dataframe[0].value
    assert len(table) == 2
    assert sorted(table["dropout"]) == [0.0, 0.5]
    assert sorted(round(value, 2) for value in table["test accuracy"]) == [0.71, 0.72]
    assert set(table["state"]) == {"finished"}
    # Unnamed runs read apart by what differs, and the results come before the settings that explain them.
    assert sorted(name.split(" · ")[1] for name in table["name"]) == ["dropout 0", "dropout 0.5"]
    columns = list(table.columns)
    assert columns[:4] == ["name", "test accuracy", "drawn accuracy", "best validation"]
    assert str(table["created"].dtype).startswith("datetime64")  # a date to read, not an ISO string
    # Accuracies with two decimals each ("95.40%"): Streamlit's percent format trims zeros without a step.
    columns_config = json.loads(app.dataframe[0].proto.columns)
    for column in ("test accuracy", "drawn accuracy", "best validation"):
        assert columns_config[column]["type_config"] == {"type": "number", "format": "percent", "step": 0.0001}
    assert app.multiselect(key="filter_dataset").format_func("fashion_mnist") == "Fashion-MNIST"


def test_selected_runs_are_overlaid_and_one_can_be_made_active(store):
    app = open_runs_page()
    select_rows(app, [0, 1])
    traces = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    training_curves = {trace["name"] for trace in traces if "training" in trace["name"]}
    assert len(training_curves) == 2  # one curve per selected run, each named after its run
    # Along epochs by default: the factory's runs end their three epochs at steps 10, 20 and 30.
    validation = next(trace for trace in traces if "validation" in trace["name"])
    assert validation["x"] == pytest.approx([1.0, 2.0, 3.0])
    app.segmented_control(key="runs_overlay_axis").set_value("batches").run()
    traces = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    validation = next(trace for trace in traces if "validation" in trace["name"])
    assert validation["x"] == [10, 20, 30]
    app.button(key="activate_run").click().run()
    assert not app.exception
    newest = store.list_runs()[0].run_id
    assert app.session_state["active_run_id"] == newest
    assert app.sidebar.selectbox(key="active_run_id").value == newest


def test_a_run_can_be_renamed_and_deleted_after_confirmation(store):
    app = open_runs_page()
    select_rows(app, [0])
    newest = store.list_runs()[0].run_id
    app.text_input(key=f"rename_text_{newest}").input("dropout off")
    next(button for button in app.button if button.label == "Rename").click().run()
    assert not app.exception
    assert store.get(newest).name == "dropout off"
    assert app.button(key="delete_run").disabled, "nothing is deleted without confirmation"
    others = [run.run_id for run in store.list_runs() if run.run_id != newest]
    assert len(others) == 1
    app.checkbox(key=f"confirm_delete_{newest}").check().run()
    app.button(key="delete_run").click().run()
    assert not app.exception
    assert [run.run_id for run in store.list_runs()] == others  # the selected run went, and only it
    assert not (store.root / newest).exists()


def labelled(widgets, label: str):
    """The one widget of a kind with this label (found by what a user reads, not by its key)."""
    (widget,) = (widget for widget in widgets if widget.label == label)
    return widget


def test_another_run_selected_shows_its_own_name_tags_and_an_unticked_delete(store):
    """Fields left with the previous run's values would rename, tag or delete the newly selected run with them."""
    newest, oldest = (run.run_id for run in store.list_runs())
    store.set_tags(oldest, ["best"], by=LOCAL)
    app = open_runs_page()
    select_rows(app, [0])
    labelled(app.text_input, "Name").input("dropout off")
    labelled(app.multiselect, "Tags").select("overfits")
    labelled(app.checkbox, "Yes, delete it").check().run()
    select_rows(app, [1])
    assert labelled(app.text_input, "Name").value == ""
    assert labelled(app.multiselect, "Tags").value == ["best"]
    assert not labelled(app.checkbox, "Yes, delete it").value and app.button(key="delete_run").disabled
    labelled(app.button, "Rename").click().run()
    labelled(app.button, "Save tags").click().run()
    assert not app.exception
    assert store.get(oldest).name == "" and store.get(oldest).tags == ("best",)
    assert store.get(newest).name == "" and len(store.list_runs()) == 2


class PoisonWeights(keras.callbacks.Callback):
    """Makes a run diverge at its second batch, as too high a learning rate would."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_a_finished_run_becomes_active_once_unless_it_failed_or_a_model_was_picked(store):
    from app_pages.resources import training_scheduler

    data = load_dataset("mnist")

    def trained(*callbacks: keras.callbacks.Callback) -> TrainingJob:
        job = TrainingJob(
            data, ModelSpec("softmax"), TrainConfig(dataset="mnist", epochs=1, train_size=300),
            on_finish=store.saver(data.source), extra_callbacks=list(callbacks),
        )  # fmt: skip
        training_scheduler().submit(job, by=LOCAL)
        assert job.wait(120)
        return job

    app = open_runs_page()

    def picker():
        return app.sidebar.selectbox(key="active_run_id")

    finished = trained()
    app.session_state["train_job_id"] = finished.id
    app.run()
    assert picker().value == finished.result.saved_run_id
    # A model picked by hand after a job ended, before any page noticed the end, stays picked.
    older = store.list_runs()[-1].run_id
    app.session_state["train_job_id"] = trained().id
    picker().select(older).run()
    assert picker().value == older
    app.run()
    assert picker().value == older
    # A run that failed is kept, to read why, but does not answer.
    failed = trained(PoisonWeights())
    assert failed.result.state is JobState.FAILED and failed.result.saved_run_id
    app.session_state["train_job_id"] = failed.id
    app.run()
    assert picker().value == older and not app.exception
