"""Numbers in words, the way the pages print them."""

from __future__ import annotations

import time

import streamlit as st

from core.steady_reading import ZOOMS

# The help on test-accuracy columns: why a pruned sweep trial has none.
TEST_ACCURACY_HELP = (
    "Measured on the test set when training ends. A pruned sweep trial is saved without it: make its run "
    "the active model and open Evaluate to measure it."
)

# How the app reads one image (core.steady_reading), said once for the Predict and Evaluate pages.
STEADY_READING_WORDS = (
    "the mean of the model's answers for the image nudged a pixel each way and zoomed "
    f"{round(100 * (max(ZOOMS) - 1))} % in and out"
)


def describe_time(seconds: float | None) -> str:
    """'45 s', '3:07' or '1.2 h'."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return time.strftime("%-M:%S", time.gmtime(seconds)) if seconds < 3600 else f"{seconds / 3600:.1f} h"


def epochs_words(epochs: float) -> str:
    """'1 epoch', '3 epochs', or '2.96 epochs' for a run stopped partway through its third."""
    return counted(int(epochs), "epoch") if float(epochs).is_integer() else f"{epochs:g} epochs"


def counted(number: int, noun: str) -> str:
    """'1 epoch', '3 epochs', '1,000 images'."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def percent_column(help: str | None = None) -> st.column_config.NumberColumn:
    """A table column of shares (0-1) shown as percentages with two decimals, as the pages' metrics show them."""
    # Streamlit's percent format trims zeros ("95%", "95.4%", "92.65%") unless a step fixes the precision:
    # four decimals of the share are two of the percentage ("95.40%").
    return st.column_config.NumberColumn(format="percent", step=0.0001, help=help)
