"""Shipping a model in the app: the Runs page's export panel (formats, comparison, downloads) and the
Predict page's "Answer with" choice, which puts an exported format's answer beside the Keras model's."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.resources import run_store
from app_pages.sidebar import data_folder
from app_pages.wording import percent_column
from core.access import AccessDenied
from core.export import (
    FORMATS,
    KERAS_KEY,
    Comparison,
    ExportError,
    FormatResult,
    TfliteModel,
    has_saved_model,
    load_exported,
    read_exported_bytes,
    saved_comparison,
    saved_model_archive,
    shipping_sentence,
    verified_exports,
)
from core.export.background import BackgroundExport, current_export, forget_export, start_export
from core.figures.export import answers_figure, size_accuracy_figure
from core.runs.store import RunSummary

FORMATS_KEY = "export_formats"
# How often the page reads a running export's progress.
PROGRESS_EVERY_S = 1.0
TABLE_KEY = "export_table"
ANSWER_WITH_KEY = "answer_with"

COLUMNS = {
    "size (MB)": st.column_config.NumberColumn(format="%.3f"),
    "test accuracy": percent_column(),
    "drawn accuracy": percent_column(
        "Mean accuracy on test images drawn as people draw them, read as the Predict page reads them."
    ),
    "agreement": percent_column("Share of test images where this format's top answer is the Keras model's."),
    "p50 latency (ms)": st.column_config.NumberColumn(
        format="%.3f",
        help="Median time for one image: the Keras model through the app's compiled call, each .tflite with LiteRT.",
    ),
}


# The download column of a row whose file is no longer the one measured: its numbers describe nothing on disk.
NOT_VERIFIED = "file changed or missing: export again"


def comparison_table(comparison: Comparison, verified: tuple[FormatResult, ...]) -> pd.DataFrame:
    """One row per format, the Keras model first, in the units the table shows; unverified files say so."""
    downloadable = {row.key for row in verified} | {KERAS_KEY}
    return pd.DataFrame(
        [
            {
                "format": row.label,
                "size (MB)": row.size_bytes / 1e6,
                "test accuracy": row.test_accuracy,
                "drawn accuracy": row.mean_drawn_accuracy,
                "agreement": row.agreement,
                "p50 latency (ms)": row.latency_p50_ms,
                "input": row.input_dtype,
                "download": row.file_name if row.key in downloadable else NOT_VERIFIED,
            }
            for row in comparison.rows
        ]
    )


def start(run: RunSummary, formats: list[str]) -> None:
    """Start the export in a child process, on the sidebar's data folder; a refusal is one line on the page."""
    try:
        start_export(
            run_store().root, run.run_id, [FORMATS[key] for key in formats], data_folder(), by=current_caller()
        )
    except (AccessDenied, OSError) as error:
        st.error(f"Export failed: {error}", icon=":material/error:")


def render_running_export(run: RunSummary) -> bool:
    """Progress of this run's export while it runs (True), or its outcome once, when it has ended (False)."""
    export = current_export(run_store().root, run.run_id)
    if export is None:
        return False
    if not export.status().done:
        st.fragment(_follow_export, run_every=PROGRESS_EVERY_S)(export)
        return True
    forget_export(run_store().root, run.run_id, export)
    error = export.status().error
    if error:
        st.error(f"Export failed: {error}", icon=":material/error:")
    else:
        st.toast("Exported and measured.", icon=":material/check_circle:")
    return False


def _follow_export(export: BackgroundExport) -> None:
    status = export.status()
    if status.done:
        st.rerun(scope="app")  # the whole panel: its outcome and the new table
    st.progress(min(max(status.fraction, 0.0), 1.0), text=status.message)
    st.caption("The export runs on its own: leaving or using the page does not stop it.")


def render_comparison(run: RunSummary, comparison: Comparison) -> None:
    verified = verified_exports(run_store(), run.run_id)
    st.markdown(f"**{shipping_sentence(comparison)}**")
    st.dataframe(comparison_table(comparison, verified), hide_index=True, column_config=COLUMNS, key=TABLE_KEY)
    st.caption(
        f"Measured on {comparison.test_images:,} test images ({comparison.dataset_source})"
        + (f" and {comparison.drawn_images:,} drawn ones" if comparison.drawn_images else "")
        + f"; latency is the median of {comparison.latency_repeats} single-image calls with "
        f"{comparison.num_threads} LiteRT thread{'s' if comparison.num_threads > 1 else ''}. "
        f"Exported {comparison.created_utc} UTC. The Keras model's size is its weights' bytes."
    )
    st.plotly_chart(size_accuracy_figure(comparison), key="export_chart")
    render_downloads(run, verified)


