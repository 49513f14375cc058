"""Figures for shipping a model: size beside accuracy per format, and two formats' answers for one image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.export.table import Comparison

# Accuracy bars start this many points below the lowest one: from zero, a 0.2-point loss is invisible.
ACCURACY_FLOOR_POINTS = 2.0


def size_accuracy_figure(comparison: Comparison) -> go.Figure:
    """Two bar charts sharing the format axis: megabytes on the left, test accuracy in % on the right."""
    labels = [row.label for row in comparison.rows]
    sizes = [row.size_bytes / 1e6 for row in comparison.rows]
    accuracies = [100 * row.test_accuracy for row in comparison.rows]
    titles = ("File size (MB)", "Test accuracy (%)")
    figure = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.12)
    figure.add_bar(
        x=labels, y=sizes, name="file size", text=[f"{size:.2f} MB" for size in sizes], textposition="outside",
        marker_color="#4c78a8", hovertemplate="%{x}: %{y:.3f} MB<extra></extra>", row=1, col=1,
    )  # fmt: skip
    figure.add_bar(
        x=labels, y=accuracies, name="test accuracy", text=[f"{value:.2f} %" for value in accuracies],
        textposition="outside", marker_color="#f58518", hovertemplate="%{x}: %{y:.2f} %<extra></extra>", row=1, col=2,
    )  # fmt: skip
    low = max(0.0, min(accuracies) - ACCURACY_FLOOR_POINTS)
    # Headroom above the tallest bar, so its label is not cut off.
    figure.update_yaxes(title_text="MB", range=[0, 1.2 * max(sizes)], row=1, col=1)
    high = min(100.0, max(accuracies) + 0.5 * ACCURACY_FLOOR_POINTS)
    figure.update_yaxes(title_text="%", range=[low, high], row=1, col=2)
    figure.update_layout(showlegend=False, height=380, margin=dict(l=0, r=0, t=40, b=0))
    return figure


def answers_figure(class_names: Sequence[str], keras: np.ndarray, exported: np.ndarray, label: str) -> go.Figure:
    """Keras' and an exported format's probabilities for one image, bar beside bar for every class."""
    names = list(class_names)
    figure = go.Figure()
    for name, probabilities, colour in (("Keras model", keras, "#4c78a8"), (label, exported, "#f58518")):
        figure.add_bar(
            x=probabilities, y=names, orientation="h", name=name, marker_color=colour,
            text=[f"{100 * p:.1f} %" for p in probabilities], textposition="outside",
            hovertemplate=f"{name}: " + "%{y} %{x:.2%}<extra></extra>",
        )  # fmt: skip
    figure.update_xaxes(range=[0, 1.2], tickformat=".0%", title_text="probability")
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_layout(
        barmode="group", height=max(340, 34 * len(names)), margin=dict(l=0, r=0, t=10, b=0),
        legend=dict(orientation="h", y=1.08),
    )  # fmt: skip
    return figure
