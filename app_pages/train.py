"""Train page: choose a model and its regularisation, press Train, watch it learn, change it live."""

from __future__ import annotations

import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.live_panel import live_panel
from app_pages.resources import ACTIVE_RUN_KEY, JOB_KEY, activate_run, run_store, training_scheduler
from app_pages.server_jobs import render_server_jobs
from app_pages.sidebar import require_dataset
from app_pages.train_settings import read_settings, render_settings
from app_pages.wording import describe_time, epochs_words
from core.access import AccessDenied, Action, allows
from core.architectures import ModelSpec
from core.figures.training import curves_from_snapshot, training_curves_figure
from core.training import JobState, TrainingJob
from core.training.isolated import prepare_worker
from core.training.progress import epochs_trained
from core.training.scheduler import QueueFull


def current_job() -> TrainingJob | None:
    """This session's latest job; after a browser refresh, the one named in the page's URL if it may see it."""
    job_id = st.session_state.get(JOB_KEY) or st.query_params.get("job")
    job = training_scheduler().find(job_id) if job_id else None
    # A shared server's address bar can carry someone else's job: only its owner or an admin follows it.
    if job is not None and not allows(current_caller(), Action.CONTROL, job.owner):
        job = None
    if job is not None:
        st.session_state[JOB_KEY] = job.id
    return job


def start_training(dataset, spec, config) -> None:
    # Each model trains (and saves itself, finished, stopped or failed) in its own process, so the
    # app's memory does not grow with every model trained and a crash in training cannot take it down.
    caller = current_caller()
    job = TrainingJob(dataset, spec, config, on_finish=run_store().saver(dataset.source, caller.owner), isolated=True)
    try:
        training_scheduler().submit(job, by=caller)
    except (AccessDenied, QueueFull) as refusal:
        st.error(str(refusal), icon=":material/hourglass_disabled:")
        return
    st.session_state[JOB_KEY] = job.id
    st.query_params["job"] = job.id


def render_finished(job: TrainingJob) -> None:
    result = job.result
    if result.state is JobState.FAILED:
        st.error(f"Training failed. {result.error}", icon=":material/error:")
    elif result.error:
        st.warning(result.error)
    if result.test_accuracy is not None:
        verb = "Stopped early" if result.state is JobState.STOPPED else "Finished"
        st.success(
            f"{verb}: **{100 * result.test_accuracy:.2f} % test accuracy** (test loss {result.test_loss:.3f}) "
            f"after {epochs_words(epochs_trained(result.epochs))} in {describe_time(result.elapsed_s)} "
            f"on {result.device}.",
            icon=":material/check_circle:",
        )
    batches = job.curves()
    if batches.count:
        curves = curves_from_snapshot("this run", job.snapshot(), batches)
        st.plotly_chart(training_curves_figure([curves]), key="final_curves")
    if result.saved_run_id:
        left, right = st.columns(2)
        left.caption(f"Saved as run `{result.saved_run_id}`; compare it with others on the Runs page.")
        if st.session_state.get(ACTIVE_RUN_KEY) == result.saved_run_id:
            # Made active when it finished (resources.adopt_finished_run).
            right.caption(":material/star: It is the active model: Evaluate, Predict and Inside use it.")
        else:  # another model was picked since, or the sidebar shows another dataset
            right.button(
                "Use this model on the other pages", key="activate_new_run", icon=":material/star:",
                on_click=activate_run, args=(result.saved_run_id,),
            )  # fmt: skip


def regularisation_words(spec: ModelSpec) -> str:
    """ "dropout 0.25, batch norm on": how the page names a model's regularisation, running or about to run."""
    return f"dropout {spec.dropout:g}, batch norm {'on' if spec.batch_norm else 'off'}"


def render() -> None:
    dataset = require_dataset()
    st.title(f"Train a CNN on {dataset.info.display_name}")
    render_server_jobs()
    job = current_job()
    if job is not None and not job.state.is_over:
        st.caption(
            f"Training {job.spec.architecture} ({regularisation_words(job.spec)}) on {dataset.info.display_name}. "
            "You can leave this page: training goes on."
        )
        live_panel(job)
        return
    if job is not None and job.result is not None:
        with st.container(border=True):
            st.subheader("Last run")
            render_finished(job)

    # TensorFlow takes seconds to import: have a training process ready by the time Train is pressed.
    prepare_worker()
    render_settings(dataset)
    try:
        spec, config = read_settings(dataset.name)
    except ValueError as error:
        st.error(f"These settings cannot be used: {error}")
        return
    problem = run_store().write_problem()
    if problem:
        st.error(f"{problem} Training is off until then, so no run is lost at its end.", icon=":material/lock:")
    # The recipe as the server has it, so what Train will run is never a slider still sliding.
    st.caption(f"Train runs {spec.architecture} with {regularisation_words(spec)}, for {config.epochs} epochs.")
    if st.button("Train", type="primary", key="train", icon=":material/play_arrow:", disabled=bool(problem)):
        start_training(dataset, spec, config)
        st.rerun()


render()
