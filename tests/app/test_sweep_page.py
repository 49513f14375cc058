"""The Sweep page through AppTest: define a sweep with widgets, refuse bad input plainly, run one, use its best."""

from __future__ import annotations

from datetime import timedelta

import optuna
import pytest
import streamlit as st
from app_driver import figure_of, open_app
from optuna.trial import TrialState

from core.access import LOCAL
from core.datasets import forget_loaded_datasets
from core.runs.store import RunStore
from core.sweep import Param, SweepSpec, connect, create_sweep, load_sweep
from core.sweep.trial import PRUNED_AT
from core.training import shared_scheduler


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A fresh runs folder (and so a fresh embedded study file) for the app."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(folder))
    st.cache_resource.clear()  # the run store and storages are opened once per process: reopen them here
    forget_loaded_datasets()
    yield folder
    for job in shared_scheduler().running() + shared_scheduler().queued():
        job.stop(by=LOCAL)
        job.wait(60)
    st.cache_resource.clear()


def trials_table(app):
    """The trials table the page shows (the only table with a state column)."""
    (table,) = [frame.value for frame in app.dataframe if "state" in frame.value.columns]
    return table


def errors(app) -> list[str]:
    return [element.value for element in app.error]


def test_a_sweep_defined_with_widgets_is_created_and_opened(runs):
    app = open_app("sweep")
    assert not app.exception
    app.text_input(key="sweep_new_name").input("by-hand").run()
    app.number_input(key="sweep_trials").set_value(3).run()
    app.selectbox(key="sweep_pruner").select("hyperband").run()
    app.button(key="sweep_create").click().run()
    assert not app.exception and not errors(app)
    sweep = load_sweep("by-hand", connect(None, runs))
    assert sweep.spec.trials == 3 and sweep.spec.pruner == "hyperband"
    assert [param.name for param in sweep.spec.params] == ["dropout", "learning_rate"]
    assert dict(sweep.spec.base)["average_weights"] is True, "trials are judged on averaged weights by default"
    # The page now shows the study and its three queued trials.
    assert app.selectbox(key="sweep_study").value == "by-hand"
    table = trials_table(app)
    assert list(table["state"]) == ["waiting"] * 3
    assert app.button(key="sweep_start").label == "Start"


def test_a_sweep_can_be_created_without_typing_a_name_and_unpruned_trials_show_no_epoch(runs):
    app = open_app("sweep")
    name = app.text_input(key="sweep_new_name").value
    assert name.startswith("mnist-")
    app.number_input(key="sweep_trials").set_value(2).run()
    app.button(key="sweep_create").click().run()
    assert not app.exception and not errors(app)
    assert load_sweep(name, connect(None, runs)).spec.trials == 2
    assert trials_table(app)["pruned at epoch"].isna().all()
    # A second sweep in the same minute starts from a name of its own, and is created without an error.
    app.segmented_control(key="sweep_mode").set_value("New sweep").run()
    second = app.text_input(key="sweep_new_name").value
    assert second != name and second.startswith("mnist-")
    app.button(key="sweep_create").click().run()
    assert not app.exception and not errors(app)
    assert app.selectbox(key="sweep_study").value == second


def test_pruned_epochs_and_durations_sort_as_numbers(runs):
    spec = SweepSpec("mnist", params=(Param("dropout", 0.0, 0.5),), trials=1, sampler="random", pruner="median")
    sweep = create_sweep(spec, "sorted", connect(None, runs), by=LOCAL)
    for epoch, seconds in ((10, 95.0), (2, 9.5)):
        trial = optuna.trial.create_trial(
            state=TrialState.PRUNED, value=0.5, params={"dropout": 0.1},
            distributions={"dropout": optuna.distributions.FloatDistribution(0.0, 0.5)},
            user_attrs={PRUNED_AT: epoch}, intermediate_values={epoch - 1: 0.5},
        )  # fmt: skip
        trial.datetime_start = trial.datetime_complete - timedelta(seconds=seconds)
        sweep.study.add_trial(trial)
    app = open_app("sweep")
    app.selectbox(key="sweep_study").select("sorted").run()
    table = trials_table(app)
    pruned = table[table["state"] == "pruned"]
    assert sorted(pruned["pruned at epoch"]) == [2, 10]  # as text, "10" sorted before "2"
    assert sorted(pruned["duration (s)"]) == [9.5, 95.0]


def test_trials_can_be_judged_on_the_last_steps_weights_instead(runs):
    app = open_app("sweep")
    app.text_input(key="sweep_new_name").input("last-step").run()
    app.toggle(key="sweep_average_weights").set_value(False).run()
    app.button(key="sweep_create").click().run()
    assert not app.exception and not errors(app)
    assert dict(load_sweep("last-step", connect(None, runs)).spec.base)["average_weights"] is False


def test_a_range_the_wrong_way_round_is_refused_with_its_reason(runs):
    app = open_app("sweep")
    app.number_input(key="sweep_low_dropout").set_value(0.7).run()
    assert not app.exception
    assert any("params.dropout: low (0.7) must be below high (0.6)" in text for text in errors(app))
    assert app.button(key="sweep_create").disabled


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql:/missing-slash", "is not a study storage URL: use postgresql://"),
        ("postgresql://sweeper:hunter2@127.0.0.1:1/studies", "Cannot open the study storage postgresql://sweeper:***@"),
    ],
)
def test_a_bad_storage_url_gives_one_clear_line_and_no_password(runs, url, message):
    app = open_app("sweep")
    app.text_input(key="sweep_storage").input(url).run()
    assert not app.exception
    (text,) = errors(app)
    assert message in text and "hunter2" not in text and "\n" not in text


def test_start_runs_the_sweep_here_and_the_best_trial_becomes_the_active_model(runs):
    spec = SweepSpec(
        "mnist",
        params=(Param("dropout", 0.0, 0.5),),
        base=(("preset", "quick"), ("architecture", "softmax"), ("train_size", 300), ("epochs", 1)),
        trials=2, sampler="random", pruner="none",
    )  # fmt: skip
    create_sweep(spec, "tiny", connect(None, runs), by=LOCAL)
    app = open_app("sweep")
    assert app.selectbox(key="sweep_study").value == "tiny"
    app.button(key="sweep_start").click().run()
    assert not app.exception and not errors(app)
    from app_pages.sweep_workers import running_sweeps

    worker = running_sweeps().get("", "tiny")
    assert worker is not None and worker.wait(300), "the sweep did not finish in 5 minutes"
    assert worker.error is None and len(worker.outcomes) == 2
    app.run()
    table = trials_table(app)
    assert list(table["state"]) == ["complete", "complete"] and all(table["run"])
    history = figure_of(app.get("plotly_chart")[0])
    assert len(history.data[0].y) == 2  # the optimisation history has both trials
    best = load_sweep("tiny", connect(None, runs)).study.best_trial
    app.button(key="sweep_activate_best").click().run()
    assert app.session_state["active_run_id"] == best.user_attrs["run_id"]
    assert app.button(key="sweep_start").label == "Resume" and app.button(key="sweep_start").disabled
    # The two trials averaged into one model, saved as an ordinary run.
    app.button(key="sweep_ensemble").click().run()
    assert not app.exception and not errors(app)
    ensemble = RunStore(runs).get(app.session_state["sweep_ensemble_run_id"])
    assert ensemble.complete and "ensemble" in ensemble.tags
