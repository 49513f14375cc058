"""A study's plots and table without training: trials told by hand, as a worker would tell them."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from optuna.trial import TrialState

from core.access import LOCAL
from core.sweep import Param, SweepSpec, best_row, connect, counts, create_sweep, trial_rows
from core.sweep.plots import PLOTS, study_figure
from core.sweep.study import claim_trial
from core.sweep.trial import suggest


@pytest.fixture
def sweep(tmp_path):
    spec = SweepSpec(
        "mnist", params=(Param("dropout", 0.0, 0.5), Param("learning_rate", 1e-4, 1e-1, log=True)), trials=8,
        sampler="random",
    )  # fmt: skip
    storage = connect(None, tmp_path)
    return create_sweep(spec, "told", storage, by=LOCAL), storage


def tell(sweep, storage, count: int, state: TrialState = TrialState.COMPLETE) -> None:
    for _ in range(count):
        trial = claim_trial(sweep, storage)
        values = suggest(trial, sweep)
        # A made-up accuracy that depends on the learning rate only: it should come out as the important one.
        trial.report(0.5, 0)
        value = 0.9 - abs(values["learning_rate"] - 0.003) if state is TrialState.COMPLETE else None
        sweep.study.tell(trial, value, state=state)


def test_plots_wait_for_a_finished_trial_and_importances_for_four(sweep):
    sweep, storage = sweep
    assert study_figure(sweep, "history").startswith("No trial has finished yet")
    tell(sweep, storage, 2)
    assert isinstance(study_figure(sweep, "history"), go.Figure)
    assert study_figure(sweep, "importances") == "Importances need at least 4 complete trials; this study has 2 so far."


def test_every_plot_draws_once_there_are_enough_trials(sweep):
    sweep, storage = sweep
    tell(sweep, storage, 6)
    for kind in PLOTS:
        assert isinstance(study_figure(sweep, kind), go.Figure), kind
    importances = study_figure(sweep, "importances")
    # plot_param_importances lists the most important setting last (top of the bar chart).
    assert list(importances.data[0].y)[-1] == "learning_rate"


def test_the_table_counts_states_and_finds_the_best_complete_trial(sweep):
    sweep, storage = sweep
    tell(sweep, storage, 3)
    tell(sweep, storage, 1, TrialState.PRUNED)
    rows = trial_rows(sweep.study)
    assert counts(rows) == {"waiting": 4, "running": 0, "complete": 3, "pruned": 1, "failed": 0}
    best = best_row(rows)
    assert best.value == max(row.value for row in rows if row.state == "complete")
    pruned = next(row for row in rows if row.state == "pruned")
    assert pruned.value == 0.5 and pruned.epochs_reported == 1  # a pruned trial keeps its last reported value
