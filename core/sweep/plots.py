"""A study's Plotly figures (optuna.visualization), or a plain sentence saying why one cannot be drawn yet."""

from __future__ import annotations

import warnings

import optuna
import plotly.graph_objects as go
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState

from core.sweep.study import Sweep

PLOTS = {
    "history": "Optimisation history",
    "parallel": "Parallel coordinates",
    "importances": "Setting importances",
    "slice": "Slice",
}
VALUE_NAME = "Validation accuracy"


def study_figure(sweep: Sweep, kind: str) -> go.Figure | str:
    """One of PLOTS for the study so far; a sentence instead when there are too few trials for it."""
    study = sweep.study
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return "No trial has finished yet: the plots appear with the first complete trial."
    varied = [param.name for param in sweep.spec.params]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        if kind == "history":
            return optuna.visualization.plot_optimization_history(study, target_name=VALUE_NAME)
        if kind == "parallel":
            return optuna.visualization.plot_parallel_coordinate(study, params=varied, target_name=VALUE_NAME)
        if kind == "slice":
            return optuna.visualization.plot_slice(study, params=varied, target_name=VALUE_NAME)
        if kind == "importances":
            return _importances(study, complete, varied)
    raise ValueError(f"Unknown plot {kind!r}; use one of {', '.join(PLOTS)}.")


def _importances(study: optuna.Study, complete: list, varied: list[str]) -> go.Figure | str:
    if len(varied) < 2:
        return "Importances compare settings: vary at least two to see which matters most."
    # fANOVA fits a forest to the trials; with fewer than a handful its answer is noise.
    if len(complete) < 4:
        return f"Importances need at least 4 complete trials; this study has {len(complete)} so far."
    try:
        return optuna.visualization.plot_param_importances(study, params=varied, target_name=VALUE_NAME)
    except (RuntimeError, ValueError, ImportError) as error:
        return f"Importances cannot be computed for these trials yet ({error})."
