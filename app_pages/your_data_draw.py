"""The "Draw" half of the Your data page: classes by name, examples on the canvas, a grid, counts."""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np
import streamlit as st

from app_pages.access_gate import current_caller
from app_pages.canvas import drawing_canvas
from app_pages.wording import counted
from core.access import AccessDenied
from core.datasets import DatasetError, DrawingRecipe, load_dataset
from core.datasets.custom import MAX_CLASSES, MIN_CLASSES, MIN_PER_CLASS, check_class_name, custom_manifest
from core.datasets.custom_build import build_custom_dataset
from core.datasets.drafts import Draft, load_draft, save_draft
from core.preprocessing import ImageInputError, preprocess_image

# The drawings so far, by class name: {name: [28x28 uint8, ...]}; unsaved ones are also kept on disk (keep_draft).
DRAFT_KEY = "your_data_draft"
# Set when the draft was loaded from a saved dataset, so saving replaces that one.
DRAFT_SOURCE_KEY = "your_data_draft_source"
# What the copy on disk holds (core.datasets.drafts), so an unchanged draft is not written again.
DRAFT_SAVED_KEY = "your_data_draft_saved"
# The draft's dataset name and recipe, outside their widgets (whose values go when another page is shown).
DRAFT_META_KEY = "your_data_draft_meta"
CANVAS_ROUND_KEY = "your_data_canvas_round"
BRUSH_DEFAULT = 22
GRID_COLUMNS = 10
RECIPES = {
    DrawingRecipe.DIGIT_BOX.value: "Shapes and symbols, centred like MNIST digits",
    DrawingRecipe.FILL_FRAME.value: "Objects that fill the frame, like Fashion-MNIST",
}


def draft() -> dict[str, list[np.ndarray]]:
    """This session's drawings by class: on first use, the ones this person left unsaved (a reload loses none)."""
    if DRAFT_KEY not in st.session_state:
        st.session_state[DRAFT_KEY] = {}
        caller = current_caller()
        try:
            kept = load_draft(caller.owner) if caller.is_lasting else None
        except DatasetError as error:
            st.warning(str(error), icon=":material/warning:")
            kept = None
        if kept is not None:
            st.session_state[DRAFT_KEY] = kept.examples
            st.session_state[DRAFT_META_KEY] = (kept.display_name, kept.recipe)
            if kept.source:
                st.session_state[DRAFT_SOURCE_KEY] = kept.source
            st.session_state[DRAFT_SAVED_KEY] = _fingerprint(kept)  # as on disk: not written again
            st.toast(f"Your unsaved drawings are back: {counted(sum(map(len, kept.examples.values())), 'drawing')}.")
    # Streamlit forgets a widget's value while its page is not shown: the name and recipe come back from here.
    name, recipe = st.session_state.get(DRAFT_META_KEY, ("", ""))
    st.session_state.setdefault("your_data_name", name)
    if recipe in RECIPES:
        st.session_state.setdefault("your_data_recipe", recipe)
    return st.session_state[DRAFT_KEY]


def keep_draft(examples: dict[str, list[np.ndarray]]) -> None:
    """Write the draft to disk when it changed since this session last wrote or read it.

    Only for someone who comes back as the same owner (not a shared-password session, which a reload
    makes somebody new). A session that has drawn nothing leaves whatever is on disk alone.
    """
    current = _current_draft(examples)
    st.session_state[DRAFT_META_KEY] = (current.display_name, current.recipe)
    caller = current_caller()
    fingerprint = _fingerprint(current)
    written = st.session_state.get(DRAFT_SAVED_KEY)
    if not caller.is_lasting or written == fingerprint or (written is None and not examples):
        return
    try:
        save_draft(caller.owner, current)
    except OSError as error:
        st.warning(f"Your drawings could not be kept on disk ({error.strerror or error}): save them as a dataset soon.")
        return
    st.session_state[DRAFT_SAVED_KEY] = fingerprint


