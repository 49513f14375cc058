"""The sweep workers running in this server, shared by every session, so a page reloaded finds its sweep again."""

from __future__ import annotations

import threading

import streamlit as st

from core.sweep import SweepWorker


class RunningSweeps:
    """At most one worker per study in this server: a second would only queue behind the first's trials."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[tuple[str, str], SweepWorker] = {}

    def get(self, storage_url: str, name: str) -> SweepWorker | None:
        with self._lock:
            return self._workers.get((storage_url, name))

    def start(self, storage_url: str, worker: SweepWorker) -> bool:
        """Start `worker` unless one is already running on that study here; whether it started."""
        key = (storage_url, worker.sweep.name)
        with self._lock:
            current = self._workers.get(key)
            if current is not None and current.running:
                return False
            self._workers[key] = worker
        worker.start()
        return True


@st.cache_resource(show_spinner=False)
def running_sweeps() -> RunningSweeps:
    """The one registry of this server process."""
    return RunningSweeps()
