"""Plotly figures for looking inside a model: feature-map mosaics, embeddings, calibration, robustness, MC dropout."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.insight.uncertainty import Calibration, MonteCarloPrediction

PALETTE = ["#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC"]
USER_COLOUR = "#000000"


def mosaic_figure(picture: np.ndarray, tiles: np.ndarray, name: str, title: str, diverging: bool = False) -> go.Figure:
    """A tiled mosaic (NaN gaps) as a square-pixel heatmap; hovering a tile says which `name` it is."""
    labels = np.where(tiles >= 0, np.char.add(f"{name} ", tiles.astype(str)), "")
    figure = go.Figure(
        go.Heatmap(
            z=picture, customdata=labels, colorscale="RdBu_r" if diverging else "Viridis", showscale=False,
            hovertemplate="%{customdata}<extra></extra>", hoverongaps=False,
        )
    )  # fmt: skip
    figure.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    figure.update_xaxes(visible=False, constrain="domain")
    height = int(min(620, max(220, 480 * picture.shape[0] / max(picture.shape[1], 1))))
    figure.update_layout(title=title, height=height, margin=dict(l=0, r=0, t=36, b=0), plot_bgcolor="white")
    return figure


def thumbnail_uri(image: np.ndarray) -> str:
    """A 28x28 uint8 image as a PNG data URI, for pictures placed inside a figure."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def embedding_figure(
    points: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    class_names: Sequence[str],
    *,
    user_point: np.ndarray | None = None,
    neighbour_points: np.ndarray | None = None,
    thumbnails: Mapping[int, np.ndarray] | None = None,
) -> go.Figure:
    """Test images in 2-D, one colour per true class; the user's input as a star, its neighbours ringed.

    Each point's customdata is its index in `points`, so a selection can open the images behind it.
    `thumbnails` (index -> image) are drawn at their points, since hover labels cannot show images.
    """
    figure = go.Figure()
    for class_index, name in enumerate(class_names):
        members = np.flatnonzero(labels == class_index)
        hover = [f"#{i} {name}" + ("" if predictions[i] == class_index else f" · {class_names[predictions[i]]}?")
                 for i in members]  # fmt: skip
        figure.add_scattergl(
            x=points[members, 0], y=points[members, 1], mode="markers", name=name, customdata=members,
            marker=dict(size=6, color=PALETTE[class_index % len(PALETTE)], opacity=0.75,
                        line=dict(width=[1.5 if predictions[i] != class_index else 0 for i in members], color="black")),
            text=hover, hovertemplate="%{text}<extra></extra>",
        )  # fmt: skip
    spread = float(np.ptp(points, axis=0).max()) or 1.0
    for index, image in (thumbnails or {}).items():
        figure.add_layout_image(
            source=thumbnail_uri(image), x=points[index, 0], y=points[index, 1], xref="x", yref="y",
            sizex=spread / 25, sizey=spread / 25, xanchor="center", yanchor="middle", layer="above", opacity=0.9,
        )  # fmt: skip
    if neighbour_points is not None and len(neighbour_points):
        figure.add_scatter(
            x=neighbour_points[:, 0], y=neighbour_points[:, 1], mode="markers", name="nearest to your input",
            marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(width=2, color=USER_COLOUR)), hoverinfo="skip",
        )  # fmt: skip
    if user_point is not None:
        figure.add_scatter(
            x=user_point[:, 0], y=user_point[:, 1], mode="markers", name="your input",
            marker=dict(symbol="star", size=22, color="#FFD400", line=dict(width=2, color=USER_COLOUR)),
            hovertemplate="your input<extra></extra>",
        )  # fmt: skip
    figure.update_xaxes(showticklabels=False, title_text="")
    figure.update_yaxes(showticklabels=False, title_text="", scaleanchor="x")
    figure.update_layout(height=600, margin=dict(l=0, r=0, t=10, b=0), legend=dict(itemsizing="constant"),
                         dragmode="lasso", clickmode="event+select")  # fmt: skip
    return figure


def reliability_figure(calibrations: Mapping[str, Calibration]) -> go.Figure:
    """Accuracy against confidence per bin for each model; the diagonal is perfect calibration."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                       line=dict(dash="dash", color="grey"), hoverinfo="skip")  # fmt: skip
    for index, (label, result) in enumerate(calibrations.items()):
        used = result.counts > 0
        figure.add_scatter(
            x=result.confidence[used], y=result.accuracy[used], mode="lines+markers",
            name=f"{label} (ECE {100 * result.expected_calibration_error:.2f} %)",
            marker=dict(size=np.clip(4 + 3 * np.log1p(result.counts[used]), 6, 22), color=PALETTE[index % 10]),
            customdata=result.counts[used],
            hovertemplate="said %{x:.1%} sure, right %{y:.1%} of %{customdata:,} times<extra></extra>",
        )  # fmt: skip
    figure.update_xaxes(range=[0, 1.02], tickformat=".0%", title_text="confidence (top class probability)")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="accuracy")
    figure.update_layout(height=460, margin=dict(l=0, r=0, t=10, b=0), legend=dict(y=0.02, x=0.98,
                         xanchor="right", yanchor="bottom"))  # fmt: skip
    return figure


def mc_dropout_figure(result: MonteCarloPrediction, plain: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Mean probability per class over the passes, with a bar for +-1 standard deviation; the plain answer as dots."""
    figure = go.Figure()
    figure.add_bar(
        x=list(class_names), y=result.mean, name="mean of the passes", marker_color=PALETTE[0],
        error_y=dict(type="data", array=result.spread, visible=True, thickness=2, width=8),
        hovertemplate="%{x}: %{y:.1%} ± %{error_y.array:.1%}<extra></extra>",
    )  # fmt: skip
    figure.add_scatter(x=list(class_names), y=plain, mode="markers", name="dropout off (the usual answer)",
                       marker=dict(symbol="diamond", size=10, color=PALETTE[1]))  # fmt: skip
    figure.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text="probability")
    figure.update_xaxes(type="category")
    figure.update_layout(height=360, margin=dict(l=0, r=0, t=10, b=0), legend=dict(orientation="h", y=1.1))
    return figure


def robustness_figure(
    values: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str], knob_label: str, current: float
) -> go.Figure:
    """Each class's probability as one knob turns; the classes that ever lead are drawn bold."""
    leaders = set(probabilities.argmax(axis=1).tolist())
    figure = go.Figure()
    for index, name in enumerate(class_names):
        lead = index in leaders
        figure.add_scatter(
            x=values, y=probabilities[:, index], mode="lines+markers" if lead else "lines", name=name,
            line=dict(width=3 if lead else 1, color=PALETTE[index % 10]), opacity=1.0 if lead else 0.35,
            hovertemplate=f"{name}: %{{y:.1%}} at %{{x:g}}<extra></extra>",
        )  # fmt: skip
    figure.add_vline(x=current, line=dict(dash="dot", color="black"), annotation_text="now")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="probability")
    figure.update_xaxes(title_text=knob_label)
    figure.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0))
    return figure
