"""Curves: smoothing matches TensorBoard's, a live redraw stays bounded, and saved runs line up by epoch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.io
import pytest

from app_pages.live_panel import (
    IDLE_REFRESH_SECONDS,
    MAX_REFRESH_SECONDS,
    REFRESH_SECONDS,
    refresh_interval,
    state_line,
)
from core.curves import LIVE_POINTS, BatchCurves, min_max_indices, smooth
from core.figures.training import Curves, LiveCurvesFigure, curves_from_snapshot, in_epochs, training_curves_figure
from core.training import JobState
from core.training.progress import EpochRecord, Event, ProgressRecord


def tensorboard_smoothing(values, weight=0.8):
    """The reference: TensorBoard's debiased exponential moving average, one value at a time."""
    smoothed, last, seen = [], 0.0, 0
    for value in values:
        if not np.isfinite(value):
            smoothed.append(np.nan)
            continue
        seen += 1
        last = weight * last + (1 - weight) * value
        smoothed.append(last / (1 - weight**seen))
    return np.array(smoothed)


def test_vectorised_and_incremental_smoothing_both_match_the_reference():
    values = np.random.default_rng(0).normal(1.0, 0.3, 500)
    values[[7, 200]] = np.nan
    reference = tensorboard_smoothing(values)
    np.testing.assert_allclose(smooth(values), reference, equal_nan=True)
    curves = BatchCurves()
    for step, value in enumerate(values, start=1):
        curves.add(step, value, 0.5)
    np.testing.assert_allclose(curves.view(len(values)).smoothed_loss, reference, equal_nan=True)


def test_downsampling_keeps_every_stretchs_extremes_and_both_ends():
    values = np.random.default_rng(1).uniform(0.4, 0.6, 50_000)
    values[12_345], values[40_000] = 9.0, -3.0  # a spike and a dip a 50-fold stride would miss
    chosen = min_max_indices(values, 1_000)
    assert len(chosen) <= 1_000 and np.all(np.diff(chosen) > 0)
    assert {0, 12_345, 40_000, 49_999} <= set(chosen.tolist())


def test_a_live_figure_of_50000_batches_draws_at_most_the_budget():
    progress = ProgressRecord()
    rng = np.random.default_rng(2)
    for step in range(1, 50_001):
        progress.add_batch(step, float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.2, 1.0)))
    progress.add_epoch(EpochRecord(0, 50_000, 0.5, 0.8, 0.6, 0.75, 1e-3, 60.0))
    view = progress.curves()
    assert view.count == 50_000 and len(view.steps) <= LIVE_POINTS
    figure = LiveCurvesFigure().update(curves_from_snapshot("run", progress.snapshot(), view))
    batch_traces = [trace for trace in figure.data if trace.mode == "lines"]
    assert len(batch_traces) == 4 and all(len(trace.x) <= LIVE_POINTS for trace in batch_traces)
    # What is sent to the browser is bounded too: 4 curves of <= 1,000 points plus validation.
    assert len(plotly.io.to_json(figure, validate=False)) < 200_000


def test_the_live_figure_is_laid_out_once_and_only_new_events_are_added():
    progress = ProgressRecord()
    for step in range(1, 11):
        progress.add_batch(step, 1.0 / step, step / 10)
    progress.add_event(Event(step=5, epoch=0, setting="dropout", old=0.25, new=0.5, elapsed_s=1.0))
    live = LiveCurvesFigure()
    first = live.update(curves_from_snapshot("run", progress.snapshot(), progress.curves()))
    assert len(first.layout.shapes) == 2  # one dashed line on each chart
    progress.add_batch(11, 0.09, 0.95)
    second = live.update(curves_from_snapshot("run", progress.snapshot(), progress.curves()))
    assert first is second and list(second.data[1].x) == list(range(1, 12))
    assert len(second.layout.shapes) == 2, "an event already drawn is not drawn again"
    progress.add_event(Event(step=11, epoch=0, setting="learning_rate", old=1e-3, new=5e-4, elapsed_s=2.0))
    third = live.update(curves_from_snapshot("run", progress.snapshot(), progress.curves()))
    assert len(third.layout.shapes) == 4


@pytest.mark.parametrize(
    ("state", "redraw_s", "current", "expected"),
    [
        (JobState.RUNNING, 0.02, REFRESH_SECONDS, REFRESH_SECONDS),  # cheap: about every second
        (JobState.RUNNING, 0.15, REFRESH_SECONDS, 2.0),  # slow: back off
        (JobState.RUNNING, 5.0, REFRESH_SECONDS, MAX_REFRESH_SECONDS),  # never slower than the cap
        (JobState.RUNNING, 0.15, 2.0, 2.0),  # no flip-flop just under the limit
        (JobState.RUNNING, 0.02, 8.0, REFRESH_SECONDS),  # cheap again: back to every second
        (JobState.QUEUED, 0.02, REFRESH_SECONDS, IDLE_REFRESH_SECONDS),
        (JobState.PAUSED, 0.02, REFRESH_SECONDS, IDLE_REFRESH_SECONDS),
    ],
)
def test_the_refresh_interval_backs_off_when_slow_or_idle(state, redraw_s, current, expected):
    assert refresh_interval(state, redraw_s, current) == expected


