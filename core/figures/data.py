"""Plotly figures for looking at a dataset: example grids, class balance, mean images, pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

TRAIN_COLOUR = "#4C78A8"
TEST_COLOUR = "#F58518"


def example_grid_figure(picture: np.ndarray, row_labels: Sequence[str], tile: int = 28) -> go.Figure:
    """A mosaic of 28x28 tiles with a label beside each row (a class name, or 'original')."""
    figure = px.imshow(picture, binary_string=True)
    rows = len(row_labels)
    figure.update_yaxes(
        tickmode="array",
        tickvals=[tile * row + tile / 2 for row in range(rows)],
        ticktext=list(row_labels),
        showgrid=False,
    )
    figure.update_xaxes(visible=False)
    figure.update_traces(hoverinfo="skip", hovertemplate=None)
    figure.update_layout(margin=dict(l=0, r=0, t=10, b=0), height=max(260, 34 * rows))
    return figure


def class_distribution_figure(
    train_counts: np.ndarray, test_counts: np.ndarray, class_names: Sequence[str]
) -> go.Figure:
    """Grouped bars of examples per class in train and test, with shares on hover."""
    figure = go.Figure()
    for split, counts, colour in (("Train", train_counts, TRAIN_COLOUR), ("Test", test_counts, TEST_COLOUR)):
        shares = 100 * counts / max(counts.sum(), 1)
        figure.add_bar(
            name=split,
            x=list(class_names),
            y=counts,
            marker_color=colour,
            customdata=shares,
            hovertemplate="%{x}: %{y:,} images (%{customdata:.1f} %)<extra>" + split + "</extra>",
        )
    figure.update_layout(
        barmode="group",
        yaxis_title="images",
        legend=dict(orientation="h", y=1.1),
        margin=dict(l=0, r=0, t=30, b=0),
        height=320,
    )
    return figure


def mean_images_figure(means: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """The average image of each class, five to a row, titled by class."""
    figure = px.imshow(np.clip(means, 0, 255).astype(np.uint8), facet_col=0, facet_col_wrap=5, binary_string=True)
    for annotation in figure.layout.annotations:
        index = int(annotation.text.split("=")[-1])
        annotation.text = class_names[index]
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(margin=dict(l=0, r=0, t=30, b=0), height=330)
    return figure


def pixel_histogram_figure(histogram: np.ndarray) -> go.Figure:
    """How often each pixel intensity occurs, on a log scale so the rare middle greys show."""
    figure = go.Figure(
        go.Bar(
            x=np.arange(len(histogram)),
            y=histogram,
            marker_color=TRAIN_COLOUR,
            hovertemplate="intensity %{x}: %{y:,} pixels<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis_title="pixel intensity (0 = black background, 255 = full ink)",
        yaxis_title="pixels (log scale)",
        yaxis_type="log",
        bargap=0,
        margin=dict(l=0, r=0, t=10, b=0),
        height=300,
    )
    return figure


def image_figure(image: np.ndarray, title: str = "") -> go.Figure:
    """One 28x28 image as a heatmap whose hover shows each pixel's raw 0-255 value."""
    figure = go.Figure(
        go.Heatmap(
            z=image,
            colorscale="gray",
            zmin=0,
            zmax=255,
            showscale=False,
            hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showgrid=False)
    figure.update_xaxes(constrain="domain", showgrid=False)
    figure.update_layout(title=title, margin=dict(l=0, r=0, t=40 if title else 10, b=0), height=360)
    return figure
