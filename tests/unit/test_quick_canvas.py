"""The canvas copy the app serves differs from the installed build by its send delay alone (25 ms, not 200 ms).

These fail if an upgrade of streamlit-drawable-canvas moves the constant the copy shortens; the app
would then serve the stock canvas and its 200 ms wait (app_pages/quick_canvas.py).
"""

from __future__ import annotations

import stat

from app_pages.quick_canvas import patched_canvas_build, stock_canvas_build


def test_the_installed_build_is_copied_with_only_its_send_delay_shortened(tmp_path):
    assert patched_canvas_build(stock_canvas_build(), tmp_path / "build")
    [stock] = stock_canvas_build().glob("index-*.js")
    patched = (tmp_path / "build" / stock.name).read_text(encoding="utf-8")
    assert patched.count("Bc = 25,") == 1
    assert patched.replace("Bc = 25,", "Bc = 200,") == stock.read_text(encoding="utf-8")
    copied = sorted(path.name for path in (tmp_path / "build").iterdir())
    assert copied == sorted(path.name for path in stock_canvas_build().iterdir())


def test_a_read_only_installed_build_is_still_copied_and_patched(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    script = source / "index-abc.js"
    script.write_text("const x = 1, Bc = 200, y = 2;", encoding="utf-8")
    script.chmod(stat.S_IRUSR)
    source.chmod(stat.S_IRUSR | stat.S_IXUSR)
    assert patched_canvas_build(source, tmp_path / "build")
    copy = tmp_path / "build" / "index-abc.js"
    assert copy.read_text(encoding="utf-8") == "const x = 1, Bc = 25, y = 2;"
    # The copy is the app's own to rewrite and remove (checked by mode: root may write anything anyway).
    assert copy.stat().st_mode & stat.S_IWUSR and copy.parent.stat().st_mode & stat.S_IWUSR


def test_a_build_without_the_constant_is_left_alone(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "index-abc.js").write_text("const delay = 150;", encoding="utf-8")
    assert not patched_canvas_build(source, tmp_path / "build")
    assert not (tmp_path / "build").exists()
