"""The live training panel: redraws from the job's snapshot every second, and holds the live controls.

It is a fragment, so its reruns (and its widgets) never rerun the rest of the page, and nothing a
user does anywhere interrupts the job: it trains in its own process and only reads messages.
"""

from __future__ import annotations

import streamlit as st

from app_pages.wording import describe_time
from core.figures.training import curves_from_snapshot, training_curves_figure
from core.training import LEARNING_RATE_CHOICES, JobState, Snapshot, TrainingJob

REFRESH_SECONDS = 1.0


def _state_line(snapshot: Snapshot) -> str:
    if snapshot.state is JobState.QUEUED:
        return f"Waiting in the queue: position {snapshot.queue_position or 1}. Another training run is using the CPU."
    epoch = f"epoch {min(snapshot.epoch + 1, snapshot.total_epochs)} of {snapshot.total_epochs}"
    batch = f"batch {snapshot.batch} of {snapshot.batches_per_epoch}"
    return f"{snapshot.state.value.capitalize()}: {epoch}, {batch}"


def render_progress(job: TrainingJob, snapshot: Snapshot) -> None:
    """Progress bar, key numbers and the live curves."""
    st.progress(snapshot.fraction_done, text=_state_line(snapshot))
    speed, eta, elapsed, device = st.columns(4)
    speed.metric("Speed", f"{snapshot.samples_per_second:,.0f} img/s")
    eta.metric("Time left", describe_time(snapshot.eta_s))
    elapsed.metric("Elapsed", describe_time(snapshot.elapsed_s))
    device.metric("Device", snapshot.device or "–")
    if snapshot.batch_steps or snapshot.epochs:
        figure = training_curves_figure([curves_from_snapshot("this run", snapshot)])
        st.plotly_chart(figure, key=f"live_curves_{job.id}")
    if snapshot.events:
        st.caption("Live changes: " + "; ".join(event.describe() for event in snapshot.events))


def render_controls(job: TrainingJob, snapshot: Snapshot) -> None:
    """Stop, pause/resume, and sliders that change the running job from its next batch."""
    stop, pause, _ = st.columns([1, 1, 4])
    if stop.button(
        "Stop", key=f"stop_{job.id}", icon=":material/stop:", help="Stops after this batch; the run is kept."
    ):
        job.stop()
    if snapshot.state is JobState.PAUSED:
        if pause.button("Resume", key=f"resume_{job.id}", icon=":material/play_arrow:"):
            job.resume()
    elif pause.button("Pause", key=f"pause_{job.id}", icon=":material/pause:", disabled=snapshot.state.is_over):
        job.pause()

    dropout, learning_rate, epochs = st.columns(3)
    dropout_key, rate_key, epochs_key = (f"live_{name}_{job.id}" for name in ("dropout", "lr", "epochs"))
    dropout.slider(
        "Dropout rate (live)", 0.0, 0.9, value=float(job.spec.dropout), step=0.05, key=dropout_key,
        on_change=lambda: job.set_dropout(st.session_state[dropout_key]),
        help="Changes every dropout layer from the next batch, without recompiling.",
    )  # fmt: skip
    learning_rate.select_slider(
        "Learning rate (live)", options=LEARNING_RATE_CHOICES,
        value=_nearest(LEARNING_RATE_CHOICES, job.config.learning_rate),
        key=rate_key, format_func=lambda rate: f"{rate:g}",
        on_change=lambda: job.set_learning_rate(st.session_state[rate_key]),
        help="The schedule's peak: the schedule keeps its shape around the new value.",
    )  # fmt: skip
    epochs.number_input(
        "Epochs (live)", min_value=1, max_value=200, value=int(job.config.epochs), key=epochs_key,
        on_change=lambda: job.set_epochs(int(st.session_state[epochs_key])),
        help="Shorten or extend the run; the epoch in progress always finishes.",
    )  # fmt: skip


def _nearest(options: tuple[float, ...], value: float) -> float:
    return min(options, key=lambda option: abs(option - value))


@st.fragment(run_every=REFRESH_SECONDS)
def live_panel(job: TrainingJob) -> None:
    """Redraw the job every second while it runs; hand over to the full page once it is over."""
    snapshot = job.snapshot()
    if snapshot.state.is_over:
        # One full rerun so the page can show the finished run with its results.
        st.rerun(scope="app")
    render_controls(job, snapshot)
    render_progress(job, snapshot)
