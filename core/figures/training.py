"""Plotly figures of training curves: live (one run) and overlaid (several runs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN_COLOUR = "#4C78A8"
VALIDATION_COLOUR = "#F58518"
EVENT_COLOUR = "#B279A2"
RUN_COLOURS = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")


@dataclass(frozen=True)
class Curves:
    """The curves of one run, in plain numbers: per-batch training values and per-epoch validation."""

    label: str
    batch_steps: Sequence[int]
    batch_loss: Sequence[float]
    batch_accuracy: Sequence[float]
    epoch_steps: Sequence[int]
    val_loss: Sequence[float]
    val_accuracy: Sequence[float]
    # (step, text) of each live change.
    events: Sequence[tuple[int, str]] = ()


def smooth(values: Sequence[float], weight: float = 0.8) -> np.ndarray:
    """TensorBoard-style exponential smoothing, debiased so the start is not dragged toward zero."""
    smoothed, last = np.empty(len(values)), 0.0
    for index, value in enumerate(values):
        last = weight * last + (1 - weight) * value
        smoothed[index] = last / (1 - weight ** (index + 1))
    return smoothed


def training_curves_figure(runs: Sequence[Curves], smoothing: float = 0.8) -> go.Figure:
    """Loss and accuracy side by side; batches as lines, validation as markers, live changes as dashed lines."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    single = len(runs) == 1
    for index, run in enumerate(runs):
        train_colour = TRAIN_COLOUR if single else RUN_COLOURS[index % len(RUN_COLOURS)]
        val_colour = VALIDATION_COLOUR if single else train_colour
        prefix = "" if single else f"{run.label}: "
        for column, (batch_values, val_values) in enumerate(
            ((run.batch_loss, run.val_loss), (run.batch_accuracy, run.val_accuracy)), start=1
        ):
            first = column == 1
            if len(batch_values):
                figure.add_scatter(
                    x=list(run.batch_steps), y=smooth(batch_values, smoothing), mode="lines",
                    line=dict(color=train_colour, width=2), name=f"{prefix}training (per batch, smoothed)",
                    legendgroup=f"{index}-train", showlegend=first, row=1, col=column,
                    hovertemplate="step %{x}: %{y:.4f}<extra>training</extra>",
                )  # fmt: skip
            if len(val_values):
                figure.add_scatter(
                    x=list(run.epoch_steps), y=list(val_values), mode="lines+markers",
                    line=dict(color=val_colour, width=2, dash="dot" if not single else None),
                    marker=dict(size=8, symbol="diamond"), name=f"{prefix}validation (per epoch)",
                    legendgroup=f"{index}-val", showlegend=first, row=1, col=column,
                    hovertemplate="after step %{x}: %{y:.4f}<extra>validation</extra>",
                )  # fmt: skip
        for step, text in run.events:
            for column in (1, 2):
                figure.add_vline(x=step, line=dict(color=EVENT_COLOUR, dash="dash", width=1), row=1, col=column)
            figure.add_annotation(
                x=step, y=1.0, yref="y2 domain", xref="x2", text=text, showarrow=False, textangle=-90,
                xanchor="right", yanchor="top", font=dict(size=10, color=EVENT_COLOUR),
            )  # fmt: skip
    figure.update_xaxes(title_text="training step (batches)")
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1.01], tickformat=".0%", row=1, col=2)
    figure.update_layout(
        height=380, margin=dict(l=0, r=0, t=40, b=0), legend=dict(orientation="h", y=-0.25), hovermode="x unified"
    )
    return figure


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
    )


def curves_from_snapshot(label: str, snapshot) -> Curves:
    """Curves of a job in progress, from its latest `Snapshot`."""
    return Curves(
        label=label,
        batch_steps=snapshot.batch_steps,
        batch_loss=snapshot.batch_loss,
        batch_accuracy=snapshot.batch_accuracy,
        epoch_steps=[e.step for e in snapshot.epochs],
        val_loss=[e.val_loss for e in snapshot.epochs],
        val_accuracy=[e.val_accuracy for e in snapshot.epochs],
        events=[(e.step, event_label(e.setting, e.old, e.new)) for e in snapshot.events],
    )


def event_label(setting: str, old: float | str, new: float | str) -> str:
    """'dropout 0.5→0.2', as drawn next to a live change."""
    return f"{setting.replace('_', ' ')} {_number(old)}→{_number(new)}"


def _number(value: float | str) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
