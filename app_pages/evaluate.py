"""Evaluate page: how the active run does on the held-out test set, and which images it gets wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.insight_cache import class_heatmaps, enlarge, heatmap_methods
from app_pages.resources import (
    ACTIVE_RUN_KEY,
    drawn_sample_evaluation,
    drawn_set,
    drawn_set_evaluation,
    load_run_model,
    model_key,
    run_evaluation,
    run_store,
)
from app_pages.runs_ensemble import render_member_comparison
from app_pages.sidebar import require_dataset
from app_pages.wording import STEADY_READING_WORDS, counted, epochs_words, percent_column
from core.datasets import Dataset
from core.drawn_test_set import GAP_POINTS, PER_CLASS, drawing_gap_reading, drawn_styles
from core.ensemble_info import ensemble_gap_reading, is_ensemble, member_scores
from core.evaluation import (
    Evaluation,
    cell_examples,
    confident_mistakes,
    diagnose_fit,
    hardest_examples,
    most_confused_pairs,
)
from core.figures.evaluation import class_scores_figure, confusion_figure, drawing_gap_figure
from core.figures.training import curves_from_history, training_curves_figure
from core.insight.saliency import overlay
from core.runs.store import RunStoreError, RunSummary

GALLERY_SIZE = 24


# The toggle that lays the model's evidence over every gallery image.
HEATMAP_TOGGLE_KEY = "gallery_heatmaps"


@dataclass(frozen=True)
class Lens:
    """How gallery images show the model's evidence: for which model, and for its answer or the true class."""

    model_key: str
    model: object
    for_truth: bool


def gallery(
    names: tuple[str, ...],
    all_images: np.ndarray,
    evaluation: Evaluation,
    indices: np.ndarray,
    empty: str,
    lens: Lens | None = None,
) -> None:
    """Evaluated images with what the model said about them; with a `lens`, the model's evidence laid over them."""
    if len(indices) == 0:
        st.caption(empty)
        return
    captions = [
        f"#{i} true {names[evaluation.labels[i]]} · said {names[evaluation.predictions[i]]} "
        f"({100 * evaluation.confidence[i]:.0f} %)"
        for i in indices
    ]
    images = all_images[indices]
    if lens is not None:
        classes = (evaluation.labels if lens.for_truth else evaluation.predictions)[indices]
        heatmaps = class_heatmaps(lens.model_key, lens.model, images, classes, heatmap_methods(lens.model)[0])
        images = [enlarge(overlay(image, heat), 4) for image, heat in zip(images, heatmaps, strict=True)]
    st.image(list(images), caption=captions, width=96)


def render_curves(run: RunSummary) -> None:
    if is_ensemble(run):
        st.info("An ensemble is not trained: it averages its members as they are. Their curves are on the Runs "
                "page; select them there to overlay them.")  # fmt: skip
        return
    history = run_store().history(run.run_id)
    epochs = history.get("epochs", [])
    st.plotly_chart(training_curves_figure([curves_from_history("this run", history)]), key="evaluate_curves")
    st.markdown(
        diagnose_fit(
            [e["accuracy"] for e in epochs], [e["val_accuracy"] for e in epochs],
            [e["loss"] for e in epochs], [e["val_loss"] for e in epochs],
        )
    )  # fmt: skip


def render_confusion(dataset: Dataset, run: RunSummary, evaluation: Evaluation, lens) -> None:
    names = dataset.class_names
    source = st.segmented_control(
        "Matrix of", ["test", "validation"], default="test", key="confusion_source", required=True,
        format_func={"test": "Test set (final model)", "validation": "Validation set, by epoch"}.get,
    )  # fmt: skip
    if source == "test":
        confusion_with_gallery(names, dataset.x_test, evaluation, "Test set", "test_confusion", lens)
        return
    matrix_column, _ = st.columns([3, 2], gap="large")
    with matrix_column:
        if source == "validation":
            matrices = run_store().validation_confusions(run.run_id)
            if not len(matrices):
                st.info("This run has no finished epoch to replay.")
                return
            epoch = (
                st.slider("Epoch", 1, len(matrices), len(matrices), key="confusion_epoch") if len(matrices) > 1 else 1
            )
            st.plotly_chart(confusion_figure(matrices[epoch - 1], names, f"Validation set after epoch {epoch}"),
                            key="validation_confusion")  # fmt: skip
            st.caption("Replays how the mistakes changed while the model trained. Select the test-set matrix to "
                       "open the images behind a cell.")  # fmt: skip


