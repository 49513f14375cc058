"""The Inside page's views of one input: feature maps, heatmaps, Monte-Carlo dropout and calibration, robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.insight_cache import (
    cached_feature_maps,
    class_heatmap,
    enlarge,
    heatmap_methods,
    mc_model,
    robustness_sweep,
)
from app_pages.resources import ChosenModel, run_evaluation, run_store, test_set_evaluation
from app_pages.wording import percent_column
from core.datasets import Dataset
from core.figures.insight import mc_dropout_figure, mosaic_figure, reliability_figure, robustness_figure
from core.insight.feature_maps import first_layer_filters, mosaic
from core.insight.probes import ensemble_members
from core.insight.robustness import SWEEPS, Perturbation, perturb
from core.insight.saliency import heat_colours, overlay
from core.insight.uncertainty import calibration, dropout_rates, mc_dropout, plain_probabilities
from core.runs.store import RunStoreError
from core.runs.summary import distinct_labels


def render_feature_maps(dataset: Dataset, chosen: ChosenModel, image: np.ndarray) -> None:
    maps = cached_feature_maps(chosen.key, chosen.model, image)
    if not maps:
        st.info("This model has no convolutional layers (it sees the image as one long row of pixels), "
                "so it has no feature maps. Train a CNN to see them.")  # fmt: skip
        return
    st.caption(
        "Each square is one channel of a convolution's output for this input, scaled on its own: bright where "
        "the filter found its pattern. Early layers find edges and strokes; later ones, parts."
    )
    filters = first_layer_filters(chosen.model)
    picture, tiles = mosaic(filters)
    side = filters.shape[1]
    st.plotly_chart(mosaic_figure(picture, tiles, "filter", f"First layer's {len(filters)} filters ({side}x{side})",
                                  diverging=True), key="first_filters")  # fmt: skip
    for number, layer in enumerate(maps):
        height, width, channels = layer.shape
        picture, tiles = mosaic(np.moveaxis(layer.maps, -1, 0))
        title = f"{layer.layer}: {height} x {width} x {channels} channels"
        st.plotly_chart(mosaic_figure(picture, tiles, "channel", title), key=f"feature_map_{number}")


def render_heatmaps(dataset: Dataset, chosen: ChosenModel, image: np.ndarray) -> None:
    probabilities = chosen.predictor.probabilities(image)
    names = dataset.class_names
    order = [int(i) for i in np.argsort(probabilities)[::-1]]
    left, right = st.columns(2)
    target = left.selectbox("Evidence for the class", order, key="heatmap_class",
                            format_func=lambda i: f"{names[i]} ({100 * probabilities[i]:.1f} %)")  # fmt: skip
    methods = heatmap_methods(chosen.model)
    method = right.radio("Method", methods, key="heatmap_method", horizontal=True)
    if len(methods) == 1:
        right.caption("This model has no convolutions, so there is no feature map for HiResCAM or Grad-CAM.")
    heatmap = class_heatmap(chosen.key, chosen.model, image, target, method)
    columns = st.columns(3)
    columns[0].image(enlarge(image), caption="input", width=224)
    columns[1].image(enlarge(heat_colours(heatmap)), caption=f"{method} for {names[target]}", width=224)
    columns[2].image(enlarge(overlay(image, heatmap)), caption="laid over the input", width=224)
    st.caption(
        "**HiResCAM** multiplies the last feature map by its gradient position by position: only places that "
        "raise the class's score light up. **Grad-CAM** weighs whole channels, so it also lights places where a "
        "useful channel fires but the model does not look. **Gradient saliency** shows which single pixels would "
        "change the score most. Pick another class to see what speaks for it."
    )


def render_uncertainty(dataset: Dataset, chosen: ChosenModel, image: np.ndarray) -> None:
    st.subheader("Monte-Carlo dropout on this input")
    rates = dropout_rates(chosen.model)
    passes = st.slider("Stochastic passes", 10, 200, 50, step=10, key="mc_passes")
    result = mc_dropout(mc_model(chosen.key, chosen.model), image, passes)
    plain = plain_probabilities(chosen.model, image)
    st.plotly_chart(mc_dropout_figure(result, plain, dataset.class_names), key="mc_dropout")
    if ensemble_members(chosen.model):
        st.caption("This is an ensemble: the passes and the dots are its first member's, with and without "
                   "dropout; the ensemble's own answer averages all its members.")  # fmt: skip
    if not any(rates):
        st.info("This model has no active dropout, so every pass gives the same answer and the spread is zero. "
                "Train with dropout to see it.")  # fmt: skip
    else:
        st.caption(f"Dropout kept on at rates {', '.join(f'{r:g}' for r in rates)}: {passes} passes agree on the top "
                   f"class {100 * result.agreement:.0f} % of the time. Wide bars mean the answer depends on "
                   "which units happen to be dropped: the model is unsure.")  # fmt: skip
    st.subheader("Calibration on the test set")
    render_calibration(dataset, chosen)


def render_calibration(dataset: Dataset, chosen: ChosenModel) -> None:
    runs = [run for run in run_store().list_runs() if run.complete and run.dataset == dataset.name]
    labels = distinct_labels(runs)
    compared = st.multiselect("Compare with runs (for example, different dropout)", list(labels),
                              format_func=labels.get, key="calibration_runs", max_selections=4)  # fmt: skip
    evaluations = {"this model": test_set_evaluation(chosen.key, dataset.source, chosen.model, dataset)}
    for run in (run for run in runs if run.run_id in compared):
        try:
            evaluations[labels[run.run_id]] = run_evaluation(run, dataset)
        except RunStoreError as error:
            st.warning(str(error))
    results = {label: calibration(e.probabilities, e.labels) for label, e in evaluations.items()}
    st.plotly_chart(reliability_figure(results), key="reliability")
    table = pd.DataFrame({
        "model": list(results),
        "expected calibration error": [r.expected_calibration_error for r in results.values()],
        "test accuracy": [e.accuracy for e in evaluations.values()],
        "mean confidence": [float(e.confidence.mean()) for e in evaluations.values()],
    })  # fmt: skip
    percent = percent_column()
    st.dataframe(table, hide_index=True, key="calibration_table", column_config={
        "expected calibration error": percent, "test accuracy": percent, "mean confidence": percent})  # fmt: skip
    st.caption("Points below the diagonal are overconfident answers. Expected calibration error is the average "
               "gap between confidence and accuracy, weighted by how many answers fall in each bin.")  # fmt: skip


def render_robustness(dataset: Dataset, chosen: ChosenModel, image: np.ndarray) -> None:
    controls, pictures = st.columns([3, 2], gap="large")
    with controls:
        change = Perturbation(
            rotation=st.slider("Rotate (degrees)", -90, 90, 0, key="probe_rotation"),
            shift_x=st.slider("Shift right (pixels)", -10, 10, 0, key="probe_shift_x"),
            shift_y=st.slider("Shift down (pixels)", -10, 10, 0, key="probe_shift_y"),
            scale=st.slider("Scale", 0.4, 1.6, 1.0, step=0.05, key="probe_scale"),
            thickness=st.slider("Thicken strokes (pixels)", -2, 3, 0, key="probe_thickness"),
            noise=st.slider("Noise", 0.0, 0.6, 0.0, step=0.05, key="probe_noise"),
        )
    changed = perturb(image, change)
    before, after = chosen.predictor.probabilities(image), chosen.predictor.probabilities(changed)
    names = dataset.class_names
    with pictures:
        left, right = st.columns(2)
        left.image(enlarge(image, 5), caption=f"as given: {names[before.argmax()]} {100 * before.max():.0f} %")
        right.image(enlarge(changed, 5), caption=f"changed: {names[after.argmax()]} {100 * after.max():.0f} %")
    knob = st.selectbox("Sweep one knob (the others stay as set)", list(SWEEPS), key="probe_sweep",
                        format_func=lambda name: SWEEPS[name][1])  # fmt: skip
    values, probabilities = robustness_sweep(chosen.key, chosen.predictor, image, change, knob)
    st.plotly_chart(robustness_figure(values, probabilities, names, SWEEPS[knob][1], getattr(change, knob)),
                    key="robustness")  # fmt: skip
    flips = [f"{value:g}" for value, row in zip(values, probabilities, strict=True) if row.argmax() != before.argmax()]
    st.caption(f"The answer changes at {', '.join(flips)}." if flips else "The answer holds over the whole sweep.")