def test_a_setting_changed_step_by_step_before_the_next_batch_is_logged_and_drawn_as_one_change():
    progress = ProgressRecord()
    progress.add_batch(1, 1.0, 0.1)
    live = LiveCurvesFigure()
    for old, new in ((0.15, 0.2), (0.2, 0.25), (0.25, 0.3)):  # a slider's arrow key pressed three times
        progress.add_event(Event(step=1, epoch=0, setting="dropout", old=old, new=new, elapsed_s=1.0))
        figure = live.update(curves_from_snapshot("run", progress.snapshot(), progress.curves()))
    (event,) = progress.snapshot().events
    assert (event.old, event.new) == (0.15, 0.3)
    labels = [annotation.text for annotation in figure.layout.annotations if "→" in annotation.text]
    assert labels == ["dropout 0.15→0.3"] and len(figure.layout.shapes) == 2
    progress.add_event(Event(step=1, epoch=0, setting="learning_rate", old=1e-3, new=5e-4, elapsed_s=1.0))
    figure = live.update(curves_from_snapshot("run", progress.snapshot(), progress.curves()))
    labels = [annotation.text for annotation in figure.layout.annotations if "→" in annotation.text]
    assert labels == ["dropout 0.15→0.3, learning rate 0.001→0.0005"] and len(figure.layout.shapes) == 2
    assert [annotation.text for annotation in figure.layout.annotations][:2] == ["Loss", "Accuracy"]
    # Moved back: dropout's old rate is read back rounded, the slider's new one is a float sum.
    progress.add_event(Event(step=1, epoch=0, setting="dropout", old=0.3, new=0.05 + 0.1, elapsed_s=1.0))
    progress.add_batch(2, 0.9, 0.2)
    progress.add_event(Event(step=2, epoch=0, setting="dropout", old=0.15, new=0.5, elapsed_s=2.0))
    assert [(e.setting, e.step, e.old, e.new) for e in progress.snapshot().events] == [
        ("learning_rate", 1, 1e-3, 5e-4),
        ("dropout", 2, 0.15, 0.5),
    ]


def test_runs_with_different_batches_per_epoch_line_up_along_epochs():
    # 40 batches per epoch, stopped (and validated) halfway through the third.
    curves = Curves(
        label="run", batch_steps=[20, 40, 80, 90, 100], batch_loss=[1.0] * 5, batch_accuracy=[0.5] * 5,
        epoch_steps=[40, 80, 100], val_loss=[1.0] * 3, val_accuracy=[0.5] * 3, events=[(80, "dropout 0.5→0.2")],
        epoch_fractions=[1.0, 1.0, 0.5],
    )  # fmt: skip
    placed = in_epochs(curves)
    assert placed.batch_steps == pytest.approx([0.5, 1.0, 2.0, 2.25, 2.5])
    assert placed.epoch_steps == pytest.approx([1.0, 2.0, 2.5])  # its last point is at 2.5 epochs, not 3
    assert placed.events == [(pytest.approx(2.0), "dropout 0.5→0.2")]
    # A run saved before shares were recorded counts each validated epoch whole; batches after it keep its pace.
    older = in_epochs(replace(curves, batch_steps=[20, 100, 120], epoch_fractions=()))
    assert older.epoch_steps == pytest.approx([1.0, 2.0, 3.0]) and older.batch_steps == pytest.approx([0.5, 3.0, 4.0])
    other = in_epochs(
        replace(curves, batch_steps=[10, 20], epoch_steps=[20], val_loss=[1.0], val_accuracy=[0.5], epoch_fractions=[1])
    )
    assert other.epoch_steps == placed.epoch_steps[:1]  # a run with half the batches ends its epoch at the same x
    figure = training_curves_figure([placed, other], by_epoch=True)
    assert figure.layout.xaxis.title.text == "epoch" and figure.layout.xaxis.hoverformat == ".2f"
    # Each line of the hover box names its run, and accuracy reads in percent like its axis.
    accuracy = [trace for trace in figure.data if trace.xaxis == "x2" and "validation" in trace.name]
    assert accuracy[0].hovertemplate == "%{y:.2%}<extra>run: validation</extra>"
    # Before its first epoch ends a run has nothing to place its batches by.
    assert in_epochs(replace(curves, epoch_steps=[], val_loss=[], val_accuracy=[])) is None


def test_the_progress_line_says_starting_until_the_first_batch_gives_the_epochs_size():
    progress = ProgressRecord()
    progress.update(state=JobState.RUNNING, total_epochs=3)
    assert state_line(progress.snapshot()).endswith(", starting")  # not "batch 0 of 0"
    progress.update(batch=6, batches_per_epoch=29)
    assert state_line(progress.snapshot()).endswith(", batch 6 of 29")
