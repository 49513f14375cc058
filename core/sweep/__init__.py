"""Sweeps: a typed spec becomes an Optuna study; workers on any machines train its trials as ordinary runs."""

from core.sweep.spec import (
    AVERAGE_WEIGHTS_BY_DEFAULT,
    PRUNERS,
    SAMPLERS,
    SETTINGS,
    Param,
    SpecError,
    SweepSpec,
    load_spec,
)
from core.sweep.storage import StorageError, embedded_url, open_storage, redact
from core.sweep.study import Sweep, add_trials, connect, create_sweep, load_sweep, requeue, study_names
from core.sweep.table import TrialRow, best_row, counts, format_params, trial_rows
from core.sweep.trial import TrialOutcome
from core.sweep.worker import SweepWorker

__all__ = [
    "AVERAGE_WEIGHTS_BY_DEFAULT",
    "PRUNERS",
    "SAMPLERS",
    "SETTINGS",
    "Param",
    "SpecError",
    "StorageError",
    "Sweep",
    "SweepSpec",
    "SweepWorker",
    "TrialOutcome",
    "TrialRow",
    "add_trials",
    "best_row",
    "connect",
    "counts",
    "create_sweep",
    "embedded_url",
    "format_params",
    "load_spec",
    "load_sweep",
    "open_storage",
    "redact",
    "requeue",
    "study_names",
    "trial_rows",
]