def draft_is_saved(examples: dict[str, list[np.ndarray]]) -> None:
    """The draft is now a saved dataset: nothing unsaved to keep on disk until it changes again."""
    caller = current_caller()
    if caller.is_lasting:
        with contextlib.suppress(OSError):  # a copy left behind only comes back as a draft to save again
            save_draft(caller.owner, Draft())
    st.session_state[DRAFT_SAVED_KEY] = _fingerprint(_current_draft(examples))


def forget_draft() -> None:
    """Start over: the session's drawings and the copy on disk."""
    for key in (DRAFT_KEY, DRAFT_SOURCE_KEY, DRAFT_SAVED_KEY, DRAFT_META_KEY):
        st.session_state.pop(key, None)
    caller = current_caller()
    if caller.is_lasting:
        try:
            save_draft(caller.owner, Draft())
        except OSError as error:
            st.warning(f"The kept copy of your drawings could not be removed ({error.strerror or error}).")


def _current_draft(examples: dict[str, list[np.ndarray]]) -> Draft:
    return Draft(
        examples,
        st.session_state.get("your_data_name", ""),
        st.session_state.get("your_data_recipe", ""),
        st.session_state.get(DRAFT_SOURCE_KEY),
    )


def _fingerprint(kept: Draft) -> str:
    digest = hashlib.sha256(repr((kept.display_name, kept.recipe, kept.source)).encode())
    for name, images in kept.examples.items():
        digest.update(name.encode() + b"\0" + len(images).to_bytes(4, "big"))
        for image in images:
            digest.update(image.tobytes())
    return digest.hexdigest()


def missing_to_train(examples: dict[str, list[np.ndarray]]) -> list[str]:
    """What is still needed before the drawings make a dataset, in plain words (empty when ready)."""
    missing = []
    if len(examples) < MIN_CLASSES:
        missing.append(f"{MIN_CLASSES - len(examples)} more class{'es' if MIN_CLASSES - len(examples) > 1 else ''}")
    for name, images in examples.items():
        if len(images) < MIN_PER_CLASS:
            missing.append(
                f"{MIN_PER_CLASS - len(images)} more drawing{'s' if MIN_PER_CLASS - len(images) > 1 else ''} of {name}"
            )
    return missing


def _add_class() -> None:
    """Widget callback: add the typed class name, or say why it cannot be added."""
    typed = st.session_state.get("new_class_name", "").strip()
    examples = draft()
    try:
        check_class_name(typed)
        if typed.lower() in {name.lower() for name in examples}:
            raise DatasetError(f"There is already a class called {typed!r}.")
        if len(examples) >= MAX_CLASSES:
            raise DatasetError(f"A dataset can have at most {MAX_CLASSES} classes.")
    except DatasetError as error:
        st.session_state["your_data_class_error"] = str(error)
        return
    examples[typed] = []
    st.session_state["drawing_class"] = typed
    st.session_state["new_class_name"] = ""
    st.session_state.pop("your_data_class_error", None)


def load_into_draft(name: str) -> None:
    """Put a saved dataset's images (train and test) back into the draft, to add to it."""
    dataset = load_dataset(name)
    images = np.concatenate([dataset.x_train, dataset.x_test])
    labels = np.concatenate([dataset.y_train, dataset.y_test])
    st.session_state[DRAFT_KEY] = {
        class_name: list(images[labels == label]) for label, class_name in enumerate(dataset.class_names)
    }
    st.session_state[DRAFT_SOURCE_KEY] = name
    st.session_state["your_data_name"] = dataset.info.display_name
    st.session_state["your_data_recipe"] = dataset.info.drawing_recipe.value
    st.session_state["drawing_class"] = dataset.class_names[0]
    draft_is_saved(st.session_state[DRAFT_KEY])


def render_classes() -> None:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.text_input("New class", key="new_class_name", placeholder="for example: circle", max_chars=40)
    right.button("Add class", key="add_class", on_click=_add_class, icon=":material/add:")
    if error := st.session_state.get("your_data_class_error"):
        st.error(error)


