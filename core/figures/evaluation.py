"""Plotly figures for evaluating a model: a clickable confusion matrix and per-class scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.evaluation import ClassScores, row_percentages


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], title: str = "") -> go.Figure:
    """Counts and row percentages on a heatmap coloured by share of the true class; every cell is clickable."""
    names = list(class_names)
    percentages = row_percentages(confusion)
    text = [[f"{count:,}<br>{share:.0f}%" if count else "" for count, share in zip(row, shares, strict=True)]
            for row, shares in zip(confusion, percentages, strict=True)]  # fmt: skip
    figure = go.Figure(
        go.Heatmap(
            z=percentages, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=100,
            customdata=confusion, colorbar=dict(title="% of<br>true class"), hoverinfo="skip",
        )
    )  # fmt: skip
    # Invisible square markers over the cells carry the hover text and make each cell selectable with a click
    # (a heatmap alone cannot be selected).
    true_index, predicted_index = np.meshgrid(range(len(names)), range(len(names)), indexing="ij")
    cells = np.stack([true_index.ravel(), predicted_index.ravel(), confusion.ravel(), percentages.ravel()], axis=1)
    figure.add_scatter(
        x=[names[i] for i in predicted_index.ravel()], y=[names[i] for i in true_index.ravel()], mode="markers",
        marker=dict(symbol="square", size=34, opacity=0.01), showlegend=False, name="cells",
        customdata=cells,
        hovertemplate="true %{y}, predicted %{x}: %{customdata[2]:,} images (%{customdata[3]:.1f} % of %{y})"
                      "<br>click to see them<extra></extra>",
    )  # fmt: skip
    figure.update_yaxes(title_text="true class", autorange="reversed", type="category")
    figure.update_xaxes(title_text="predicted class", type="category", side="bottom")
    figure.update_layout(
        title=title, height=560, margin=dict(l=0, r=0, t=40 if title else 10, b=0), clickmode="event+select"
    )
    return figure


def class_scores_figure(scores: ClassScores, class_names: Sequence[str]) -> go.Figure:
    """Precision, recall and F1 side by side for every class."""
    figure = go.Figure()
    for name, values in (("precision", scores.precision), ("recall", scores.recall), ("F1", scores.f1)):
        figure.add_bar(
            name=name, x=list(class_names), y=values, hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>"
        )
    # Category axis: digit names would otherwise be read as numbers and only every other one labelled.
    figure.update_xaxes(type="category")
    figure.update_layout(barmode="group", yaxis=dict(range=[0, 1.01], tickformat=".0%"), height=320,
                         margin=dict(l=0, r=0, t=10, b=0), legend=dict(orientation="h", y=1.12))  # fmt: skip
    return figure


def drawing_gap_figure(class_names: Sequence[str], test_recall: np.ndarray, drawn_recall: dict[str, np.ndarray]):
    """Per class: the share of test images read right next to the share of each drawn version."""
    figure = go.Figure()
    for name, values in (("test images", test_recall), *drawn_recall.items()):
        figure.add_bar(
            name=name, x=list(class_names), y=values, hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>"
        )
    figure.update_xaxes(type="category")
    figure.update_layout(
        barmode="group", yaxis=dict(range=[0, 1.01], tickformat=".0%", title="read right"), height=340,
        margin=dict(l=0, r=0, t=10, b=0), legend=dict(orientation="h", y=1.12),
    )  # fmt: skip
    return figure
