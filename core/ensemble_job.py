"""An ensemble built in a background thread, so a page rerun (any click while it builds) cannot abort it.

Keras loads in the thread, on the first build: importing this module stays free of TensorFlow.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from core.access import AccessDenied, Action, Caller, require
from core.datasets import Dataset
from core.runs.store import RunStore, RunStoreError


@dataclass(frozen=True)
class EnsembleStatus:
    """Where a build is: its progress, and once done, the new run's id or why it was not built."""

    fraction: float
    message: str
    done: bool
    run_id: str | None
    error: str | None


class EnsembleBuild:
    """One ensemble being built and saved by `core.ensemble.save_ensemble_run` in its own thread."""

    def __init__(self, store: RunStore, run_ids: Sequence[str], *, name: str | None, by: Caller, dataset: Dataset):
        require(by, Action.TRAIN)  # refused at once, not a second later from the thread
        self._lock = threading.Lock()
        self._fraction, self._message = 0.0, "Loading the members…"
        self._run_id: str | None = None
        self._error: str | None = None
        self._finished = threading.Event()
        arguments = (store, list(run_ids), name, by, dataset)
        threading.Thread(target=self._build, args=arguments, name="ensemble-build", daemon=True).start()

    def _report(self, fraction: float, message: str) -> None:
        with self._lock:
            self._fraction, self._message = min(max(fraction, 0.0), 1.0), message

    def _build(self, store: RunStore, run_ids: list[str], name: str | None, by: Caller, dataset: Dataset) -> None:
        run_id, error = None, None
        try:
            from core.ensemble import save_ensemble_run

            run_id = save_ensemble_run(store, run_ids, name=name, by=by, dataset=dataset, progress=self._report)
        except (ValueError, RunStoreError, AccessDenied) as refusal:
            error = str(refusal)
        except Exception as failure:  # a thread's exception would vanish: the page shows it instead
            error = f"building failed unexpectedly ({type(failure).__name__}: {failure})."
        with self._lock:
            self._run_id, self._error = run_id, error
            self._fraction = 1.0
        self._finished.set()

    def status(self) -> EnsembleStatus:
        with self._lock:
            done = self._finished.is_set()
            return EnsembleStatus(self._fraction, self._message, done, self._run_id, self._error)

    def wait(self, timeout: float) -> bool:
        """Wait until the build is done (True) or `timeout` seconds have passed (False)."""
        return self._finished.wait(timeout)
