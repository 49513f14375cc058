"""Process-wide resources every page shares: the run store and the training scheduler."""

from __future__ import annotations

import streamlit as st

from core.runs.store import RunStore

ACTIVE_RUN_KEY = "active_run_id"


@st.cache_resource(show_spinner=False)
def run_store() -> RunStore:
    """The store under EXPLORER_RUNS_DIR (or ./runs), opened once per process."""
    return RunStore()


def activate_run(run_id: str | None) -> None:
    """Widget callback: make a run the model every page uses."""
    st.session_state[ACTIVE_RUN_KEY] = run_id


def training_scheduler():
    """The scheduler that caps how many jobs train at once in this process."""
    # Imported here: TensorFlow loads with it, and pages that never train should not wait for that.
    from core.training import shared_scheduler

    return shared_scheduler()


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_run_model(run_id: str, model_sha256: str):
    """A run's model, loaded once per process; the hash in the key means a changed file is never served stale."""
    return run_store().load_model(run_id)