def render_downloads(run: RunSummary, rows: tuple[FormatResult, ...]) -> None:
    if not rows:
        st.warning("The exported files changed since they were measured: export again to download them.")
        return
    *columns, last = st.columns(len(rows) + 1)
    for column, row in zip(columns, rows, strict=True):
        column.download_button(
            f"{row.label}", data=functools.partial(read_exported_bytes, run_store(), run.run_id, row.key),
            file_name=f"{run.run_id}_{row.file_name}", mime="application/octet-stream", key=f"download_{row.key}",
            icon=":material/download:", on_click="ignore", width="stretch",
        )  # fmt: skip
    if has_saved_model(run_store(), run.run_id):
        last.download_button(
            "SavedModel (zip)", data=functools.partial(saved_model_archive, run_store(), run.run_id),
            file_name=f"{run.run_id}_saved_model.zip", mime="application/zip", key="download_saved_model",
            icon=":material/download:", on_click="ignore", width="stretch",
            help="For TensorFlow Serving or tf.saved_model.load: its `serve` signature takes raw 0-255 pixels.",
        )  # fmt: skip


def render_export(run: RunSummary) -> None:
    """The export panel of one run: choose formats, export, and see what each costs (viewers: only see)."""
    comparison = saved_comparison(run_store(), run.run_id)
    if not current_caller().is_admin:
        if comparison is not None:
            with st.expander("Shipped files: TensorFlow Lite formats compared", expanded=True):
                render_comparison(run, comparison)
        return
    with st.expander("Ship this model: export for deployment", expanded=comparison is not None):
        st.write(
            "A TensorFlow SavedModel and TensorFlow Lite files for phones, a Raspberry Pi or a microcontroller. "
            "Each takes raw 0-255 pixels shaped (N, height, width, 1), like the Keras model; "
            "each .tflite runs with LiteRT and is measured against the Keras model on the test set."
        )
        chosen = st.multiselect(
            "Formats", list(FORMATS), default=list(FORMATS), key=FORMATS_KEY,
            format_func=lambda key: FORMATS[key].label,
            help=" ".join(f"{fmt.label}: {fmt.description}" for fmt in FORMATS.values()),
        )  # fmt: skip
        running = current_export(run_store().root, run.run_id)
        clicked = st.button(
            "Export again" if comparison else "Export", key="export_run", icon=":material/deployed_code:",
            disabled=not chosen or (running is not None and not running.status().done),
        )  # fmt: skip
        if clicked:
            start(run, chosen)
        if render_running_export(run):
            return
        comparison = saved_comparison(run_store(), run.run_id)
        if comparison is None:
            st.caption("Nothing exported yet. Exporting takes about a minute for a full test set.")
            return
        render_comparison(run, comparison)


# --- Predict: answer with an exported format ------------------------------------------------------


@st.cache_resource(show_spinner="Loading the exported model…", max_entries=4)
def exported_model(run_id: str, key: str, file_sha256: str) -> TfliteModel:
    """An exported .tflite loaded with LiteRT once per process; the file's hash in the key means never stale."""
    return load_exported(run_store(), run_id, key)


def choose_answer_format(run_id: str | None) -> FormatResult | None:
    """The Predict page's "Answer with" choice: None for the Keras model, else a verified export of the run."""
    rows = verified_exports(run_store(), run_id) if run_id else ()
    if not rows:
        if run_id:
            st.caption("Export this run on the Runs page to see a TensorFlow Lite model's answer beside Keras'.")
        return None
    by_key = {row.key: row for row in rows}
    choice = st.selectbox(
        "Answer with", [KERAS_KEY, *by_key], key=ANSWER_WITH_KEY,
        format_func=lambda key: "Keras model only" if key == KERAS_KEY else f"{by_key[key].label}, beside Keras",
        help="An exported file of this run, run with LiteRT as a phone would: its answer and probabilities "
        "are shown next to the Keras model's, so you see what quantisation changes on your own drawing.",
    )  # fmt: skip
    return by_key.get(choice)


def render_exported_answer(
    run_id: str, row: FormatResult, class_names: tuple[str, ...], image: np.ndarray, keras: np.ndarray
) -> None:
    """The exported format's answer for this image beside the Keras model's, and both sets of probabilities."""
    from core.inference import CONFIDENT_FROM, UNSURE_BELOW, answer_certainty  # with TensorFlow, loaded by Predict

    try:
        probabilities = exported_model(run_id, row.key, row.sha256).probabilities(image)
    except (ExportError, ValueError, OSError) as error:
        st.error(f"{row.label} cannot answer: {error}", icon=":material/error:")
        return
    best, keras_best = int(probabilities.argmax()), int(keras.argmax())
    answer = f"{row.label} says **{class_names[best]}** ({100 * probabilities[best]:.1f} %)"
    if best == keras_best:
        gap = 100 * (probabilities[best] - keras[best])
        st.info(f"{answer}, like the Keras model ({gap:+.1f} points of confidence).", icon=":material/memory:")
    else:
        st.warning(
            f"{answer}, but the Keras model says **{class_names[keras_best]}** ({100 * keras[keras_best]:.1f} %).",
            icon=":material/compare_arrows:",
        )
    certainty = answer_certainty(float(probabilities[best]))
    if certainty == "unsure":
        st.caption(f"Below {100 * UNSURE_BELOW:.0f} % confidence this answer is a guess, not a prediction.")
    elif certainty == "probable":
        st.caption(f"Below {100 * CONFIDENT_FROM:.0f} % confidence this answer is probable, not certain.")
    st.plotly_chart(answers_figure(class_names, keras, probabilities, row.label), key="exported_probabilities")
