"""The drawing floor: the Predict page's canvas alone in a fragment, answering with one line and no model.

`bench/load_under_training.py` times a stroke to its answer here and on the real Predict page in the
same run: what this app takes is what the canvas component and Streamlit cost before the app does
any work. It uses the Predict page's canvas (app_pages/canvas.py), served with the same shortened
send delay.
"""

import numpy as np
import streamlit as st

from app_pages.canvas import DEFAULT_BRUSH_WIDTH, drawing_canvas

st.set_page_config(page_title="Canvas floor", layout="wide")


@st.fragment
def canvas_and_answer() -> None:
    """The canvas and a line that changes with every stroke, as the Predict page's answer does."""
    left, right = st.columns(2)
    with left:
        pixels = drawing_canvas("canvas_floor", DEFAULT_BRUSH_WIDTH)
    if pixels is not None:
        ink = int(np.count_nonzero(pixels[..., 0]))
        # A " · " line, as the bench's probe finds the Predict page's answer by.
        right.markdown(f"{ink:,} pixels of ink · no model")


canvas_and_answer()
