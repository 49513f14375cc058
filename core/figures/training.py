"""Plotly figures of training curves: live (one run, redrawn every second) and overlaid (several runs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.curves import SMOOTHING, CurvesView, smooth

TRAIN_COLOUR = "#4C78A8"
# The raw per-batch values are drawn faintly under their smoothed line, as TensorBoard does.
RAW_OPACITY = 0.25
VALIDATION_COLOUR = "#F58518"
EVENT_COLOUR = "#B279A2"
# The live figure's margins in pixels, wide enough for its labels ("100%", "2.5k") and the legend below.
LIVE_MARGIN = dict(l=48, r=8, t=40, b=96, autoexpand=False)
LIVE_TICKS = 6
RUN_COLOURS = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")


@dataclass(frozen=True)
class Curves:
    """The curves of one run, in plain numbers: per-batch training values and per-epoch validation."""

    label: str
    # Training steps (batches), or epochs once `in_epochs` has placed them.
    batch_steps: Sequence[float]
    batch_loss: Sequence[float]
    batch_accuracy: Sequence[float]
    epoch_steps: Sequence[float]
    val_loss: Sequence[float]
    val_accuracy: Sequence[float]
    # (step, text) of each live change.
    events: Sequence[tuple[float, str]] = ()
    # Already smoothed per-batch values, when the source keeps them (a live job does); else smoothed here.
    smoothed_loss: Sequence[float] | None = None
    smoothed_accuracy: Sequence[float] | None = None
    # The share of each epoch trained (EpochRecord.fraction): below 1 for an epoch a stop cut short.
    epoch_fractions: Sequence[float] = ()


def in_epochs(curves: Curves) -> Curves | None:
    """The same curves along epochs instead of batches (None before its first epoch ends, with nothing to place it).

    Runs with different training sets or batch sizes take different numbers of batches per epoch: along
    epochs they line up. Each epoch's batches are spread evenly over it, and an epoch a stop cut short
    ends at its share (2.4, not 3); batches after the last validated one go on at that epoch's pace.
    """
    ends = np.asarray(curves.epoch_steps, dtype=float)
    if not len(ends) or ends[0] <= 0 or np.any(np.diff(ends) <= 0):
        return None
    fractions = np.ones(len(ends))
    fractions[: len(curves.epoch_fractions)] = curves.epoch_fractions[: len(ends)]
    boundaries = np.concatenate([[0.0], ends])
    positions = np.concatenate([[0.0], np.arange(len(ends)) + fractions])
    pace = (boundaries[-1] - boundaries[-2]) / (positions[-1] - positions[-2])  # batches per epoch, at the end

    def place(steps: Sequence[float]) -> list[float]:
        steps = np.asarray(steps, dtype=float)
        epochs = np.interp(steps, boundaries, positions)
        beyond = steps > boundaries[-1]
        epochs[beyond] = positions[-1] + (steps[beyond] - boundaries[-1]) / pace
        return epochs.tolist()

    return replace(
        curves,
        batch_steps=place(curves.batch_steps),
        epoch_steps=place(curves.epoch_steps),
        events=list(zip(place([step for step, _ in curves.events]), [text for _, text in curves.events], strict=True)),
    )


def training_curves_figure(runs: Sequence[Curves], smoothing: float = SMOOTHING, by_epoch: bool = False) -> go.Figure:
    """Loss and accuracy side by side; batches as lines, validation as markers, live changes as dashed lines.

    With `by_epoch` the curves' steps are epochs (`in_epochs`), and the axes and hover text say so. The hover
    box, one per position, heads with the step or epoch and names each run's line beside its value.
    """
    figure = _empty_curves_figure()
    if by_epoch:
        figure.update_xaxes(title_text="epoch", hoverformat=".2f")
    single = len(runs) == 1
    for index, run in enumerate(runs):
        train_colour = TRAIN_COLOUR if single else RUN_COLOURS[index % len(RUN_COLOURS)]
        val_colour = VALIDATION_COLOUR if single else train_colour
        prefix = "" if single else f"{run.label}: "
        pairs = (
            (run.batch_loss, run.smoothed_loss, run.val_loss),
            (run.batch_accuracy, run.smoothed_accuracy, run.val_accuracy),
        )
        for column, (batch_values, smoothed, val_values) in enumerate(pairs, start=1):
            first = column == 1
            value = "%{y:.4f}" if first else "%{y:.2%}"  # the accuracy axis is in percent
            if len(batch_values):
                smoothed = smooth(batch_values, smoothing) if smoothed is None else smoothed
                if single:
                    figure.add_scatter(
                        x=run.batch_steps,
                        y=batch_values,
                        mode="lines",
                        opacity=RAW_OPACITY,
                        showlegend=False,
                        line=dict(color=train_colour, width=1),
                        hoverinfo="skip",
                        row=1,
                        col=column,
                    )
                figure.add_scatter(
                    x=run.batch_steps,
                    y=smoothed,
                    mode="lines",
                    line=dict(color=train_colour, width=2),
                    name=f"{prefix}training (per batch, smoothed)",
                    legendgroup=f"{index}-train",
                    showlegend=first,
                    row=1,
                    col=column,
                    hovertemplate=f"{value}<extra>{prefix}training</extra>",
                )
            if len(val_values):
                figure.add_scatter(
                    x=list(run.epoch_steps),
                    y=list(val_values),
                    mode="lines+markers",
                    line=dict(color=val_colour, width=2, dash="dot" if not single else None),
                    marker=dict(size=8, symbol="diamond"),
                    name=f"{prefix}validation (per epoch)",
                    legendgroup=f"{index}-val",
                    showlegend=first,
                    row=1,
                    col=column,
                    hovertemplate=f"{value}<extra>{prefix}validation</extra>",
                )
        _add_events(figure, run.events)
    return figure


def _empty_curves_figure() -> go.Figure:
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    figure.update_xaxes(title_text="training step (batches)")
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1.01], tickformat=".0%", row=1, col=2)
    figure.update_layout(
        height=380, margin=dict(l=0, r=0, t=40, b=0), legend=dict(orientation="h", y=-0.25), hovermode="x unified"
    )
    return figure


def _by_step(events: Sequence[tuple[float, str]]) -> list[tuple[float, str]]:
    """One label per step: changes to several settings at once would otherwise be drawn over each other."""
    grouped: dict[float, list[str]] = {}
    for step, text in events:
        grouped.setdefault(step, []).append(text)
    return [(step, ", ".join(texts)) for step, texts in grouped.items()]


def _add_events(figure: go.Figure, events: Sequence[tuple[float, str]]) -> None:
    for step, text in _by_step(events):
        for column in (1, 2):
            figure.add_vline(x=step, line=dict(color=EVENT_COLOUR, dash="dash", width=1), row=1, col=column)
        figure.add_annotation(
            x=step,
            y=1.0,
            yref="y2 domain",
            xref="x2",
            text=text,
            showarrow=False,
            textangle=-90,
            xanchor="right",
            yanchor="top",
            font=dict(size=10, color=EVENT_COLOUR),
        )


class LiveCurvesFigure:
    """One job's live curves: laid out once, then each redraw swaps only the data arrays.

    Plotly validates every property it is given: building this figure anew took 33 ms at 1,000
    batch points and 260 ms at 30,000; swapping the arrays of a bounded view takes about 4 ms.
    """

    def __init__(self) -> None:
        self.figure = _empty_curves_figure()
        # Every watching browser redraws this figure whole. Fixed margins spare it measuring each tick
        # label to fit them (and laying out twice when they change), and a few ticks per axis leave
        # fewer labels to place: in Chromium, a redraw took about a third less of Plotly's time.
        self.figure.update_layout(margin=LIVE_MARGIN)
        self.figure.update_xaxes(automargin=False, nticks=LIVE_TICKS)
        self.figure.update_yaxes(automargin=False, nticks=LIVE_TICKS)
        for column in (1, 2):
            self.figure.add_scatter(
                x=[],
                y=[],
                mode="lines",
                opacity=RAW_OPACITY,
                showlegend=False,
                hoverinfo="skip",
                line=dict(color=TRAIN_COLOUR, width=1),
                row=1,
                col=column,
            )
            self.figure.add_scatter(
                x=[],
                y=[],
                mode="lines",
                line=dict(color=TRAIN_COLOUR, width=2),
                showlegend=column == 1,
                name="training (per batch, smoothed)",
                legendgroup="train",
                row=1,
                col=column,
                hovertemplate="step %{x}: %{y:.4f}<extra>training</extra>",
            )
            self.figure.add_scatter(
                x=[],
                y=[],
                mode="lines+markers",
                line=dict(color=VALIDATION_COLOUR, width=2),
                marker=dict(size=8, symbol="diamond"),
                name="validation (per epoch)",
                legendgroup="val",
                showlegend=column == 1,
                row=1,
                col=column,
                hovertemplate="after step %{x}: %{y:.4f}<extra>validation</extra>",
            )
        self._events_drawn: list[tuple[int, str]] = []
        # The subplot titles are annotations too: only what comes after them is redrawn.
        self._titles = len(self.figure.layout.annotations)

    def update(self, curves: Curves) -> go.Figure:
        """The figure showing `curves` (whose batch values are already bounded and smoothed)."""
        columns = (
            (curves.batch_loss, curves.smoothed_loss, curves.val_loss),
            (curves.batch_accuracy, curves.smoothed_accuracy, curves.val_accuracy),
        )
        with self.figure.batch_update():
            for column, (raw, smoothed, validation) in enumerate(columns):
                raw_trace, smoothed_trace, validation_trace = self.figure.data[3 * column : 3 * column + 3]
                raw_trace.x = smoothed_trace.x = curves.batch_steps
                raw_trace.y, smoothed_trace.y = raw, smoothed
                validation_trace.x, validation_trace.y = curves.epoch_steps, validation
        # Live changes are few: draw only the new ones, unless one changed what is drawn (a setting changed
        # again before the next batch, or two settings at one step), which redraws them all.
        events = _by_step(curves.events)
        if events[: len(self._events_drawn)] != self._events_drawn:
            self.figure.layout.shapes = ()
            self.figure.layout.annotations = self.figure.layout.annotations[: self._titles]
            self._events_drawn = []
        _add_events(self.figure, events[len(self._events_drawn) :])
        self._events_drawn = events
        return self.figure


def curves_from_history(label: str, history: dict) -> Curves:
    """Curves of a saved run, from its history.json content."""
    batches = history.get("batches", {})
    epochs = history.get("epochs", [])
    return Curves(
        label=label,
        batch_steps=batches.get("step", []),
        batch_loss=[v if v is not None else np.nan for v in batches.get("loss", [])],
        batch_accuracy=[v if v is not None else np.nan for v in batches.get("accuracy", [])],
        epoch_steps=[e["step"] for e in epochs],
        val_loss=[e["val_loss"] if e["val_loss"] is not None else np.nan for e in epochs],
        val_accuracy=[e["val_accuracy"] if e["val_accuracy"] is not None else np.nan for e in epochs],
        events=[(e["step"], event_label(e["setting"], e["old"], e["new"])) for e in history.get("events", [])],
        # Runs saved before epochs had a share recorded validated whole epochs, or cut one short unrecorded.
        epoch_fractions=[e.get("fraction", 1.0) for e in epochs],
    )


def curves_from_snapshot(label: str, snapshot, batches: CurvesView) -> Curves:
    """Curves of a job in progress, from its latest `Snapshot` and a bounded view of its batches."""
    return Curves(
        label=label,
        batch_steps=batches.steps,
        batch_loss=batches.loss,
        batch_accuracy=batches.accuracy,
        epoch_steps=[e.step for e in snapshot.epochs],
        val_loss=[e.val_loss for e in snapshot.epochs],
        val_accuracy=[e.val_accuracy for e in snapshot.epochs],
        events=[(e.step, event_label(e.setting, e.old, e.new)) for e in snapshot.events],
        smoothed_loss=batches.smoothed_loss,
        smoothed_accuracy=batches.smoothed_accuracy,
        epoch_fractions=[e.fraction for e in snapshot.epochs],
    )


def event_label(setting: str, old: float | str, new: float | str) -> str:
    """'dropout 0.5→0.2', as drawn next to a live change."""
    return f"{setting.replace('_', ' ')} {_number(old)}→{_number(new)}"


def _number(value: float | str) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
