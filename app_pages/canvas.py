"""The drawing canvas (streamlit-drawable-canvas, served quick: see quick_canvas.py), giving pixels or None."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.quick_canvas import serve_quick_canvas

CANVAS_SIDE = 280
DEFAULT_BRUSH_WIDTH = 22


def drawing_canvas(key: str, stroke_width: int) -> np.ndarray | None:
    """A 280x280 black canvas with a white brush; returns its RGBA pixels, or None before the first stroke.

    The canvas has its own toolbar for undo, redo and clear. It updates in real time, so each
    stroke reruns the page and the prediction follows the drawing.
    """
    try:
        # Imported here: the component registers itself with the running server when imported.
        from streamlit_drawable_canvas import st_canvas
    except Exception as error:  # the component cannot load (for example, outside a real server)
        st.info(f"The drawing canvas is not available here ({type(error).__name__}); upload an image instead.")
        return None
    serve_quick_canvas()
    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=CANVAS_SIDE,
        height=CANVAS_SIDE,
        drawing_mode="freedraw",
        update_streamlit=True,
        # Since 0.10 the canvas only sends its pixels back when asked to.
        return_image_data=True,
        key=key,
    )
    if result is None or result.json_data is None or not result.json_data.get("objects"):
        return None
    return result.image_data
