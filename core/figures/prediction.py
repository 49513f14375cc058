"""Plotly figure of what a model thinks of one image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

TOP_COLOUR = "#F58518"
OTHER_COLOUR = "#4C78A8"


def probability_figure(probabilities: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """One horizontal bar per class, the model's answer highlighted."""
    best = int(np.argmax(probabilities))
    colours = [TOP_COLOUR if index == best else OTHER_COLOUR for index in range(len(class_names))]
    figure = go.Figure(
        go.Bar(
            x=probabilities, y=list(class_names), orientation="h", marker_color=colours,
            text=[f"{100 * p:.1f} %" for p in probabilities], textposition="outside",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )  # fmt: skip
    figure.update_xaxes(range=[0, 1.15], tickformat=".0%", title_text="probability")
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_layout(height=340, margin=dict(l=0, r=0, t=10, b=0))
    return figure
