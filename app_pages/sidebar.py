"""The sidebar every page shares: the dataset picker and where its data comes from."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app_pages.access_gate import access_settings, current_caller, is_serving
from app_pages.resources import ACTIVE_RUN_KEY, adopt_finished_run, keep_picked_run, run_store
from app_pages.wording import counted
from core.access import AccessDenied, checked_data_folder
from core.datasets import (
    DATA_DIR_ENV,
    DATASETS,
    Dataset,
    DatasetError,
    dataset_info,
    dataset_names,
    forget_loaded_datasets,
    load_dataset,
)
from core.pretrained import PretrainedError, pretrained_model
from core.runs.store import RunSummary
from core.runs.summary import trained_at

DATASET_KEY = "dataset_name"
DATA_DIR_KEY = "data_dir"

FULL_DATA_HINT = """This is a small sample, so the app works offline. For the full 70,000 images:
- **Fashion-MNIST:** `sudo apt install dataset-fashion-mnist` (Debian/Ubuntu), then press *Look again*;
- **either dataset:** put the four IDX files (`train-images-idx3-ubyte.gz`, …) or Keras' `mnist.npz`
  in a folder and name it under *Data folder* below (or set `EXPLORER_DATA_DIR` before starting);
- **online:** Keras downloads them into `~/.keras/datasets` by itself when the machine is online."""


def render_sidebar() -> None:
    """Draw the shared sidebar widgets; pages read the choice through `current_dataset()`."""
    with st.sidebar:
        names = dataset_names()
        if st.session_state.get(DATASET_KEY) not in (*names, None):
            # A dataset of your own that was deleted meanwhile: back to the first one.
            st.session_state.pop(DATASET_KEY)
        st.selectbox(
            "Dataset",
            options=names,
            format_func=_dataset_label,
            key=DATASET_KEY,
            help="Every page works on this dataset. Make one of your own classes on the Your data page.",
        )
        dataset = _load_or_report()
        if dataset is not None:
            _source_line(dataset)
            adopt_finished_run(dataset.name)
            _active_run_picker(dataset.name)
        with st.expander("Data folder", expanded=False):
            _data_folder_setting()


def _dataset_label(name: str) -> str:
    try:
        info = dataset_info(name)
    except ValueError:
        return name
    return f"{info.display_name} (yours)" if info.custom else info.display_name


def _data_folder_setting() -> None:
    caller = current_caller()
    if caller.is_admin:
        st.text_input(
            "Folder with IDX files or an .npz",
            value=os.environ.get(DATA_DIR_ENV, ""),
            key=DATA_DIR_KEY,
            placeholder="/path/to/mnist-files",
            help=f"Tried first. Same as the {DATA_DIR_ENV} environment variable.",
        )
        try:
            folder = _checked_data_folder()
        except AccessDenied as refusal:
            st.error(str(refusal))
        else:
            if folder and not folder.is_dir():
                st.warning(f"No folder at `{folder}`: check the path.")
        # Forgetting the loaded datasets slows every session down for a moment: an admin's call.
        if st.button("Look again", key="reload_data", help="Search every source again, e.g. after installing data."):
            forget_loaded_datasets()
            st.rerun()
    else:
        st.caption("On a shared server only an admin can point the app at another data folder.")


def _checked_data_folder() -> Path | None:
    """The typed data folder if this caller may use it (AccessDenied otherwise)."""
    typed = st.session_state.get(DATA_DIR_KEY, "")
    return checked_data_folder(typed, current_caller(), access_settings().data_root, is_serving())


def _run_label(run: RunSummary) -> str:
    accuracy = f"{100 * run.test_accuracy:.1f} %" if run.test_accuracy is not None else "no test score"
    # The accuracy first: the box cuts a long label's end. An unnamed run's label says when it was trained;
    # a named one is told from its namesakes the same way.
    return f"{accuracy} · {run.label}" + (f" · {trained_at(run.run_id)}" if run.name else "")


def _active_run_picker(dataset_name: str) -> None:
    runs = {run.run_id: run for run in run_store().list_runs() if run.complete and run.dataset == dataset_name}
    if st.session_state.get(ACTIVE_RUN_KEY) not in runs:
        # A run of another dataset, or one deleted meanwhile, cannot stay active.
        st.session_state[ACTIVE_RUN_KEY] = None
    starter = _starter_words(dataset_name)
    st.selectbox(
        "Active model",
        list(runs),
        key=ACTIVE_RUN_KEY,
        format_func=lambda run_id: _run_label(runs[run_id]),
        on_change=keep_picked_run,
        # Says what answers while no run is picked: the shipped starter, where the dataset has one.
        placeholder=starter or ("Pick a trained run" if runs else "None yet: train one"),
        help="The trained run the Evaluate, Predict and Inside pages use."
        + (" Until you pick one, Predict and Inside use the starter model." if starter else ""),
    )


def _starter_words(dataset_name: str) -> str | None:
    """'The starter model · 91.2 %', or None for a dataset of your own (it has no starter)."""
    try:
        return f"The starter model · {100 * pretrained_model(dataset_name).test_accuracy:.1f} %"
    except PretrainedError:
        return None


def current_dataset() -> Dataset | None:
    """The dataset picked in the sidebar, loaded (cached per process); None if it cannot be loaded."""
    try:
        return _load()
    except DatasetError:
        return None


def require_dataset() -> Dataset:
    """The picked dataset; if it cannot be loaded, say so and end the page here."""
    dataset = current_dataset()
    if dataset is None:
        st.error("This dataset has no usable data: see the sidebar for why, and pick another or fix its folder.")
        st.stop()
    return dataset


def data_folder() -> str | None:
    """The data folder typed in the sidebar, if any and if this caller may use it."""
    try:
        folder = _checked_data_folder()
    except AccessDenied:
        return None
    return str(folder) if folder else None


def _load() -> Dataset:
    return load_dataset(st.session_state.get(DATASET_KEY, next(iter(DATASETS))), data_folder())


def _load_or_report() -> Dataset | None:
    try:
        return _load()
    except DatasetError as error:
        st.error(f"No usable copy of this dataset was found. {error}")
        return None


def _source_line(dataset: Dataset) -> None:
    if dataset.is_sample:
        st.warning(f"Using the {dataset.source}.", icon=":material/info:")
        with st.expander("How to get the full dataset"):
            st.markdown(FULL_DATA_HINT)
    else:
        st.success(f"Using the {dataset.source}.", icon=":material/check_circle:")
    if dataset.skipped:
        with st.expander(f"Skipped {counted(len(dataset.skipped), 'source')}"):
            for skipped in dataset.skipped:
                st.markdown(f"- **{skipped.label}:** {skipped.reason}")
