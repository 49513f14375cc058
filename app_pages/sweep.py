"""Sweep page: define a hyperparameter sweep or open a study, run it here, watch its trials and plots live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.resources import activate_run, run_store, training_scheduler
from app_pages.sidebar import data_folder, require_dataset
from app_pages.sweep_define import render_define
from app_pages.sweep_ensemble import render_top_ensemble
from app_pages.sweep_workers import running_sweeps
from app_pages.wording import TEST_ACCURACY_HELP, counted
from core.access import AccessDenied, Action, allows
from core.datasets import DatasetError, load_dataset
from core.sweep import (
    PRUNERS,
    SpecError,
    StorageError,
    Sweep,
    SweepWorker,
    add_trials,
    best_row,
    connect,
    counts,
    create_sweep,
    format_params,
    load_sweep,
    study_names,
    trial_rows,
)
from core.sweep.plots import PLOTS, study_figure

STORAGE_KEY = "sweep_storage"
STUDY_KEY = "sweep_study"
LIVE_S = 2.0
NEW, OPEN = "New sweep", "Open a study"
MODE_KEY = "sweep_mode"
CREATE_PROBLEM_KEY = "sweep_create_problem"
LIVE_KEY = "sweep_live"
TEST_ACCURACY = "test accuracy (%)"


@st.cache_resource(show_spinner="Connecting to the study storage…", max_entries=4)
def storage_for(url: str):
    """One storage connection per URL and server (a failure is not cached: the next rerun tries again)."""
    return connect(url or None, run_store().root)


def render() -> None:
    dataset = require_dataset()
    st.title("Sweeps")
    st.caption(
        "Train many models with settings chosen by Optuna, keep the best. Each trial is an ordinary run "
        "(tagged with its study and trial) and queues behind other training on this machine."
    )
    url = st.text_input(
        "Study storage", key=STORAGE_KEY, placeholder="Empty: a study file in this machine's runs folder",
        help="Any Optuna storage URL, e.g. postgresql://user:password@host/db, shared by workers on other machines.",
    ).strip()  # fmt: skip
    try:
        storage = storage_for(url)
        names = study_names(storage)
    except StorageError as error:
        st.error(str(error), icon=":material/error:")
        return
    st.session_state.setdefault(MODE_KEY, OPEN if names else NEW)
    mode = st.segmented_control("What to do", [OPEN, NEW], key=MODE_KEY, label_visibility="collapsed")
    if mode == NEW:
        render_new(dataset, storage, names)
        return
    if not names:
        st.info("There is no study in this storage yet: define one under *New sweep*.")
        return
    if st.session_state.get(STUDY_KEY) not in names:
        st.session_state[STUDY_KEY] = names[0]
    name = st.selectbox("Study", names, key=STUDY_KEY)
    try:
        sweep = load_sweep(name, storage)
    except StorageError as error:
        st.error(str(error), icon=":material/error:")
        return
    render_study(sweep, storage, url)


def render_new(dataset, storage, names: list[str]) -> None:
    spec = render_define(dataset, names)
    st.button(
        "Create sweep", type="primary", key="sweep_create", icon=":material/add:", disabled=spec is None,
        on_click=create_study, args=(spec, storage),
    )  # fmt: skip
    problem = st.session_state.pop(CREATE_PROBLEM_KEY, None)
    if problem:
        st.error(problem, icon=":material/error:")


def create_study(spec, storage) -> None:
    """Button callback: create the study and open it (the mode switch must happen before its widget is drawn)."""
    name = st.session_state.get("sweep_new_name", "").strip()
    if not name:
        st.session_state[CREATE_PROBLEM_KEY] = "Give the sweep a name, so you and other workers can find it."
        return
    try:
        create_sweep(spec, name, storage, by=current_caller())
    except (StorageError, SpecError, AccessDenied) as error:
        st.session_state[CREATE_PROBLEM_KEY] = str(error)
        return
    st.session_state[STUDY_KEY] = name
    st.session_state[MODE_KEY] = OPEN


def render_study(sweep: Sweep, storage, url: str) -> None:
    spec = sweep.spec
    varied = ", ".join(param.name for param in spec.params)
    st.caption(
        f"{spec.dataset}, {counted(spec.trials, 'trial')} planned, varying {varied}; sampler {spec.sampler}, "
        f"pruner {PRUNERS[spec.pruner].lower()}. {spec.description}"
    )
    render_controls(sweep, storage, url)
    worker = running_sweeps().get(url, sweep.name)
    rows = trial_rows(sweep.study)
    # Live while a worker here runs, or trials run anywhere else (a terminal, another machine).
    live = (worker is not None and worker.running) or counts(rows)["running"] > 0
    st.session_state[LIVE_KEY] = live
    st.fragment(render_trials, run_every=LIVE_S if live else None)(sweep, url)
    render_top_ensemble(sweep, rows)
    render_plots(sweep)


def render_controls(sweep: Sweep, storage, url: str) -> None:
    caller = current_caller()
    worker = running_sweeps().get(url, sweep.name)
    rows = trial_rows(sweep.study)
    waiting = counts(rows)["waiting"]
    if not allows(caller, Action.TRAIN):
        return
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    if worker is not None and worker.running:
        may_stop = allows(caller, Action.CONTROL, worker.by.owner)
        label = "Stopping…" if worker.stopping else "Stop"
        if left.button(label, key="sweep_stop", icon=":material/stop:", disabled=worker.stopping or not may_stop):
            worker.stop()
            st.rerun()
    else:
        finished = any(row.state in ("complete", "pruned", "failed") for row in rows)
        label = "Resume" if finished else "Start"
        help_text = None if waiting else "No trial is waiting: add some first."
        if left.button(label, key="sweep_start", type="primary", icon=":material/play_arrow:", disabled=not waiting,
                       help=help_text):  # fmt: skip
            start_worker(sweep, storage, url)
    more = middle.number_input("More trials", 1, 200, value=4, key="sweep_more")
    if right.button("Add trials", key="sweep_add", icon=":material/add:"):
        try:
            added = add_trials(sweep, int(more), by=caller)
        except (ValueError, AccessDenied) as error:
            st.error(str(error))
            return
        st.toast(f"Queued {counted(added, 'trial')}.")
        st.rerun()
    if worker is not None and not worker.running and worker.error:
        st.error(worker.error, icon=":material/error:")


def start_worker(sweep: Sweep, storage, url: str) -> None:
    """Run the study's waiting trials on a background thread of this server, through its training queue."""
    try:
        dataset = load_dataset(sweep.spec.dataset, data_folder())
        worker = SweepWorker(
            sweep, storage, dataset, scheduler=training_scheduler(), store=run_store(), by=current_caller()
        )
    except (DatasetError, ValueError, AccessDenied) as error:
        st.error(f"The sweep cannot start: {error}", icon=":material/error:")
        return
    if not running_sweeps().start(url, worker):
        st.info("This study already has a worker running in this server.")
    st.rerun()