def confusion_with_gallery(
    names: tuple[str, ...], images: np.ndarray, evaluation: Evaluation, title: str, key: str, lens
) -> None:
    """A confusion matrix whose cells, clicked, show the images behind them."""
    matrix_column, gallery_column = st.columns([3, 2], gap="large")
    with matrix_column:
        selection = st.plotly_chart(
            confusion_figure(evaluation.confusion, names, title), key=key, on_select="rerun", selection_mode="points"
        )
    cell = _selected_cell(selection)
    with gallery_column:
        if cell is None:
            st.markdown("**Click a cell** to see its images.")
            pairs = most_confused_pairs(evaluation.confusion)
            if pairs:
                st.markdown("**Most confused pairs**")
                rows = [(names[true], names[predicted], count) for true, predicted, count in pairs]
                table = pd.DataFrame(rows, columns=["true", "predicted as", "images"])
                st.dataframe(table, hide_index=True, key="confused_pairs")
            return
        true_class, predicted_class = cell
        label = "correct" if true_class == predicted_class else "mistaken for"
        st.markdown(f"**{names[true_class]}** {label} **{names[predicted_class]}**, most confident first")
        examples = cell_examples(evaluation, true_class, predicted_class, GALLERY_SIZE)
        gallery(names, images, evaluation, examples, "No image falls in this cell.", lens)


def render_drawings(dataset: Dataset, run: RunSummary, lens) -> None:
    """Test images against the same images drawn as people draw them: overall, per class, and which get confused."""
    styles = drawn_styles(dataset.name)
    if not styles:
        st.info(
            f"The drawn test set does not apply to {dataset.info.display_name}: it redraws MNIST and Fashion-MNIST "
            "test images as people draw them, and your own dataset's images already went through the canvas's "
            "preprocessing. Its test set above is the measure.",
            icon=":material/info:",
        )
        return
    model = load_run_model(run.run_id, run.model_sha256)
    drawn = {style: drawn_set_evaluation(model_key(run), dataset.source, style, model, dataset) for style in styles}
    # The same test images as the drawings, read the same way, so the comparison is like for like.
    sample_evaluation = drawn_sample_evaluation(model_key(run), dataset.source, styles[0], model, dataset)
    trained_with_drawings = bool(run.config.get("model", {}).get("augmentation", {}).get("drawing_rate"))
    accuracies = {style: result.accuracy for style, result in drawn.items()}
    reading = drawing_gap_reading(sample_evaluation.accuracy, accuracies, trained_with_drawings)
    if is_ensemble(run) and 100 * (sample_evaluation.accuracy - min(accuracies.values())) > GAP_POINTS:
        # "Train with ..." does not apply to a model nobody trained: the advice is about its members.
        reading = ensemble_gap_reading(sample_evaluation.accuracy, accuracies)
    st.markdown(reading)
    columns = st.columns(len(styles) + 1)
    columns[0].metric(
        "The same test images", f"{100 * sample_evaluation.accuracy:.1f} %",
        help=f"The {len(sample_evaluation.labels):,} test images that were drawn, read steadily as Predict reads "
        "one: not the whole test set the accuracy at the top is measured on.",
    )  # fmt: skip
    for column, (style, accuracy) in zip(columns[1:], accuracies.items(), strict=True):
        column.metric(f"Drawn: {style}", f"{100 * accuracy:.1f} %",
                      delta=f"{100 * (accuracy - sample_evaluation.accuracy):+.1f} points")  # fmt: skip
    st.caption(
        f"{len(sample_evaluation.labels):,} test images (the first {PER_CLASS} of each class), each drawn on a "
        "canvas in white on black and read through the Predict page's own preprocessing, which fills a closed "
        f"outline first. As on the Predict page, each image (drawn or not) is read steadily: {STEADY_READING_WORDS}."
    )
    recall = {style: result.scores.recall for style, result in drawn.items()}
    test_recall = sample_evaluation.scores.recall
    st.plotly_chart(drawing_gap_figure(dataset.class_names, test_recall, recall), key="drawing_gap")
    style = st.segmented_control("Confusion matrix of", styles, default=styles[0], key="drawn_style", required=True)
    confusion_with_gallery(
        dataset.class_names, drawn_set(dataset.name, dataset.source, style, dataset).images, drawn[style],
        f"Drawn: {style}", "drawn_confusion", lens,
    )  # fmt: skip


