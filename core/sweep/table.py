"""A study's trials as rows a person reads: the CLI's `show` prints them, the Sweep page tables them."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from core.sweep.study import HOST, INTERRUPTED
from core.sweep.trial import DEVICE, ERROR, PRUNED_AT, RUN_ID, RUNS_DIR, TEST_ACCURACY

STATE_WORDS = {
    TrialState.WAITING: "waiting",
    TrialState.RUNNING: "running",
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
}


@dataclass(frozen=True)
class TrialRow:
    """One trial, in words and numbers."""

    number: int
    state: str
    params: dict[str, Any]
    # Validation accuracy, 0-1: the final epoch's, or the last reported before pruning.
    value: float | None
    test_accuracy: float | None
    duration_s: float | None
    epochs_reported: int
    pruned_at_epoch: int | None
    run_id: str | None
    where: str
    device: str
    note: str

    def saved_in(self, runs_folder: str | Path) -> bool:
        """Whether this trial's run is in `runs_folder` on this machine (a worker elsewhere keeps its own)."""
        return self.run_id is not None and self.where == f"{socket.gethostname()}:{runs_folder}/{self.run_id}"


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    """Every trial of a study, in trial order."""
    return [_row(trial) for trial in study.get_trials(deepcopy=False)]


def _row(trial: FrozenTrial) -> TrialRow:
    attrs = trial.user_attrs
    duration = None
    if trial.datetime_start is not None:
        # A running trial's time so far; storages differ in whether their times carry a zone.
        end = trial.datetime_complete or datetime.now(trial.datetime_start.tzinfo)
        duration = max((end - trial.datetime_start).total_seconds(), 0.0)
    host = attrs.get(HOST, "")
    run_id = attrs.get(RUN_ID)
    where = f"{host}:{attrs[RUNS_DIR]}/{run_id}" if run_id and RUNS_DIR in attrs else host
    note = attrs.get(INTERRUPTED) or attrs.get(ERROR) or ""
    return TrialRow(
        number=trial.number,
        state=STATE_WORDS.get(trial.state, trial.state.name.lower()),
        params=dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {})),
        value=trial.value if trial.values else None,
        test_accuracy=attrs.get(TEST_ACCURACY),
        duration_s=duration,
        epochs_reported=len(trial.intermediate_values),
        pruned_at_epoch=attrs.get(PRUNED_AT),
        run_id=run_id,
        where=where,
        device=attrs.get(DEVICE, ""),
        note=str(note),
    )


def counts(rows: list[TrialRow]) -> dict[str, int]:
    """How many trials are in each state, in the order a person reads them."""
    return {word: sum(row.state == word for row in rows) for word in STATE_WORDS.values()}


def best_row(rows: list[TrialRow]) -> TrialRow | None:
    """The complete trial with the highest validation accuracy."""
    complete = [row for row in rows if row.state == "complete" and row.value is not None]
    return max(complete, key=lambda row: row.value) if complete else None


def format_params(params: dict[str, Any]) -> str:
    """Settings as `name=value` pairs, numbers to 3 significant figures."""
    return ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}" for name, value in params.items()
    )