def render_canvas(examples: dict[str, list[np.ndarray]], recipe: DrawingRecipe) -> None:
    """Pick a class, draw one example, add it; the canvas starts blank again after each one."""
    if not examples:
        st.info("Add a class first, for example *circle*, then draw examples of it.")
        return
    if st.session_state.get("drawing_class") not in examples:
        # A class removed meanwhile (or none picked yet): the first one.
        st.session_state["drawing_class"] = next(iter(examples))
    chosen = st.segmented_control("Drawing examples of", list(examples), key="drawing_class", required=True)
    brush = st.slider("Brush width", 8, 40, BRUSH_DEFAULT, key="your_data_brush")
    round_ = st.session_state.setdefault(CANVAS_ROUND_KEY, 0)
    drawing = drawing_canvas(f"your_data_canvas_{round_}", brush)
    if st.button(
        f"Add this drawing to {chosen}",
        key="add_drawing",
        disabled=drawing is None,
        icon=":material/add_photo_alternate:",
    ):
        try:
            result = preprocess_image(drawing, None, recipe=recipe)
        except ImageInputError as error:
            st.error(str(error))
            return
        if result.is_empty:
            st.warning(result.message)
            return
        examples[chosen].append(result.model_input)
        st.session_state[CANVAS_ROUND_KEY] = round_ + 1  # a new key: a blank canvas for the next drawing
        st.rerun()


def render_grid(examples: dict[str, list[np.ndarray]]) -> None:
    """Each class's drawings as a grid, each with a delete button, and its count against the minimum."""
    for name, images in list(examples.items()):
        count = len(images)
        status = "ready" if count >= MIN_PER_CLASS else f"{MIN_PER_CLASS - count} more needed"
        with st.expander(f"{name}: {counted(count, 'drawing')} ({status})", expanded=count < MIN_PER_CLASS):
            for start in range(0, count, GRID_COLUMNS):
                columns = st.columns(GRID_COLUMNS)
                for offset, column in enumerate(columns[: count - start]):
                    index = start + offset
                    column.image(images[index], width=56, clamp=True)
                    if column.button(
                        "", key=f"delete_{name}_{index}", icon=":material/delete:", help="Delete this drawing"
                    ):
                        del images[index]
                        st.rerun()
            if st.button(f"Remove the class {name}", key=f"remove_class_{name}", icon=":material/remove:"):
                del examples[name]
                st.rerun()


def render_save(
    examples: dict[str, list[np.ndarray]], display_name: str, recipe: DrawingRecipe, name: str | None
) -> str | None:
    """Counts, what is missing, and the Save button; returns the saved dataset's name."""
    missing = missing_to_train(examples)
    total = sum(len(images) for images in examples.values())
    classes = f"{len(examples)} class{'' if len(examples) == 1 else 'es'}"
    st.caption(
        f"{classes}, {counted(total, 'drawing')}. To train you need at least "
        f"{MIN_CLASSES} classes with {MIN_PER_CLASS} drawings each; a fifth of each class is kept aside to test."
    )
    if missing:
        st.info("Still needed: " + ", ".join(missing) + ".")
    source = st.session_state.get(DRAFT_SOURCE_KEY)
    label = "Save changes to the dataset" if source and source == name else "Save as a dataset"
    if not st.button(label, key="save_drawn", type="primary", disabled=bool(missing) or name is None):
        return None
    arrays = {class_name: np.stack(images) for class_name, images in examples.items()}
    try:
        report = build_custom_dataset(
            name,
            display_name,
            arrays,
            recipe,
            by=current_caller(),
            origin="drawn on the canvas",
            replace=source == name,
        )
    except (DatasetError, AccessDenied) as error:
        st.error(str(error))
        return None
    manifest = report.manifest
    dropped = (
        f" {counted(report.duplicates_dropped, 'identical drawing')} kept once." if report.duplicates_dropped else ""
    )
    st.session_state[DRAFT_SOURCE_KEY] = name
    draft_is_saved(examples)
    st.success(
        f"Saved {manifest.info.display_name}: {sum(manifest.train_counts)} drawings to train on and "
        f"{sum(manifest.test_counts)} to test.{dropped}"
    )
    return name


def existing_owner(name: str) -> str | None:
    """Who made a saved dataset, or None if there is none of that name."""
    try:
        return custom_manifest(name).owner
    except DatasetError:
        return None
