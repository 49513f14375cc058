"""After a page run, Keras' global state is still there and no full collection was forced.

Streamlit 1.67 clears the Keras session and runs gc.collect(2) after every script run; in a shared
server both starve every other session (see app_pages/server_hygiene.py). These fail if a
Streamlit upgrade, or a removed line in app.py, brings either back.
"""

from __future__ import annotations

import keras
from app_driver import ROOT, open_app
from streamlit import config

from core.runs.store import RunStore


def test_keras_global_state_survives_page_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    RunStore(tmp_path)
    app = open_app()
    # Keras' uid counters are the global state clear_session() resets: it would restart them at 1.
    before = keras.backend.get_uid("server-hygiene-probe")
    app.run()
    app.run()
    assert keras.backend.get_uid("server-hygiene-probe") == before + 1
    assert not app.exception


def test_post_script_garbage_collection_is_off(monkeypatch):
    monkeypatch.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from where it is started
    config.get_config_options(force_reparse=True)
    assert config.get_option("runner.postScriptGC") is False
