"""Your data page: teach the model your own classes, drawn on the canvas or uploaded as a zip of folders."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.access_gate import access_settings, current_caller, is_serving
from app_pages.sidebar import DATASET_KEY
from app_pages.wording import counted
from app_pages.your_data_draw import (
    DRAFT_SOURCE_KEY,
    RECIPES,
    draft,
    existing_owner,
    forget_draft,
    keep_draft,
    load_into_draft,
    render_canvas,
    render_classes,
    render_grid,
    render_save,
)
from core.access import AccessDenied, checked_data_folder
from core.datasets import DatasetError, DrawingRecipe
from core.datasets.custom import MAX_CLASSES, MIN_PER_CLASS, custom_dataset_names, custom_manifest, dataset_name_from
from core.datasets.custom_build import delete_custom_dataset
from core.datasets.custom_import import MAX_FILES, ImportReport, import_custom_dataset

PROBLEMS_SHOWN = 50
LAYOUT_HELP = """One folder per class, named after it, holding that class's images (PNG, JPEG, GIF, WebP or BMP):

```
shapes.zip
├── circle/   001.png  002.png  …
├── square/   001.png  …
└── triangle/ 001.png  …
```
Any size and colours: each image is turned into a 28x28 white-on-black picture the way the Predict
page reads uploads. Class names may use letters, digits, spaces, - and _."""


def choose_for_training(name: str) -> None:
    """Button callback (before the sidebar's picker exists): pick this dataset and the small-data recipe."""
    # Imported here: they load TensorFlow, which this page needs only once someone trains.
    from app_pages.train_settings import apply_preset
    from core.training.presets import SMALL_DATA_PRESET

    st.session_state[DATASET_KEY] = name
    st.session_state["preset"] = SMALL_DATA_PRESET
    apply_preset()


def train_on_button(name: str, label: str, key: str, **options) -> None:
    """A button that picks the dataset and recipe, then opens the Train page."""
    if st.button(
        label, key=key, on_click=choose_for_training, args=(name,), icon=":material/model_training:", **options
    ):
        st.switch_page("app_pages/train.py")


def render_saved_datasets() -> None:
    names = custom_dataset_names()
    if not names:
        st.caption("No datasets of your own yet: draw one or upload one below.")
        return
    caller = current_caller()
    for name in names:
        manifest = custom_manifest(name)
        left, middle, right = st.columns([5, 1.2, 1], vertical_alignment="center")
        left.markdown(
            f"**{manifest.info.display_name}** · {', '.join(manifest.info.class_names)} · "
            f"{sum(manifest.train_counts):,} train / {sum(manifest.test_counts):,} test images · {manifest.origin}"
        )
        with middle:
            train_on_button(name, "Train on it", f"train_on_{name}")
        if caller.is_admin and right.button("Delete", key=f"delete_dataset_{name}", icon=":material/delete:"):
            try:
                delete_custom_dataset(name, by=caller)
            except (DatasetError, AccessDenied, OSError) as error:
                st.error(f"Could not delete {name}: {error}")
            else:
                st.rerun()  # the sidebar then falls back from a deleted dataset by itself


def _name_and_recipe(prefix: str) -> tuple[str, str | None, DrawingRecipe]:
    """The typed display name, the folder-safe name (None with an error shown), and the recipe."""
    left, right = st.columns(2)
    typed = left.text_input("Dataset name", key=f"{prefix}_name", placeholder="for example: shapes", max_chars=40)
    recipe = right.radio(
        "What the images show", list(RECIPES), format_func=RECIPES.get, key=f"{prefix}_recipe", horizontal=False
    )
    name = None
    if typed.strip():
        try:
            name = dataset_name_from(typed)
        except DatasetError as error:
            st.error(str(error))
    return typed.strip(), name, DrawingRecipe(recipe)


def render_draw() -> None:
    examples = draft()  # first: a draft kept from an earlier visit also brings back its name and recipe
    saved = custom_dataset_names()
    caller = current_caller()
    own = [name for name in saved if caller.is_admin or existing_owner(name) == caller.owner]
    if own:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox(
            "Add to a dataset you made", own, index=None, key="add_to_dataset", placeholder="Start a new one"
        )
        if right.button("Load its images", key="load_dataset", disabled=chosen is None):
            load_into_draft(chosen)
            st.rerun()
    display_name, name, recipe = _name_and_recipe("your_data")
    if name in saved and st.session_state.get(DRAFT_SOURCE_KEY) != name:
        st.warning(f"There is already a dataset called {name}: pick another name, or load it above to add to it.")
        name = None
    render_classes()
    render_canvas(examples, recipe)
    render_grid(examples)
    saved_name = render_save(examples, display_name, recipe, name)
    if saved_name or (st.session_state.get(DRAFT_SOURCE_KEY) in saved and examples):
        target = saved_name or st.session_state[DRAFT_SOURCE_KEY]
        train_on_button(target, f"Train on {target}", "train_on_drawn", type="primary")
    keep_draft(examples)
    if examples and st.button("Start over", key="clear_draft", icon=":material/restart_alt:"):
        forget_draft()
        st.rerun()


def _report(report: ImportReport) -> None:
    manifest = report.manifest
    counts = ", ".join(
        f"{name} {train + test}"
        for name, train, test in zip(
            manifest.info.class_names, manifest.train_counts, manifest.test_counts, strict=True
        )
    )
    st.success(
        f"Made **{manifest.info.display_name}**: {counts} images ({sum(manifest.train_counts):,} to train on, "
        f"{sum(manifest.test_counts):,} to test)."
    )
    if report.build.duplicates_dropped:
        st.info(
            f"{counted(report.build.duplicates_dropped, 'duplicate image')} kept only once, so no image is "
            "both trained on and tested on."
        )
    if report.problems:
        with st.expander(f"Skipped {counted(len(report.problems), 'file')}", expanded=True):
            st.markdown(
                "\n".join(f"- `{problem.path}`: {problem.reason}" for problem in report.problems[:PROBLEMS_SHOWN])
            )
            if len(report.problems) > PROBLEMS_SHOWN:
                st.caption(f"…and {len(report.problems) - PROBLEMS_SHOWN:,} more.")
    train_on_button(manifest.info.name, f"Train on {manifest.info.display_name}", "train_on_imported", type="primary")


def _import(display_name: str, source, recipe: DrawingRecipe) -> ImportReport | None:
    bar = st.progress(0.0, text="Reading the images…")
    try:
        report = import_custom_dataset(
            display_name,
            source,
            recipe,
            by=current_caller(),
            progress=lambda done, total: bar.progress(done / total, text=f"Read {done:,} of {total:,} images"),
        )
    except (DatasetError, AccessDenied) as error:
        bar.empty()
        st.error(str(error))
        return None
    bar.empty()
    return report


def render_upload() -> None:
    st.markdown(
        f"A `.zip` of class folders, up to {MAX_FILES:,} images and {MAX_CLASSES} classes, at least "
        f"{MIN_PER_CLASS} images per class."
    )
    with st.expander("How to lay out the zip"):
        st.markdown(LAYOUT_HELP)
    display_name, name, recipe = _name_and_recipe("upload")
    file = st.file_uploader("Zip of class folders", type=["zip"], key="dataset_zip")
    pressed = st.button("Make the dataset", key="import_zip", disabled=file is None or name is None)
    if pressed and (report := _import(display_name, file.getvalue(), recipe)) is not None:
        st.session_state["your_data_imported"] = report
    if isinstance(report := st.session_state.get("your_data_imported"), ImportReport):
        _report(report)
    render_server_folder(display_name, name, recipe)


def render_server_folder(display_name: str, name: str | None, recipe: DrawingRecipe) -> None:
    """For large sets already on the server: a folder path, an admin's setting like the data folder."""
    caller = current_caller()
    with st.expander("Or a folder on the server (for large sets)"):
        if not caller.is_admin:
            st.caption("On a shared server only an admin can read a folder on the server.")
            return
        typed = st.text_input("Folder of class folders", key="dataset_folder", placeholder="/path/to/shapes")
        try:
            folder = checked_data_folder(typed, caller, access_settings().data_root, is_serving())
        except AccessDenied as refusal:
            st.error(str(refusal))
            return
        if folder is not None and not folder.is_dir():
            st.warning(f"No folder at `{folder}`: check the path.")
            folder = None
        pressed = st.button(
            "Make the dataset from this folder", key="import_folder", disabled=folder is None or name is None
        )
        if pressed and (report := _import(display_name, Path(folder), recipe)) is not None:
            st.session_state["your_data_imported"] = report
            st.rerun()


st.title("Your data")
st.caption(
    "Teach the model your own classes: draw a few examples of each, or upload a zip of images sorted into class "
    "folders. Every page then works on it, just like MNIST."
)
render_saved_datasets()
draw_tab, upload_tab = st.tabs(["Draw", "Upload"])
with draw_tab:
    render_draw()
with upload_tab:
    render_upload()
