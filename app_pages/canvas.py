"""The drawing canvas (streamlit-drawable-canvas), wrapped so the Predict page gets pixels or None."""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

CANVAS_SIDE = 280
DEFAULT_BRUSH_WIDTH = 22

# streamlit-drawable-canvas 0.13 waits 200 ms after every change before it sends the drawing: two
# thirds of a stroke's time to its answer, and no prop changes it. A freehand stroke is one change,
# sent when the mouse lifts, so the wait only has to gather the bursts an undo or a clear makes,
# which arrive within a few milliseconds. The canvas is served from a copy of its build with this
# one constant shortened (requirements.txt pins the canvas exactly; tests/app/test_canvas.py fails
# if an upgrade moves the constant, and the stock canvas is used meanwhile).
STOCK_SEND_DELAY = "Bc = 200,"
SEND_DELAY_MS = 25
COMPONENT_PACKAGE = "cnn-model-explorer"
COMPONENT_NAME = "drawing_canvas"
_LOG = logging.getLogger(__name__)


def stock_canvas_build() -> Path:
    """The installed canvas' built assets (found without importing it: importing registers it with a server)."""
    return Path(importlib.util.find_spec("streamlit_drawable_canvas").origin).parent / "frontend" / "build"


def patched_canvas_build(source: Path, target: Path) -> bool:
    """Copy the canvas' built assets from `source` to `target` with a shorter send delay; False if not found."""
    scripts = list(source.glob("index-*.js"))
    texts = [script.read_text(encoding="utf-8") for script in scripts]
    if len(scripts) != 1 or texts[0].count(STOCK_SEND_DELAY) != 1:
        return False
    shutil.copytree(source, target)
    (target / scripts[0].name).write_text(
        texts[0].replace(STOCK_SEND_DELAY, f"Bc = {SEND_DELAY_MS},"), encoding="utf-8"
    )
    return True


@st.cache_resource(show_spinner=False)  # once per server process, even when sessions start together
def use_quick_canvas() -> bool:
    """Make st_canvas serve the patched copy, once per server process; False (stock canvas) if it cannot."""
    import streamlit_drawable_canvas
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

    version = importlib.metadata.version("streamlit-drawable-canvas")
    root = Path(tempfile.mkdtemp(prefix="explorer-canvas-"))  # private to this user (mode 0700)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    try:
        if not patched_canvas_build(stock_canvas_build(), root / "build"):
            _LOG.warning("streamlit-drawable-canvas %s has no 200 ms send delay to shorten; using it as it is", version)
            return False
        manifest = ComponentManifest(COMPONENT_PACKAGE, "1", [ComponentConfig(COMPONENT_NAME, asset_dir="build")])
        get_bidi_component_manager().register_from_manifest(manifest, root)
        component = st.components.v2.component(
            f"{COMPONENT_PACKAGE}.{COMPONENT_NAME}",
            js="index-*.js",
            css="index-*.css",
            html='<div class="canvas-root"></div>',
            isolate_styles=True,
        )
    except Exception:  # a Streamlit upgrade that changed the registry: the stock canvas still works
        _LOG.warning("Could not serve streamlit-drawable-canvas %s with a shorter send delay", version, exc_info=True)
        return False
    # st_canvas builds its props and reads its result around this one module-level component.
    streamlit_drawable_canvas.out = component
    return True


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
    use_quick_canvas()
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
