"""The drawing canvas is served from a copy of its build that sends a stroke 25 ms after it ends, not 200 ms.

These fail if an upgrade of streamlit-drawable-canvas moves the constant the copy shortens
(the app would then fall back to the stock canvas and its 200 ms wait, see app_pages/canvas.py).
"""

from __future__ import annotations

from app_pages.canvas import SEND_DELAY_MS, STOCK_SEND_DELAY, patched_canvas_build, stock_canvas_build

BUILD = stock_canvas_build()


def test_the_installed_canvas_build_is_copied_with_only_its_send_delay_shortened(tmp_path):
    assert patched_canvas_build(BUILD, tmp_path / "build")
    [stock] = BUILD.glob("index-*.js")
    patched = (tmp_path / "build" / stock.name).read_text(encoding="utf-8")
    assert STOCK_SEND_DELAY not in patched
    assert patched == stock.read_text(encoding="utf-8").replace(STOCK_SEND_DELAY, f"Bc = {SEND_DELAY_MS},")
    assert sorted(path.name for path in (tmp_path / "build").iterdir()) == sorted(path.name for path in BUILD.iterdir())


def test_a_build_without_the_constant_is_left_alone(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "index-abc.js").write_text("const delay = 150;", encoding="utf-8")
    assert not patched_canvas_build(source, tmp_path / "build")
    assert not (tmp_path / "build").exists()
