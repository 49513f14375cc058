"""The live training panel: redraws from the job's snapshot about every second, and holds the live controls.

It is two fragments, so its reruns (and its widgets) never rerun the rest of the page, and nothing
a user does anywhere interrupts the job: it trains in its own process and only reads messages. The
controls are one fragment, redrawn when used; the numbers and curves are the other, redrawn every
second, which draws the whole page again when the run was paused or resumed elsewhere.
Every watching tab pays for its redraws, on the server and in its browser, so a redraw is bounded
(a fixed number of points, a figure laid out once, few elements: with two tabs watching, moving the
controls out and showing the numbers as one line instead of four metric tiles took Chromium from
0.44-0.46 to 0.36-0.38 of a core), skipped when nothing new has arrived, and less frequent when it
is slow or there is nothing to watch. The curves redraw less often than the numbers: each
chart redraw costs the watching browser about 0.17 s of CPU, whatever the number of points, so on
a laptop that trains and watches at once a chart redrawn every second slows its own training
(bench/load_under_training.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.wording import describe_time
from core.access import Action, allows
from core.figures.training import LiveCurvesFigure, curves_from_snapshot
from core.training import LEARNING_RATE_CHOICES, JobState, Snapshot, TrainingJob
from core.training.config import MAX_EPOCHS

REFRESH_SECONDS = 1.0
# The curves change at most this often: with two tabs watching on 2 cores, Chromium used 0.26 of a
# core per tab with the chart redrawn every second and 0.13 with it redrawn every 3 seconds.
CURVES_SECONDS = 3.0
MAX_REFRESH_SECONDS = 8.0
# Queued or paused, nothing moves: look less often.
IDLE_REFRESH_SECONDS = 4.0
# A redraw may use at most this share of its interval: one watching tab, at most a tenth of a core.
REDRAW_SHARE = 0.1
# How much each new redraw time moves the running estimate (one slow redraw must not double the interval).
REDRAW_TIME_WEIGHT = 0.3


def refresh_interval(state: JobState, redraw_s: float, current: float) -> float:
    """Seconds until the next redraw: doubles while a redraw is slow, halves again once it is cheap."""
    if state in (JobState.QUEUED, JobState.PAUSED):
        return IDLE_REFRESH_SECONDS
    interval = current
    while interval < MAX_REFRESH_SECONDS and redraw_s > REDRAW_SHARE * interval:
        interval *= 2
    # Halve only well below the limit, so the interval does not flip back and forth.
    while interval > REFRESH_SECONDS and redraw_s < REDRAW_SHARE * interval / 4:
        interval /= 2
    return interval


@dataclass
class LiveDrawing:
    """What one session's panel keeps between redraws of one job."""

    figure: LiveCurvesFigure = field(default_factory=LiveCurvesFigure)
    drawn_revision: int = -1
    drawn_at: float = float("-inf")
    redraw_s: float = 0.0
    interval: float = REFRESH_SECONDS
    # Whether the controls were last drawn for a run asked to pause (None: not drawn yet).
    controls_paused: bool | None = None

    def note_redraw(self, seconds: float) -> None:
        self.redraw_s += REDRAW_TIME_WEIGHT * (seconds - self.redraw_s)


def state_line(snapshot: Snapshot) -> str:
    if snapshot.state is JobState.QUEUED:
        return f"Waiting in the queue: position {snapshot.queue_position or 1}. Another training run is using the CPU."
    # Until the first batch is reported the epoch's size is unknown: "batch 0 of 0" said nothing.
    batch = f"batch {snapshot.batch} of {snapshot.batches_per_epoch}" if snapshot.batches_per_epoch else "starting"
    return f"{snapshot.state.value.capitalize()}: {snapshot.epoch_words}, {batch}"


def _numbers_line(snapshot: Snapshot) -> str:
    """Speed, time left, time taken and device, in one line."""
    # Paused, nothing moves: the speed of the last batch before the pause would say it still trains.
    speed = "–" if snapshot.state is JobState.PAUSED else f"{snapshot.samples_per_second:,.0f}"
    return (
        f"**{speed}** images/s · **{describe_time(snapshot.eta_s)}** left · "
        f"**{describe_time(snapshot.elapsed_s)}** elapsed · on {snapshot.device or '–'}"
    )


def render_progress(snapshot: Snapshot) -> None:
    """Progress bar, key numbers and live changes."""
    st.progress(snapshot.fraction_done, text=state_line(snapshot))
    st.markdown(_numbers_line(snapshot))
    if snapshot.events:
        st.caption("Live changes: " + "; ".join(event.describe() for event in snapshot.events))


