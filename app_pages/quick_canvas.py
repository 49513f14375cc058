"""streamlit-drawable-canvas served from a copy of its build that sends a stroke 25 ms after it ends, not 200 ms.

The canvas 0.13 schedules a send 200 ms after every mouse up, and no prop changes that: it was two
thirds of the time from the end of a stroke to the Predict page's answer. The wait only merges mouse
ups closer together than itself (a double click); undo, redo, clear and delete send at once. So a
copy of its build with that one constant shortened is registered with this server's component
registry (Streamlit's internal one: the version is pinned exactly in requirements.txt) and st_canvas
is pointed at it. If anything here fails, for example an upgrade moved the constant, the stock canvas
is used and tests/unit/test_quick_canvas.py and the Predict page's AppTest fail.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import shutil
import tempfile
import threading
from pathlib import Path

import streamlit as st

STOCK_SEND_DELAY_JS = "Bc = 200,"
QUICK_SEND_DELAY_JS = "Bc = 25,"
COMPONENT_ID = "cnn-model-explorer.quick_canvas"
_LOG = logging.getLogger(__name__)
_lock = threading.Lock()
_copy: Path | None = None
_gave_up = False
# Kept on the canvas module itself, so a re-import of this one never mistakes the copy for the stock.
_STOCK_OUT = "_explorer_stock_out"


def stock_canvas_build() -> Path:
    """The installed canvas' built assets (found without importing it: importing registers it with a server)."""
    return Path(importlib.util.find_spec("streamlit_drawable_canvas").origin).parent / "frontend" / "build"


def patched_canvas_build(source: Path, target: Path) -> bool:
    """Copy the canvas' built assets from `source` to `target` with the short send delay; False if not found."""
    scripts = list(source.glob("index-*.js"))
    if len(scripts) != 1:
        return False
    text = scripts[0].read_text(encoding="utf-8")
    if text.count(STOCK_SEND_DELAY_JS) != 1:
        return False
    # Plain copies into a folder of our own: an installed package's files and folders may be read-only,
    # and this one is rewritten and later removed.
    target.mkdir()
    for path in source.iterdir():
        shutil.copyfile(path, target / path.name)
    (target / scripts[0].name).write_text(text.replace(STOCK_SEND_DELAY_JS, QUICK_SEND_DELAY_JS), encoding="utf-8")
    return True


def serve_quick_canvas() -> None:
    """Point st_canvas at the patched copy in the current server (each AppTest has its own registry)."""
    global _gave_up
    with _lock:
        if _gave_up:
            return
        try:
            _serve_copy()
        except Exception:  # whatever went wrong, the stock canvas still works
            _LOG.warning("Serving the canvas with the stock 200 ms send delay", exc_info=True)
            _gave_up = True
            import streamlit_drawable_canvas

            streamlit_drawable_canvas.out = getattr(
                streamlit_drawable_canvas, _STOCK_OUT, streamlit_drawable_canvas.out
            )


def _serve_copy() -> None:
    global _copy
    import streamlit_drawable_canvas
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

    if not hasattr(streamlit_drawable_canvas, "out"):
        raise RuntimeError("st_canvas no longer renders through streamlit_drawable_canvas.out")
    # A temporary folder can be cleaned away under a server that runs for weeks: then copy again.
    if _copy is None or not any((_copy / "build").glob("index-*.js")):
        root = Path(tempfile.mkdtemp(prefix="explorer-canvas-"))  # private to this user (mode 0700)
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        if not patched_canvas_build(stock_canvas_build(), root / "build"):
            raise RuntimeError(f"no {STOCK_SEND_DELAY_JS!r} in the canvas build to shorten")
        _copy = root
    manager = get_bidi_component_manager()
    if manager.get_component_asset_root(COMPONENT_ID) == (_copy / "build").resolve():
        return
    package, name = COMPONENT_ID.split(".")
    manager.register_from_manifest(ComponentManifest(package, "1", [ComponentConfig(name, "build")]), _copy)
    vars(streamlit_drawable_canvas).setdefault(_STOCK_OUT, streamlit_drawable_canvas.out)
    # Declared as streamlit_drawable_canvas declares its own `out`, from the copy's folder.
    streamlit_drawable_canvas.out = st.components.v2.component(
        COMPONENT_ID, js="index-*.js", css="index-*.css", html='<div class="canvas-root"></div>', isolate_styles=True
    )
