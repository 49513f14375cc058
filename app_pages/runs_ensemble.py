"""Ensembles on the pages: the Runs page's builder, and the Evaluate page's ensemble-against-members view."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.resources import activate_run, run_store
from app_pages.sidebar import current_dataset
from app_pages.wording import percent_column
from core.access import AccessDenied
from core.ensemble_info import display_name, ensemble_problem, member_scores, scored_on
from core.ensemble_job import EnsembleBuild
from core.figures.ensemble import ensemble_accuracy_figure
from core.runs.store import RunStoreError, RunSummary

# The run this session built last, so its message and "Make active" survive the reruns that follow.
BUILT_KEY = "ensemble_built_run_id"
# The build running in the background for this session, and why the last one failed.
JOB_KEY = "ensemble_build_job"
ERROR_KEY = "ensemble_build_error"


def render_builder(selected: list[RunSummary]) -> None:
    """The ensemble this session just built; for 2 to 5 selected runs of one dataset, a builder, else why not."""
    building = st.session_state.get(JOB_KEY) is not None
    if building:
        render_job()
    failed = st.session_state.pop(ERROR_KEY, None)
    if failed:
        st.error(f"The ensemble was not built: {failed}", icon=":material/error:")
    built = st.session_state.get(BUILT_KEY)
    if built:
        render_built(built)
    if not selected:
        return
    with st.expander("Build an ensemble", icon=":material/stacks:", expanded=len(selected) > 1):
        problem = ensemble_problem(selected)
        if problem:
            st.info(f"{problem} An ensemble averages the class probabilities of 2 to 5 runs of one dataset.")
            return
        dataset_name = str(selected[0].dataset)
        dataset = current_dataset()
        if dataset is None or dataset.name != dataset_name:
            st.warning(f"Pick {display_name(dataset_name)} in the sidebar: the ensemble is scored on its test set.")
            return
        st.write(
            f"One model that averages the class probabilities of these {len(selected)} runs, saved as a new run "
            "that every page can use."
        )
        st.caption(f"Scored on the test set of the {dataset.source}.")
        name = st.text_input("Name", value=f"Ensemble of {len(selected)}", max_chars=80, key="ensemble_name")
        if st.button("Build the ensemble", key="build_ensemble", type="primary", icon=":material/stacks:",
                     disabled=building, help="One build at a time." if building else None):  # fmt: skip
            build(selected, name, dataset)


def build(selected: list[RunSummary], name: str, dataset) -> None:
    """Start building the ensemble in the background; a role that may not build gets its one-line reason."""
    try:
        st.session_state[JOB_KEY] = EnsembleBuild(
            run_store(), [run.run_id for run in selected], name=name.strip() or None, by=current_caller(),
            dataset=dataset,
        )  # fmt: skip
    except AccessDenied as error:
        st.error(f"The ensemble was not built: {error}", icon=":material/error:")
        return
    st.session_state.pop(BUILT_KEY, None)
    st.rerun()


@st.fragment(run_every=1.0)
def render_job() -> None:
    """The build's progress, redrawn every second; when it is done, the whole page redraws with its result."""
    job = st.session_state.get(JOB_KEY)
    if job is None:
        return
    status = job.status()
    if not status.done:
        st.progress(status.fraction, text=f"{status.message} Other clicks do not stop the build.")
        return
    st.session_state.pop(JOB_KEY, None)
    if status.error:
        st.session_state[ERROR_KEY] = status.error
    else:
        st.session_state[BUILT_KEY] = status.run_id
    # Redraw the whole page so the table lists the new run.
    st.rerun(scope="app")


def render_built(run_id: str) -> None:
    """The ensemble this session just built, with its accuracy and a button to make it the active model."""
    try:
        run = run_store().get(run_id)
    except RunStoreError:
        st.session_state.pop(BUILT_KEY, None)
        return
    best = max((member.test_accuracy for member in member_scores(run)), default=None)
    against = f" (best member: {100 * best:.2f} %)" if best is not None else ""
    st.success(f"Saved **{run.label}**: {100 * (run.test_accuracy or 0):.2f} % test accuracy{against}.",
               icon=":material/check_circle:")  # fmt: skip
    st.button("Make the ensemble active", key="activate_ensemble", icon=":material/star:",
              on_click=activate_built, args=(run_id,))  # fmt: skip


def activate_built(run_id: str) -> None:
    """Widget callback: the new ensemble becomes the active model, and its message has done its job."""
    activate_run(run_id)
    st.session_state.pop(BUILT_KEY, None)


def render_member_comparison(run: RunSummary) -> None:
    """The ensemble's accuracy next to each member's, all measured on the same test images when it was built."""
    members = member_scores(run)
    if not members:
        return
    present = {other.run_id: other for other in run_store().list_runs()}
    names = [f"ensemble: {run.label}"]
    notes = ["this run"]
    for member in members:
        current = present.get(member.run_id)
        names.append(f"{current.label if current else member.name} · {member.run_id[-6:]}")
        notes.append("" if current else "deleted since")
    test = [run.test_accuracy or 0.0, *(member.test_accuracy for member in members)]
    drawn = [run.drawn_accuracy, *(member.drawn_accuracy for member in members)]
    best = max(members, key=lambda member: member.test_accuracy)
    gain = 100 * ((run.test_accuracy or 0.0) - best.test_accuracy)
    verdict = "beats" if gain > 0 else "matches" if gain == 0 else "trails"
    st.markdown(f"**The ensemble {verdict} its best member** by {abs(gain):.2f} points on the test images.")
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(ensemble_accuracy_figure(names, test, drawn), key="ensemble_members_chart")
    table = pd.DataFrame({"model": names, "test accuracy": test, "drawn accuracy": drawn, "note": notes})
    percent = percent_column()
    right.dataframe(table, hide_index=True, key="ensemble_members_table",
                    column_config={"test accuracy": percent, "drawn accuracy": percent})  # fmt: skip
    source = scored_on(run)
    data = f" of the {source}" if source else ""
    right.caption(
        f"Measured when the ensemble was built, on the same test images{data} for every model; drawn accuracy is the "
        "mean over the drawn versions of the test set. A member deleted since still counts in the ensemble: "
        "its weights are inside the ensemble's own file."
    )