def render_curves(job: TrainingJob, snapshot: Snapshot, drawing: LiveDrawing) -> None:
    """The live loss and accuracy curves, rebuilt when something new has arrived, at most every few seconds."""
    if not (snapshot.step or snapshot.epochs):
        return
    now = time.monotonic()
    if drawing.drawn_revision != snapshot.revision and now - drawing.drawn_at >= CURVES_SECONDS:
        drawing.figure.update(curves_from_snapshot("this run", snapshot, job.curves()))
        drawing.drawn_revision, drawing.drawn_at = snapshot.revision, now
    # Unchanged, the same figure serialises to the same message, which Streamlit sends as a reference.
    st.plotly_chart(drawing.figure.figure, key=f"live_curves_{job.id}")


def render_controls(job: TrainingJob, drawing: LiveDrawing) -> None:
    """Stop, pause/resume, and sliders that change the running job from its next batch (its owner's only)."""
    snapshot = job.snapshot()
    # Drawn from the request, not the run's state: the run pauses only at its next batch.
    drawing.controls_paused = job.pause_requested
    caller = current_caller()
    if not allows(caller, Action.CONTROL, job.owner):
        st.caption("This run belongs to another session: only it, or an admin, can stop or change it.")
        return
    stop, pause, _ = st.columns([1, 1, 4])
    if stop.button(
        "Stop", key=f"stop_{job.id}", icon=":material/stop:", help="Stops after this batch; the run is kept."
    ):
        job.stop(by=caller)
    # Callbacks run before the fragment redraws itself, so the button it then draws is already the other one.
    if drawing.controls_paused:
        pause.button(
            "Resume", key=f"resume_{job.id}", icon=":material/play_arrow:", on_click=lambda: job.resume(by=caller)
        )
    else:
        pause.button(
            "Pause", key=f"pause_{job.id}", icon=":material/pause:", disabled=snapshot.state.is_over,
            on_click=lambda: job.pause(by=caller),
        )  # fmt: skip

    dropout, learning_rate, epochs = st.columns(3)
    dropout_key, rate_key, epochs_key = (f"live_{name}_{job.id}" for name in ("dropout", "lr", "epochs"))
    dropout.slider(
        "Dropout rate (live)", 0.0, 0.9, value=float(job.spec.dropout), step=0.05, key=dropout_key,
        on_change=lambda: job.set_dropout(st.session_state[dropout_key], by=caller),
        help="Changes every dropout layer from the next batch, without recompiling.",
    )  # fmt: skip
    learning_rate.select_slider(
        "Learning rate (live)", options=LEARNING_RATE_CHOICES,
        value=_nearest(LEARNING_RATE_CHOICES, job.config.learning_rate),
        key=rate_key, format_func=lambda rate: f"{rate:g}",
        on_change=lambda: job.set_learning_rate(st.session_state[rate_key], by=caller),
        help="The schedule's peak: the schedule keeps its shape around the new value.",
    )  # fmt: skip
    epochs.number_input(
        "Epochs (live)", min_value=1, max_value=MAX_EPOCHS, value=int(job.config.epochs), key=epochs_key,
        on_change=lambda: job.set_epochs(int(st.session_state[epochs_key]), by=caller),
        help="Shorten or extend the run; the epoch in progress always finishes.",
    )  # fmt: skip


def _nearest(options: tuple[float, ...], value: float) -> float:
    return min(options, key=lambda option: abs(option - value))


def _redraw(job: TrainingJob, drawing: LiveDrawing) -> None:
    """One redraw of the panel; hands over to the full page once the job is over."""
    started = time.perf_counter()
    snapshot = job.snapshot()
    if snapshot.state.is_over:
        # One full rerun so the page can show the finished run with its results.
        st.rerun(scope="app")
    render_progress(snapshot)
    render_curves(job, snapshot, drawing)
    drawing.note_redraw(time.perf_counter() - started)
    interval = refresh_interval(snapshot.state, drawing.redraw_s, drawing.interval)
    # A fragment's interval is set when the page draws it, and the controls show Pause or Resume as
    # they were drawn: when either is out of date (paused from another tab, say), draw the page again.
    if interval != drawing.interval or job.pause_requested != drawing.controls_paused:
        drawing.interval = interval
        st.rerun(scope="app")


def live_panel(job: TrainingJob) -> None:
    """Redraw the job about every second while it runs (less often when that is slow, or nothing moves)."""
    drawing = st.session_state.setdefault(f"live_drawing_{job.id}", LiveDrawing())
    # The controls are a fragment of their own, redrawn when used, not every second with the numbers.
    st.fragment(render_controls)(job, drawing)
    st.fragment(_redraw, run_every=drawing.interval)(job, drawing)
