"""Served to others, the app asks for a password before any page, and viewers get a viewer's controls."""

from __future__ import annotations

import factories
import pytest
import streamlit as st
from app_driver import ROOT, open_app, switch_to
from streamlit.testing.v1 import AppTest

from app_pages.access_gate import login_throttle
from core.access import login as login_module
from core.runs.store import RunStore

VIEWER_PASSWORD = "viewers-secret-1"
ADMIN_PASSWORD = "admins-secret-22"


@pytest.fixture(autouse=True)
def passwords(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_PASSWORD", VIEWER_PASSWORD)
    monkeypatch.setenv("EXPLORER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    # The run store and the back-off are per server process; each test starts with fresh ones.
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def sign_in(app, password: str):
    app.text_input(key="sign_in_password").input(password)
    app.button[0].click().run()  # the form's submit button
    return app


def shows_pages(app) -> bool:
    return any(box.label == "Dataset" for box in app.sidebar.selectbox)


def test_nothing_is_shown_before_signing_in_and_a_wrong_password_is_refused():
    app = open_app()
    assert not app.exception
    assert [box.label for box in app.text_input] == ["Password"]
    assert not shows_pages(app) and not app.sidebar.selectbox
    sign_in(app, "guess-1234567")
    assert any("Wrong password" in error.value for error in app.error)
    assert not shows_pages(app)
    sign_in(app, VIEWER_PASSWORD)
    assert not app.exception
    assert shows_pages(app)
    assert any("Signed in as **viewer**" in caption.value for caption in app.sidebar.caption)


def test_wrong_passwords_slow_that_client_down_until_even_the_right_one_waits():
    app = open_app()
    for attempt in range(login_module.FREE_TRIES):
        sign_in(app, f"guess-{attempt}-123456")
    throttle, client = login_throttle(), "unknown address"  # AppTest has no client address
    assert throttle.failures(client) == login_module.FREE_TRIES, "the form's wrong passwords count against its client"
    for _ in range(10):  # many more tries, so the wait (test_access shows its growth) outlasts this test
        throttle.failed(client)
    sign_in(app, VIEWER_PASSWORD)
    assert any("Try again in" in error.value for error in app.error)
    assert not shows_pages(app)


def test_a_viewer_cannot_change_the_data_folder_or_manage_runs_and_sees_its_own_marked():
    store = RunStore()
    theirs = store.save(factories.make_training_result(0), "test data", owner="someone-else")
    app = sign_in(open_app(), VIEWER_PASSWORD)
    mine = store.save(factories.make_training_result(1), "test data", owner=app.session_state["caller"].owner)
    assert not [box for box in app.sidebar.text_input if box.key == "data_dir"]
    assert any("only an admin" in caption.value for caption in app.sidebar.caption)
    switch_to(app, "runs")
    table = app.dataframe(key="runs_table").value
    assert dict(zip(table["run id"], table["yours"], strict=True)) == {mine: True, theirs: False}
    app.session_state["runs_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert any("only an admin can rename, tag, export or delete" in caption.value for caption in app.caption)
    keys = {button.key for button in app.button}
    assert "activate_run" in keys and not keys & {"delete_run", "export_run"}


def test_action_activate_changes_only_that_visitors_model():
    run_id = RunStore().save(factories.make_training_result(), "embedded sample of MNIST")
    first, second = sign_in(open_app(), VIEWER_PASSWORD), sign_in(open_app(), VIEWER_PASSWORD)
    first.sidebar.selectbox(key="active_run_id").select(run_id).run()
    second.run()
    assert not first.exception and not second.exception
    assert first.session_state["active_run_id"] == run_id
    assert second.session_state["active_run_id"] is None, "the active model is each visitor's own choice"


def test_an_admin_signs_in_with_the_admin_password_and_gets_the_data_folder():
    app = sign_in(open_app(), ADMIN_PASSWORD)
    assert not app.exception
    assert any("Signed in as **admin**" in caption.value for caption in app.sidebar.caption)
    assert [box.key for box in app.sidebar.text_input] == ["data_dir"]
    app.sidebar.text_input(key="data_dir").input("/etc").run()
    # No EXPLORER_DATA_ROOT on this server: no folder may be used, and none is probed.
    assert any("EXPLORER_DATA_ROOT" in error.value for error in app.sidebar.error)
    assert not any("No folder at" in warning.value for warning in app.sidebar.warning)


def test_without_a_login_on_this_machine_everything_opens_at_once(monkeypatch):
    monkeypatch.delenv("EXPLORER_PASSWORD")
    monkeypatch.delenv("EXPLORER_ADMIN_PASSWORD")
    app = open_app()
    assert not app.exception and shows_pages(app)
    assert not [box for box in app.text_input if box.label == "Password"]


def test_settings_that_cannot_be_read_stop_the_app_with_their_reason(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_QUEUE", "lots")
    app = open_app()
    assert not app.exception
    assert any("EXPLORER_MAX_QUEUE" in error.value for error in app.error)
    assert not shows_pages(app)


def test_an_identity_provider_login_is_offered_when_configured(monkeypatch):
    monkeypatch.delenv("EXPLORER_PASSWORD")
    monkeypatch.delenv("EXPLORER_ADMIN_PASSWORD")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-cookie-secret",
        "client_id": "explorer",
        "client_secret": "secret",
        "server_metadata_url": "https://id.school.org/.well-known",
    }
    app.secrets["explorer"] = {"allowed_emails": ["@school.org"]}
    app.run()
    assert not app.exception
    assert [button.label for button in app.button] == ["Sign in with your organisation's account"]
    assert not shows_pages(app) and not app.text_input, "no password field when no password is set"


def test_reachable_from_other_machines_without_a_login_the_app_shows_nothing(monkeypatch):
    from streamlit import config

    monkeypatch.delenv("EXPLORER_PASSWORD")
    monkeypatch.delenv("EXPLORER_ADMIN_PASSWORD")
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        app = open_app()
    finally:
        config.set_option("server.address", before)
    assert not app.exception
    refusal = " ".join(error.value for error in app.error)
    assert "but not safely, so it stays closed" in refusal and "EXPLORER_PASSWORD" in refusal
    assert not shows_pages(app) and not app.text_input


def test_an_admin_sees_every_run_on_the_server_and_stops_another_sessions():
    from app_pages.resources import training_scheduler
    from core.access import LOCAL, Caller, Role
    from core.architectures import ModelSpec
    from core.training import JobState, TrainConfig, TrainingJob

    pupil = Caller(Role.VIEWER, "session-pupil")
    data, spec = factories.tiny_mnist(64, 32), ModelSpec("softmax", batch_norm=False)
    job = TrainingJob(data, spec, TrainConfig(dataset="mnist", epochs=200))
    training_scheduler().submit(job, by=pupil)
    try:
        viewer = sign_in(open_app("train"), VIEWER_PASSWORD)
        assert not [button for button in viewer.button if button.key == f"admin_stop_{job.id}"]
        admin = sign_in(open_app("train"), ADMIN_PASSWORD)
        switch_to(admin, "train")
        assert any("session-pupil" in text.value for text in admin.markdown)
        admin.button(key=f"admin_stop_{job.id}").click().run()
        assert not admin.exception
        assert job.wait(120) and job.state is JobState.STOPPED
    finally:
        job.stop(by=LOCAL)  # whatever happened above, it does not train on under later tests
        job.wait(120)
