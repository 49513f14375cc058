"""The Train page's settings: widgets in, a (ModelSpec, TrainConfig) pair out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.architectures import ARCHITECTURES, Augmentation, ModelSpec, architecture_info, model_facts
from core.architectures.augmentation_preview import augmentation_preview
from core.datasets import Dataset
from core.datasets.summary import mosaic
from core.drawn_test_set import drawn_styles
from core.figures.data import example_grid_figure
from core.training import LEARNING_RATE_CHOICES, OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.config import MAX_EPOCHS
from core.training.presets import PRESETS

L2_VALUES = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3]
BATCH_SIZES = [32, 64, 128, 256, 512]
PREVIEW_IMAGES, PREVIEW_COPIES = 5, 7
# Settings survive a visit to another page.
KEEP = {"persist_state": "session"}


def widget_values(spec: ModelSpec, config: TrainConfig) -> dict[str, object]:
    """Widget keys and values that show a spec and config."""
    augmentation = spec.augmentation
    return {
        "arch": spec.architecture,
        "dropout": spec.dropout,
        "l2": spec.l2,
        "batch_norm": spec.batch_norm,
        "width": spec.width,
        "rotation": augmentation.rotation_degrees,
        "shift": augmentation.shift_fraction,
        "zoom": augmentation.zoom_fraction,
        "flip": augmentation.horizontal_flip,
        "drawings": augmentation.drawing_rate,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "schedule": config.schedule,
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "seed": config.seed,
        "validation_split": config.validation_split,
        "label_smoothing": config.label_smoothing,
        "early_stopping": config.early_stopping_patience,
        "average_weights": config.average_weights,
        "train_size": config.train_size or 0,
    }


def apply_preset() -> None:
    """Widget callback: load the chosen preset into every setting."""
    preset = PRESETS.get(st.session_state.get("preset") or "default", PRESETS["default"])
    st.session_state.update(widget_values(preset.spec, preset.config))


def apply_architecture_defaults() -> None:
    """Widget callback: a new architecture starts from its own dropout and batch-norm defaults."""
    info = architecture_info(st.session_state["arch"])
    st.session_state.update(dropout=info.default_dropout, batch_norm=info.default_batch_norm)


def _init_once() -> None:
    if "arch" not in st.session_state:
        st.session_state["preset"] = "default"
        apply_preset()


def read_augmentation(dataset_name: str) -> Augmentation:
    """The augmentation the widgets describe, as it applies to this dataset."""
    state = st.session_state
    return Augmentation(
        rotation_degrees=float(state["rotation"]),
        shift_fraction=float(state["shift"]),
        zoom_fraction=float(state["zoom"]),
        horizontal_flip=bool(state.get("flip")),
        drawing_rate=float(state.get("drawings", 0.0)),
    ).for_dataset(dataset_name)


def read_settings(dataset_name: str) -> tuple[ModelSpec, TrainConfig]:
    """Build the spec and config from the widgets; raises ValueError with a plain reason."""
    state = st.session_state
    augmentation = read_augmentation(dataset_name)
    spec = ModelSpec(
        architecture=state["arch"],
        dropout=float(state["dropout"]),
        l2=float(state["l2"]),
        batch_norm=bool(state["batch_norm"]),
        width=float(state["width"]),
        augmentation=augmentation,
    )
    config = TrainConfig(
        dataset=dataset_name,
        epochs=int(state["epochs"]),
        batch_size=int(state["batch_size"]),
        optimizer=state["optimizer"],
        learning_rate=float(state["learning_rate"]),
        schedule=state["schedule"],
        label_smoothing=float(state["label_smoothing"]),
        early_stopping_patience=int(state["early_stopping"]),
        validation_split=float(state["validation_split"]),
        train_size=int(state["train_size"]) or None,
        seed=int(state["seed"]),
        average_weights=bool(state.get("average_weights")),
    )
    return spec, config


@st.cache_data(show_spinner=False, max_entries=32)
def _preview_picture(dataset_name: str, source: str, augmentation: Augmentation, seed: int, _images: np.ndarray):
    augmented = augmentation_preview(_images, augmentation, PREVIEW_COPIES, seed)
    tiles = np.concatenate([_images[:, None], augmented], axis=1).reshape(-1, 28, 28)
    columns = PREVIEW_COPIES + 1
    return mosaic(tiles, [np.arange(row * columns, (row + 1) * columns) for row in range(len(_images))], columns)


def render_model_settings(dataset: Dataset) -> None:
    st.selectbox(
        "Architecture", list(ARCHITECTURES), key="arch", **KEEP,
        format_func=lambda name: ARCHITECTURES[name].display_name,
        on_change=apply_architecture_defaults,
    )  # fmt: skip
    info = architecture_info(st.session_state["arch"])
    st.caption(f"{info.description} *Origin: {info.origin}.*")
    spec = ModelSpec(
        st.session_state["arch"],
        batch_norm=bool(st.session_state["batch_norm"]),
        width=float(st.session_state["width"]),
    )
    facts = model_facts(spec, len(dataset.class_names))
    parameters, flops = st.columns(2)
    parameters.metric("Parameters", f"{facts.parameters:,}")
    flops.metric(
        "FLOPs per image", f"{facts.flops / 1e6:,.1f} M", help="Floating-point operations for one forward pass."
    )
    with st.expander("Layers"):
        table = pd.DataFrame(
            [
                (row.name, row.kind, " × ".join(map(str, row.output_shape[1:])), row.parameters, row.flops)
                for row in facts.layers
            ],
            columns=["layer", "kind", "output shape", "parameters", "FLOPs per image"],
        )
        st.dataframe(table, hide_index=True, key="layer_table")


def render_regularisation(dataset: Dataset) -> None:
    info = architecture_info(st.session_state["arch"])
    st.slider(
        "Dropout rate", 0.0, 0.9, step=0.05, key="dropout", **KEEP, disabled=not info.has_dropout,
        help="Fraction of units switched off at random in training; can be changed live while training.",
    )  # fmt: skip
    st.select_slider("L2 weight decay", L2_VALUES, key="l2", **KEEP, format_func=lambda v: f"{v:g}" if v else "off")
    st.toggle("Batch norm", key="batch_norm", **KEEP, help="Normalise each layer's outputs: faster, steadier training.")
    st.select_slider("Width", [0.5, 0.75, 1.0, 1.5, 2.0, 3.0], key="width", **KEEP, format_func=lambda w: f"{w:g}x")
    st.markdown("**Augmentation** (training images only)")
    st.slider("Random rotation (degrees)", 0.0, 30.0, step=1.0, key="rotation", **KEEP)
    st.slider("Random shift (fraction of size)", 0.0, 0.3, step=0.02, key="shift", **KEEP)
    st.slider("Random zoom (fraction)", 0.0, 0.3, step=0.02, key="zoom", **KEEP)
    if dataset.info.mirror_invariant:
        st.toggle("Random horizontal flip", key="flip", **KEEP, help="Clothes look the same mirrored.")
    else:
        st.caption("No horizontal flips for digits: a mirrored digit is a different symbol.")
    drawn_as = " or ".join(drawn_styles(dataset.name))
    st.slider(
        "Robust to drawings (share of images redrawn)",
        0.0,
        1.0,
        step=0.05,
        key="drawings",
        **KEEP,
        help=f"Redraws this share of the training images as people draw them ({drawn_as}), so the model also "
        "reads what is drawn on the Predict page, not only the dataset's own images.",
    )
    augmentation = read_augmentation(dataset.name)
    if augmentation.enabled:
        with st.expander("What the model is fed", expanded=True):
            if st.button("New random versions", key="reshuffle_augmentation", icon=":material/shuffle:"):
                st.session_state["augmentation_seed"] = st.session_state.get("augmentation_seed", 0) + 1
            picks = np.linspace(0, len(dataset.x_train) - 1, PREVIEW_IMAGES).astype(int)
            images = dataset.x_train[picks]
            picture = _preview_picture(
                dataset.name, dataset.source, augmentation, st.session_state.get("augmentation_seed", 0), images
            )
            labels = [dataset.class_names[label] for label in dataset.y_train[picks]]
            st.plotly_chart(example_grid_figure(picture, labels), key="augmentation_preview")
            st.caption("First column: the original. The others: random augmented versions, new every epoch.")


def render_training_settings(dataset: Dataset) -> None:
    st.segmented_control(
        "Optimizer",
        list(OPTIMIZERS),
        key="optimizer",
        **KEEP,
        # "SGD with momentum" was cut off in this column at a laptop's width; the help says the rest.
        format_func=lambda name: "SGD" if name == "sgd" else OPTIMIZERS[name],
        required=True,
        help="Adam adapts each weight's step size; AdamW adds weight decay to it; SGD uses Nesterov momentum 0.9.",
    )
    st.select_slider(
        "Learning rate", LEARNING_RATE_CHOICES, key="learning_rate", **KEEP, format_func=lambda v: f"{v:g}"
    )
    st.selectbox("Schedule", list(SCHEDULES), key="schedule", **KEEP, format_func=SCHEDULES.get)
    st.select_slider("Batch size", BATCH_SIZES, key="batch_size", **KEEP)
    st.number_input("Epochs", 1, MAX_EPOCHS, key="epochs", **KEEP)
    with st.expander("More settings"):
        st.number_input("Seed", 0, 1_000_000, key="seed", **KEEP, help="Same seed and settings: the same result.")
        st.slider("Validation split", 0.05, 0.3, step=0.05, key="validation_split", **KEEP,
                  help="This share of the training images is held out to steer training, the same images "
                       "whether or not the run trains on a subset; the test set is never used for that.")  # fmt: skip
        st.slider("Label smoothing", 0.0, 0.3, step=0.05, key="label_smoothing", **KEEP)
        st.number_input("Early stopping patience (epochs, 0 = off)", 0, 50, key="early_stopping", **KEEP)
        st.toggle("Average the weights (EMA)", key="average_weights", **KEEP,
                  help="Validate, stop early and keep a moving average of the last few steps' weights instead "
                       "of the last step's. At a high learning rate the weights jump from batch to batch; the "
                       "average smooths that out, so the validation curve is steadier and shows sooner where "
                       "a run is heading. Training itself is unchanged, and the training curve still shows the "
                       "last step's weights.")  # fmt: skip
        st.number_input(
            f"Train on a subset (images, 0 = all {len(dataset.x_train):,})", 0, len(dataset.x_train), step=1000,
            key="train_size", **KEEP,
        )  # fmt: skip


def render_settings(dataset: Dataset) -> None:
    """All the setting widgets, starting from a preset."""
    _init_once()
    st.pills(
        "Start from", list(PRESETS), key="preset", **KEEP, format_func=lambda name: PRESETS[name].display_name,
        on_change=apply_preset,
    )  # fmt: skip
    if st.session_state.get("preset"):
        st.caption(PRESETS[st.session_state["preset"]].description)
    model, regularisation, training = st.columns(3, gap="large")
    with model:
        st.subheader("Model")
        render_model_settings(dataset)
    with regularisation:
        st.subheader("Regularisation")
        render_regularisation(dataset)
    with training:
        st.subheader("Training")
        render_training_settings(dataset)
