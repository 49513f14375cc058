"""The Sweep page's "Ensemble the top k": the best complete trials averaged into one model, saved as a run."""

from __future__ import annotations

import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.resources import activate_run, run_store
from app_pages.sidebar import data_folder
from core.access import AccessDenied, Action, allows
from core.datasets import DatasetError, load_dataset
from core.ensemble import MAX_MEMBERS, MIN_MEMBERS, save_ensemble_run
from core.runs.store import RunStoreError
from core.sweep import Sweep, TrialRow

BUILT_KEY = "sweep_ensemble_run_id"


def local_best(rows: list[TrialRow]) -> list[TrialRow]:
    """Complete trials whose run is in this app's runs folder, best first (others' runs are on other machines)."""
    here = [row for row in rows if row.state == "complete" and row.saved_in(run_store().root)]
    return sorted(here, key=lambda row: row.value, reverse=True)


def render_top_ensemble(sweep: Sweep, rows: list[TrialRow]) -> None:
    """Pick k, build the ensemble of the k best trials here, and offer it as the active model."""
    built = st.session_state.get(BUILT_KEY)
    if built:
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.success(f"Saved the ensemble as run `{built}`; Evaluate shows it next to each member.")
        right.button(
            "Make the ensemble the active model", key="sweep_activate_ensemble", icon=":material/star:",
            on_click=activate_run, args=(built,),
        )  # fmt: skip
    if not allows(current_caller(), Action.TRAIN):
        return
    best = local_best(rows)
    if len(best) < MIN_MEMBERS:
        st.caption(f"An ensemble needs at least {MIN_MEMBERS} complete trials saved in this machine's runs folder.")
        return
    most = min(MAX_MEMBERS, len(best))
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    k = left.number_input("Ensemble the top", MIN_MEMBERS, most, value=min(3, most), key="sweep_top_k")
    if right.button(f"Ensemble the top {k}", key="sweep_ensemble", icon=":material/join:"):
        build(sweep, [row.run_id for row in best[:k]])


def build(sweep: Sweep, run_ids: list[str]) -> None:
    bar = st.progress(0.0, text="Loading the members…")
    try:
        dataset = load_dataset(sweep.spec.dataset, data_folder())
        run_id = save_ensemble_run(
            run_store(), run_ids, name=f"{sweep.name}: top {len(run_ids)}", by=current_caller(), dataset=dataset,
            progress=lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
        )  # fmt: skip
    except (ValueError, RunStoreError, AccessDenied, DatasetError) as error:
        bar.empty()
        st.error(f"The ensemble was not built: {error}", icon=":material/error:")
        return
    bar.empty()
    st.session_state[BUILT_KEY] = run_id
    st.rerun()
