"""The Sweep page's form for a new sweep: widgets in, a `SweepSpec` out (or a plain reason it cannot be one)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import streamlit as st

from core.architectures import ARCHITECTURES
from core.datasets import Dataset
from core.sweep import AVERAGE_WEIGHTS_BY_DEFAULT, PRUNERS, SAMPLERS, Param, SpecError, SweepSpec
from core.training import OPTIMIZERS, SCHEDULES
from core.training.config import MAX_EPOCHS
from core.training.presets import PRESETS

# What each setting is called on the page, and its range's default ends (log-scaled for the learning rate).
LABELS = {
    "dropout": "Dropout rate",
    "learning_rate": "Learning rate",
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "architecture": "Architecture",
    "width": "Width multiplier",
    "batch_norm": "Batch norm",
    "l2": "L2 weight decay",
    "augmentation": "Augmentation strength (0-1: rotation up to 15°, shift and zoom up to 12 %)",
    "drawings": "Robust to drawings (share redrawn)",
    "label_smoothing": "Label smoothing",
    "optimizer": "Optimizer",
    "schedule": "Learning-rate schedule",
}
RANGES = {
    "dropout": (0.0, 0.6, False),
    "learning_rate": (3e-4, 3e-2, True),
    "epochs": (2, 8, False),
    "batch_size": (32, 256, True),
    "width": (0.5, 2.0, False),
    "l2": (1e-5, 1e-3, True),
    "augmentation": (0.0, 1.0, False),
    "drawings": (0.0, 0.6, False),
    "label_smoothing": (0.0, 0.2, False),
}
CHOICES = {
    "architecture": list(ARCHITECTURES),
    "batch_norm": [True, False],
    "optimizer": list(OPTIMIZERS),
    "schedule": list(SCHEDULES),
}
DEFAULT_VARIED = ["dropout", "learning_rate"]
# Only quick-to-train starting points: a sweep trains many models.
BASE_PRESETS = ("quick", "default")


def default_sweep_name(dataset_name: str, taken: Collection[str]) -> str:
    """'fashion-mnist-20261204-1402', with '-2', '-3'… if a study of that minute already has the name."""
    base = f"{dataset_name.replace('_', '-')}-{datetime.now():%Y%m%d-%H%M}"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def render_define(dataset: Dataset, taken: Collection[str]) -> SweepSpec | None:
    """The new-sweep widgets; the spec they describe, or None after saying why it cannot be used."""
    # A name to start from that no study in `taken` has: creating a sweep should not begin with an error.
    st.session_state.setdefault("sweep_new_name", default_sweep_name(dataset.name, taken))
    st.text_input("Name", key="sweep_new_name", placeholder="e.g. dropout-and-lr", max_chars=100)
    left, middle, right = st.columns(3)
    left.number_input("Trials", 1, 500, value=12, key="sweep_trials", help="How many models to train in all.")
    middle.selectbox("Sampler", list(SAMPLERS), key="sweep_sampler", format_func=SAMPLERS.get)
    right.selectbox(
        "Pruner", list(PRUNERS), key="sweep_pruner", format_func=PRUNERS.get,
        help="Stops trials that are behind at the same epoch, to save time. Median stops those below the "
        "finished trials' middle, Lowest third those in their lowest third, Top third only all but those in "
        "their top third; Hyperband cuts brackets of trials at different epochs; None trains all to the end. "
        "On averaged weights (below) the first three judge from the first epoch: in our benchmark Median never "
        "cost the best trial and saved up to 22 %, Top third only up to 37 % but it cost 0.4–0.6 points on two "
        "seeds of six. Top third only is meant for averaged weights. See the README.",
    )  # fmt: skip
    left, right = st.columns(2)
    left.selectbox(
        "Start every trial from", BASE_PRESETS, key="sweep_base", format_func=lambda name: PRESETS[name].display_name
    )
    right.number_input("Epochs per trial (unless varied)", 1, MAX_EPOCHS, value=6, key="sweep_epochs")
    st.toggle(
        "Give each trial its own random seed", key="sweep_trial_seeds",
        help="Trial N starts from seed N: its own starting weights, batch order and augmentation, so the best "
        "trials make a more diverse ensemble. Every trial trains and validates on the same images either way.",
    )  # fmt: skip
    st.toggle(
        "Judge trials on averaged weights", value=AVERAGE_WEIGHTS_BY_DEFAULT, key="sweep_average_weights",
        help="Each trial validates and keeps a moving average of its last steps' weights (EMA) rather than its "
        "last step's. At a high learning rate the last step's weights jump around, so a promising trial can "
        "look weak in its first epochs and be pruned. In our benchmark the ranking after the first epoch "
        "matched the final one with Spearman's rho 0.93 on averaged weights and 0.44 without.",
    )  # fmt: skip
    varied = st.multiselect(
        "Settings to vary", list(LABELS), default=DEFAULT_VARIED, key="sweep_varied", format_func=LABELS.get
    )
    params, problems = [], []
    for name in varied:
        # Every setting's widgets are drawn even when an earlier one is wrong.
        try:
            params.append(_param_widgets(name))
        except SpecError as error:
            problems.append(str(error))
    try:
        if problems:
            raise SpecError(problems[0])
        return SweepSpec(
            dataset=dataset.name,
            params=tuple(params),
            base=(
                ("preset", st.session_state["sweep_base"]),
                ("epochs", int(st.session_state["sweep_epochs"])),
                ("average_weights", bool(st.session_state["sweep_average_weights"])),
            ),
            trials=int(st.session_state["sweep_trials"]),
            sampler=st.session_state["sweep_sampler"],
            pruner=st.session_state["sweep_pruner"],
            trial_seeds=bool(st.session_state["sweep_trial_seeds"]),
        )
    except SpecError as error:
        st.error(f"This sweep cannot be run: {error}", icon=":material/error:")
        return None


def _param_widgets(name: str) -> Param:
    """One varied setting's widgets: choices to pick from, or a range with an optional grid step."""
    with st.container(border=True):
        st.markdown(f"**{LABELS[name]}**")
        if name in CHOICES:
            options = CHOICES[name]
            chosen = st.multiselect(
                "Try", options, default=options[:2], key=f"sweep_choices_{name}",
                format_func=lambda v: ARCHITECTURES[v].display_name if name == "architecture" else str(v),
            )  # fmt: skip
            return Param(name, choices=tuple(chosen)) if chosen else _missing(name)
        low, high, log = RANGES[name]
        integer = name in ("epochs", "batch_size")
        columns = st.columns(3)
        kind = int if integer else float
        low_value = columns[0].number_input("From", value=kind(low), key=f"sweep_low_{name}", format=_format(name))
        high_value = columns[1].number_input("To", value=kind(high), key=f"sweep_high_{name}", format=_format(name))
        scale = columns[2].toggle("Log scale", value=log, key=f"sweep_log_{name}", help="Try each ×10 equally often.")
        if st.session_state.get("sweep_sampler") == "grid":
            step = st.number_input(
                "Grid step", value=kind(_default_step(low, high, integer)), key=f"sweep_step_{name}",
                format=_format(name),
            )  # fmt: skip
            return Param(name, kind(low_value), kind(high_value), step=kind(step))
        return Param(name, kind(low_value), kind(high_value), log=bool(scale))


def _missing(name: str) -> Param:
    raise SpecError(f"{LABELS[name]}: pick at least one value to try.")


def _format(name: str) -> str | None:
    if name in ("epochs", "batch_size"):
        return None
    return "%.0e" if name in ("learning_rate", "l2") else "%.2f"


def _default_step(low: float, high: float, integer: bool) -> float:
    step = (high - low) / 3
    return max(1, round(step)) if integer else round(step, 6)
