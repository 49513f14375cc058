"""Runs page: every run kept, compared, renamed, exported or deleted."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app_pages.access_gate import current_caller, is_serving
from app_pages.resources import ACTIVE_RUN_KEY, activate_run, run_store
from app_pages.runs_ensemble import render_builder as render_ensemble_builder
from app_pages.runs_export import render_export
from app_pages.sidebar import current_dataset
from app_pages.wording import TEST_ACCURACY_HELP, percent_column
from core.access import AccessDenied
from core.ensemble_info import display_name, is_ensemble
from core.figures.training import curves_from_history, in_epochs, training_curves_figure
from core.runs.store import RunStoreError, RunSummary
from core.runs.summary import distinct_labels

TABLE_KEY = "runs_table"
# The run ids the table listed last, row by row: a selection is kept by run, not by row position.
LISTED_KEY = "runs_table_listed"


def run_table(runs: list[RunSummary], owner: str | None = None) -> pd.DataFrame:
    """One row per run with the settings and results worth comparing; with an `owner`, "yours" marks theirs."""
    rows = []
    for run in runs:
        model = run.config.get("model", {})
        training = run.config.get("training", {})
        augmentation = model.get("augmentation", {})
        rows.append(
            {
                "name": run.label,
                **({"yours": run.owner == owner} if owner else {}),
                # Results first: at a laptop's width the columns after the first ten or so are scrolled to.
                "test accuracy": run.test_accuracy,
                "drawn accuracy": run.drawn_accuracy,
                "best validation": run.best_val_accuracy,
                "dataset": run.dataset,
                "architecture": run.architecture,
                "dropout": model.get("dropout"),
                "L2": model.get("l2"),
                "batch norm": model.get("batch_norm"),
                # The recipe only says how drawings would be drawn; it is no augmentation by itself.
                "augmented": any(bool(value) for name, value in augmentation.items() if name != "drawing_recipe"),
                "robust to drawings": augmentation.get("drawing_rate") or 0.0,
                "learning rate": training.get("learning_rate"),
                "epochs": run.epochs_completed,
                "parameters": run.parameters,
                "time (s)": run.elapsed_s,
                "device": run.device,
                "state": run.state,
                "tags": ", ".join(run.tags),
                "created": run.created_utc,
                "run id": run.run_id,
                "problem": run.problem or "",
            }
        )
    table = pd.DataFrame(rows)
    if len(table):
        # A date to read, in the server's time zone like the labels, not "2026-12-04T15:07:50Z".
        created = pd.to_datetime(table["created"], utc=True, errors="coerce")
        table["created"] = created.dt.tz_convert(datetime.now().astimezone().tzinfo).dt.tz_localize(None)
    return table


COLUMNS = {
    "best validation": percent_column(),
    "test accuracy": percent_column(TEST_ACCURACY_HELP),
    "drawn accuracy": percent_column(
        "Mean accuracy on the test images drawn as people draw them, read as Predict reads them (Evaluate shows each).",
    ),
    "robust to drawings": st.column_config.NumberColumn(format="percent", help="Share of training images redrawn."),
    "parameters": st.column_config.NumberColumn(format="localized"),
    "time (s)": st.column_config.NumberColumn(format="%.1f"),
    "created": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
}


def render_filters(runs: list[RunSummary], dataset_name: str) -> list[RunSummary]:
    left, middle, right = st.columns(3)
    datasets = sorted({run.dataset for run in runs if run.dataset})
    chosen = left.multiselect(
        "Dataset",
        datasets,
        default=[dataset_name] if dataset_name in datasets else [],
        format_func=display_name,
        key="filter_dataset",
    )
    architectures = sorted({run.architecture for run in runs if run.architecture})
    kinds = middle.multiselect("Architecture", architectures, key="filter_architecture")
    text = right.text_input("Search names and tags", key="filter_text").strip().lower()
    return [
        run
        for run in runs
        if (not chosen or run.dataset in chosen)
        and (not kinds or run.architecture in kinds)
        and (not text or text in f"{run.label} {' '.join(run.tags)} {run.run_id}".lower())
    ]


OVERLAY_AXES = {"epochs": "Epochs", "batches": "Batches"}


def render_overlay(selected: list[RunSummary]) -> None:
    # An ensemble is built from trained runs, not trained itself: it has no curves to draw.
    trained = [run for run in selected if run.complete and not is_ensemble(run)]
    labels = distinct_labels(trained)
    curves = []
    for run in trained:
        try:
            curves.append(curves_from_history(labels[run.run_id], run_store().history(run.run_id)))
        except RunStoreError as error:
            st.warning(str(error))
    if not curves:
        return
    axis = st.segmented_control(
        "Along",
        list(OVERLAY_AXES),
        format_func=OVERLAY_AXES.get,
        default="epochs",
        required=True,
        key="runs_overlay_axis",
        help="Epochs line up runs with different training sets or batch sizes; batches show each step as taken.",
    )
    if axis == "epochs":
        placed = {curve.label: in_epochs(curve) for curve in curves}
        unplaced = [label for label, curve in placed.items() if curve is None]
        if unplaced:
            st.caption(f"Not drawn along epochs (no epoch finished): {', '.join(unplaced)}.")
        curves = [curve for curve in placed.values() if curve is not None]
    if curves:
        st.plotly_chart(training_curves_figure(curves, by_epoch=axis == "epochs"), key="runs_overlay")


def render_actions(run: RunSummary) -> None:
    store = run_store()
    caller = current_caller()
    st.subheader(f"Run {run.label}")
    st.caption(f"Run id `{run.run_id}`" + (f", on {display_name(run.dataset)}" if run.dataset else ""))
    if not run.complete:
        who = "It can only be deleted" if caller.is_admin else "Only an admin can delete it"
        st.warning(f"This run is {run.state}: {run.problem} {who}.")
        if not caller.is_admin:
            return
    else:
        activate, download, _ = st.columns(3)
        is_active = st.session_state.get(ACTIVE_RUN_KEY) == run.run_id
        activate.button(
            "Active model" if is_active else "Make active", key="activate_run", disabled=is_active,
            icon=":material/star:", on_click=activate_run, args=(run.run_id,),
        )  # fmt: skip
        try:
            model_file = store.model_path(run.run_id)
            download.download_button(
                "Download model.keras", data=model_file.read_bytes(), file_name=f"{run.run_id}.keras",
                mime="application/octet-stream", key="download_model", icon=":material/download:",
            )  # fmt: skip
        except RunStoreError as error:
            download.error(str(error))
        if not caller.is_admin:
            st.caption("On a shared server only an admin can rename, tag, export or delete runs.")
            render_export(run)  # what an admin shipped, to read and download
            return
        name_column, tags_column = st.columns(2)
        # Keyed by run: Streamlit keeps a keyed widget's value, so one key for every run would show (and
        # save) the previous run's name, tags or delete confirmation on the next run selected.
        with name_column.form(f"rename_form_{run.run_id}", border=False):
            new_name = st.text_input("Name", value=run.name, max_chars=80, key=f"rename_text_{run.run_id}")
            if st.form_submit_button("Rename"):
                change_run(store.rename, run.run_id, new_name, by=caller)
        with tags_column.form(f"tags_form_{run.run_id}", border=False):
            tags = st.multiselect(
                "Tags", sorted(set(run.tags) | {"baseline", "best", "overfits"}), default=list(run.tags),
                accept_new_options=True, key=f"tags_select_{run.run_id}",
            )  # fmt: skip
            if st.form_submit_button("Save tags"):
                change_run(store.set_tags, run.run_id, tags, by=caller)
        render_export(run)
    with st.expander("Delete this run"):
        st.write("Deletes the run's folder: its model, curves and logs. This cannot be undone.")
        confirmed = st.checkbox("Yes, delete it", key=f"confirm_delete_{run.run_id}")
        if st.button("Delete", type="primary", key="delete_run", disabled=not confirmed):
            # The sidebar drops a deleted run from "Active model" on the rerun.
            change_run(store.delete, run.run_id, by=caller)


def change_run(change, *args, **kwargs) -> None:
    """Apply a change to a run and redraw; a disk or a role that refuses it gets its reason, not a traceback."""
    try:
        change(*args, **kwargs)
    except (RunStoreError, AccessDenied) as error:
        st.error(str(error), icon=":material/error:")
        return
    st.rerun()


def keep_selection_by_run(listed: list[str]) -> None:
    """Move the table's selection to the same runs' new rows when the listed runs change.

    The table selects row positions; a new run (listed first, as the newest) or another filter
    would otherwise hand a selection, and "Delete", to a different run.
    """
    before = st.session_state.get(LISTED_KEY)
    st.session_state[LISTED_KEY] = listed
    state = st.session_state.get(TABLE_KEY)
    if not before or before == listed or not state:
        return
    rows = state["selection"]["rows"]
    chosen = [before[row] for row in rows if row < len(before)]
    position = {run_id: row for row, run_id in enumerate(listed)}
    # Assigned before the table is drawn in this run, which is when Streamlit lets a script set a selection.
    st.session_state[TABLE_KEY] = {
        "selection": {"rows": [position[run_id] for run_id in chosen if run_id in position], "columns": [], "cells": []}
    }


def render() -> None:
    st.title("Runs")
    dataset = current_dataset()
    problem = run_store().write_problem()
    if problem:
        st.warning(problem, icon=":material/lock:")
    runs = run_store().list_runs()
    if not runs:
        st.info("No runs yet. Train a model on the Train page and it appears here.")
        return
    shown = render_filters(runs, dataset.name if dataset else "")
    st.caption(f"Showing {len(shown)} of {len(runs)} run{'' if len(runs) == 1 else 's'}.")
    # On a shared server every session sees every run; its own are marked.
    table = run_table(shown, current_caller().owner if is_serving() else None)
    keep_selection_by_run([run.run_id for run in shown])
    selection = st.dataframe(
        table, hide_index=True, column_config=COLUMNS, on_select="rerun", selection_mode="multi-row", key=TABLE_KEY,
    )  # fmt: skip
    selected = [shown[index] for index in selection.selection.rows if index < len(shown)]
    render_ensemble_builder(selected)
    if not selected:
        st.caption("Select rows to overlay their curves and to manage a run.")
        return
    render_overlay(selected)
    render_actions(selected[0])


render()
