"""The Train page through AppTest: start a tiny run, watch it, change it live, stop it, find it saved."""

from __future__ import annotations

import time

import pytest
import streamlit as st
from app_driver import open_app, switch_to
from factories import make_training_result
from processes import training_processes
from streamlit.testing.v1 import AppTest

from app_pages.wording import epochs_words
from core.access import LOCAL
from core.datasets import forget_loaded_datasets
from core.runs.store import RunStore
from core.training import JobState, shared_scheduler
from core.training.progress import epochs_trained


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The app on its Train page, saving runs into a fresh folder, set up for a tiny MNIST run."""
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()  # the run store is opened once per process: reopen it here
    forget_loaded_datasets()
    app = open_app("train")
    assert not app.exception
    app.selectbox(key="arch").select("simple_cnn").run()
    app.number_input(key="train_size").set_value(400).run()
    app.number_input(key="epochs").set_value(60).run()
    yield app
    for job in shared_scheduler().running() + shared_scheduler().queued():
        job.stop(by=LOCAL)
        job.wait(60)
    st.cache_resource.clear()


def wait_until(condition, app: AppTest, job=None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            snapshot = job.snapshot() if job else None
            pytest.fail(f"timed out; job state {snapshot and snapshot.state}, step {snapshot and snapshot.step}, "
                        f"events {snapshot and snapshot.events}, error {snapshot and snapshot.error}")  # fmt: skip
        time.sleep(0.2)
    app.run()


def test_train_page_shows_the_architecture_and_its_cost(app):
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Parameters"] == "225,034"  # the seed tutorial's Simple CNN
    assert metrics["FLOPs per image"] == "5.3 M"
    assert "Conv32-Pool-Conv64-Pool-Dense128-Dropout" in " ".join(caption.value for caption in app.caption)
    # A new architecture starts from its own defaults: the tutorial's dropout of 0.5, no batch norm.
    assert app.slider(key="dropout").value == 0.5 and app.toggle(key="batch_norm").value is False


def test_a_live_run_can_be_watched_changed_and_stopped(app, tmp_path):
    app.toggle(key="average_weights").set_value(True).run()
    app.button(key="train").click().run()
    assert not app.exception
    job = shared_scheduler().find(app.session_state["train_job_id"])
    assert job is not None and job.spec.architecture == "simple_cnn" and job.config.train_size == 400
    assert job.config.average_weights is True
    wait_until(lambda: job.snapshot().step >= 3, app, job)
    assert not app.exception
    assert "Running: epoch" in app.get("progress")[0].proto.text
    assert any(" images/s · " in markdown.value and " elapsed · on " in markdown.value for markdown in app.markdown)

    # The pause button's callback runs before the controls are drawn again, so they offer Resume at once.
    app.button(key=f"pause_{job.id}").click().run()
    assert job.pause_requested and app.button(key=f"resume_{job.id}").label == "Resume"
    wait_until(lambda: job.snapshot().state is JobState.PAUSED, app, job)
    numbers = " ".join(markdown.value for markdown in app.markdown)
    assert "**–** images/s · " in numbers  # no speed while nothing trains
    app.button(key=f"resume_{job.id}").click().run()
    assert not job.pause_requested and app.button(key=f"pause_{job.id}").label == "Pause"

    app.slider(key=f"live_dropout_{job.id}").set_value(0.1).run()
    wait_until(lambda: any(event.setting == "dropout" for event in job.snapshot().events), app, job)
    (event,) = [event for event in job.snapshot().events if event.setting == "dropout"]
    assert event.old == pytest.approx(0.5) and event.new == pytest.approx(0.1)
    assert "dropout: 0.5 -> 0.1" in " ".join(caption.value for caption in app.caption)

    app.button(key=f"stop_{job.id}").click().run()
    assert job.wait(60) and job.result.state is JobState.STOPPED
    app.run()
    assert not app.exception
    finished = " ".join(success.value for success in app.success)
    assert "Stopped early" in finished and "test accuracy" in finished
    # Stopped partway through an epoch, the run says the share it trained (2.4 epochs), not the epochs it began.
    assert f"after {epochs_words(epochs_trained(job.result.epochs))} in " in finished
    assert job.result.saved_run_id and job.result.saved_run_id in " ".join(c.value for c in app.caption)
    # The run this person just trained is the model the other pages use now, and the page says so...
    assert app.sidebar.selectbox(key="active_run_id").value == job.result.saved_run_id
    assert any("It is the active model" in c.value for c in app.caption)
    # ...once: a model picked after that stays picked.
    other = RunStore(tmp_path / "runs").save(make_training_result(0), "embedded sample of MNIST")
    app.run()
    app.sidebar.selectbox(key="active_run_id").select(other).run()
    app.run()
    assert app.sidebar.selectbox(key="active_run_id").value == other
    assert app.button(key="activate_new_run").label == "Use this model on the other pages"


def test_leaving_the_page_does_not_interrupt_training(app):
    app.button(key="train").click().run()
    job = shared_scheduler().find(app.session_state["train_job_id"])
    wait_until(lambda: job.snapshot().step >= 2, app, job)
    switch_to(app, "data")
    before = job.snapshot().step
    wait_until(lambda: job.snapshot().step > before + 3, app, job)
    assert job.state is JobState.RUNNING
    switch_to(app, "train")
    for _ in range(3):
        app.run()  # reruns, as every widget click causes
    assert not app.exception
    assert app.get("progress"), "coming back shows the live panel again"
    assert shared_scheduler().running() == [job], "reruns and page switches never start a second job"
    assert len(training_processes()) == 1, "nor a second training process"


def test_bad_settings_are_explained_not_raised(app):
    app.number_input(key="train_size").set_value(5).run()  # fewer than 20 images cannot be split
    assert not app.exception
    assert any("A training subset needs at least 20 images" in error.value for error in app.error)


def test_a_browser_refresh_finds_the_running_job_again(app):
    app.button(key="train").click().run()
    job = shared_scheduler().find(app.session_state["train_job_id"])
    wait_until(lambda: job.snapshot().step >= 2, app, job)
    refreshed = open_app()  # a new session, as after reloading the page: only the URL survives
    refreshed.query_params["job"] = job.id
    switch_to(refreshed, "train")
    assert not refreshed.exception
    assert refreshed.get("progress"), "the reloaded page shows the running job"
    assert refreshed.session_state["train_job_id"] == job.id