def render_trials(sweep: Sweep, url: str) -> None:
    """The live part: the worker's state, the running trial's progress, the trials table and the best trial."""
    worker = running_sweeps().get(url, sweep.name)
    rows = trial_rows(sweep.study)
    live = (worker is not None and worker.running) or counts(rows)["running"] > 0
    if st.session_state.get(LIVE_KEY) and not live:
        # The sweep just ended: redraw the whole page, so its buttons, ensemble and plots catch up.
        st.session_state[LIVE_KEY] = False
        st.rerun(scope="app")
    tally = ", ".join(f"{n} {word}" for word, n in counts(rows).items() if n)
    if worker is not None and worker.running:
        job = worker.job
        if job is None:
            st.info(f"Sweep running here: {tally}. Getting the next trial ready…", icon=":material/sync:")
        else:
            snapshot = job.snapshot()
            where = f"waiting in the training queue (position {snapshot.queue_position})" if snapshot.queue_position \
                else f"{snapshot.epoch_words}"  # fmt: skip
            st.info(f"Sweep running here: {tally}. The current trial is {where}.", icon=":material/sync:")
            st.progress(snapshot.fraction_done)
    else:
        st.caption(f"Trials: {tally or 'none'}. {'' if worker is None else 'The worker here has stopped.'}")
    if rows:
        st.dataframe(
            trials_table(rows),
            hide_index=True,
            key="sweep_trials_table",
            width="stretch",
            column_config={
                TEST_ACCURACY: st.column_config.NumberColumn(help=TEST_ACCURACY_HELP),
                "duration (s)": st.column_config.NumberColumn(format="%.1f"),
            },
        )
    render_best(rows, sweep)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def trials_table(rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial": [row.number for row in rows],
            "state": [row.state for row in rows],
            "settings": [format_params(row.params) for row in rows],
            "validation accuracy (%)": [_percent(row.value) for row in rows],
            TEST_ACCURACY: [_percent(row.test_accuracy) for row in rows],
            # Numbers, not text, so both sort as numbers (a text "10" sorted before "2"); missing ones stay empty.
            "duration (s)": [None if row.duration_s is None else round(row.duration_s, 1) for row in rows],
            "pruned at epoch": pd.array([row.pruned_at_epoch for row in rows], dtype="Int64"),
            "run": [row.run_id or "" for row in rows],
            "where": [row.where for row in rows],
            "note": [row.note for row in rows],
        }
    )


def render_best(rows, sweep: Sweep) -> None:
    best = best_row(rows)
    if best is None:
        return
    here = best.saved_in(run_store().root)
    text = (f"Best so far: trial {best.number}, **{100 * best.value:.2f} % validation accuracy** "
            f"({format_params(best.params)}).")  # fmt: skip
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.markdown(text)
    if here:
        right.button(
            "Make the best trial the active model", key="sweep_activate_best", icon=":material/star:",
            on_click=activate_run, args=(best.run_id,),
        )  # fmt: skip
    else:
        right.caption(f"Its run is on another machine or runs folder: {best.where or 'not saved'}.")


def render_plots(sweep: Sweep) -> None:
    tabs = st.tabs(list(PLOTS.values()))
    for tab, kind in zip(tabs, PLOTS, strict=True):
        with tab:
            figure = study_figure(sweep, kind)
            if isinstance(figure, str):
                st.caption(figure)
            else:
                st.plotly_chart(figure, key=f"sweep_plot_{kind}")


render()
