"""Plotly figure of an ensemble against its members: test (and drawn) accuracy side by side."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

ENSEMBLE_COLOUR = "#d62728"
MEMBER_COLOUR = "#1f77b4"


def ensemble_accuracy_figure(
    names: Sequence[str], test_accuracy: Sequence[float], drawn_accuracy: Sequence[float | None]
) -> go.Figure:
    """Horizontal bars of test accuracy in percent, the ensemble (first) in its own colour; drawn accuracy
    as a second, lighter bar where it was measured."""
    colours = [ENSEMBLE_COLOUR, *([MEMBER_COLOUR] * (len(names) - 1))]
    figure = go.Figure(
        go.Bar(
            y=list(names), x=[100 * value for value in test_accuracy], orientation="h", name="test images",
            marker_color=colours, text=[f"{100 * value:.2f} %" for value in test_accuracy], textposition="auto",
            hovertemplate="%{y}: %{x:.2f} % on the test images<extra></extra>",
        )
    )  # fmt: skip
    if any(value is not None for value in drawn_accuracy):
        drawn = [None if value is None else 100 * value for value in drawn_accuracy]
        figure.add_bar(
            y=list(names), x=drawn, orientation="h", name="drawn test images", marker_color=colours, opacity=0.45,
            text=[None if value is None else f"{value:.1f} %" for value in drawn], textposition="auto",
            hovertemplate="%{y}: %{x:.1f} % on the drawn test images<extra></extra>",
        )  # fmt: skip
    low = min([100 * value for value in test_accuracy] + [v for v in figure.data[-1].x if v is not None])
    figure.update_xaxes(title_text="accuracy (%)", range=[max(0.0, low - 5), 100])
    figure.update_yaxes(autorange="reversed", type="category")
    # The legend above the bars: below them, a horizontal legend covered the axis title.
    figure.update_layout(
        barmode="group",
        height=110 + 45 * len(names),
        margin=dict(l=0, r=0, t=30, b=0),
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
    )
    return figure