def _selected_cell(selection) -> tuple[int, int] | None:
    points = (selection or {}).get("selection", {}).get("points", []) if selection else []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, dict):  # the browser sends an array as {"0": ..., "1": ...}
            data = [data[key] for key in sorted(data, key=int)]
        if isinstance(data, (list, tuple)) and len(data) >= 2:
            return int(data[0]), int(data[1])
    return None


def choose_lens(key: str, model) -> Lens | None:
    """Whether gallery images show where the model looked (HiResCAM), and for which class."""
    toggle, target = st.columns([2, 3], vertical_alignment="center")
    if not toggle.toggle("Show where the model looked in the galleries", key=HEATMAP_TOGGLE_KEY):
        return None
    truth = target.segmented_control(
        "Evidence for", [False, True], default=False, key="gallery_evidence", required=True,
        format_func=lambda for_truth: "the true class" if for_truth else "the model's answer",
        label_visibility="collapsed",
    )  # fmt: skip
    return Lens(key, model, bool(truth))


def render() -> None:
    dataset = require_dataset()
    st.title("Evaluate")
    run_id = st.session_state.get(ACTIVE_RUN_KEY)
    if not run_id:
        message = "Evaluate measures your own runs: pick one as the **Active model** in the sidebar, or train one."
        if not dataset.info.custom:
            message += " Until then, the starter model answers on Predict and Inside."
        st.info(message)
        return
    try:
        run = run_store().get(run_id)
        evaluation = run_evaluation(run, dataset)
    except RunStoreError as error:
        st.error(f"This run cannot be evaluated: {error}")
        return
    st.caption(f"Run `{run.run_id}` ({run.label}) on the {dataset.source}.")
    accuracy, loss, errors, trained = st.columns(4)
    accuracy.metric("Test accuracy", f"{100 * evaluation.accuracy:.2f} %")
    loss.metric("Test loss", f"{evaluation.loss:.3f}")
    # The total goes in the label: "1,028 of 10,000" as the value was cut off in a quarter of a laptop screen.
    errors.metric(
        f"Mistakes (of {len(evaluation.labels):,})", f"{int((evaluation.predictions != evaluation.labels).sum()):,}"
    )
    if is_ensemble(run):
        trained.metric("Ensemble of", counted(len(member_scores(run)), "run"))
        render_member_comparison(run)
    else:
        trained.metric("Trained for", epochs_words(run.epochs_completed))

    lens = choose_lens(model_key(run), load_run_model(run.run_id, run.model_sha256))
    if lens is not None and is_ensemble(run):
        st.caption("An ensemble has no layers of its own to look into: the galleries' heatmaps show where its "
                   "first member looked.")  # fmt: skip
    curves, confusion, classes, mistakes, drawings = st.tabs(
        ["Curves", "Confusion matrix", "Per class", "Mistakes", "Drawings"]
    )
    with curves:
        render_curves(run)
    with confusion:
        render_confusion(dataset, run, evaluation, lens)
    with classes:
        scores = evaluation.scores
        st.plotly_chart(class_scores_figure(scores, dataset.class_names), key="class_scores")
        table = pd.DataFrame({"class": dataset.class_names, "precision": scores.precision, "recall": scores.recall,
                              "F1": scores.f1, "support": scores.support})  # fmt: skip
        percent = percent_column()
        st.dataframe(table, hide_index=True, key="class_table",
                     column_config={"precision": percent, "recall": percent, "F1": percent})  # fmt: skip
    with mistakes:
        st.markdown("**Confident mistakes**: wrong answers the model was surest about.")
        names, images = dataset.class_names, dataset.x_test
        gallery(names, images, evaluation, confident_mistakes(evaluation, GALLERY_SIZE), "No mistakes at all.", lens)
        st.markdown("**Hardest examples**: the images whose true class got the least probability.")
        gallery(names, images, evaluation, hardest_examples(evaluation, GALLERY_SIZE), "", lens)
    with drawings:
        render_drawings(dataset, run, lens)


render()
