"""Helpers for driving the real app through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_app(page: str | None = None, timeout: float = 120) -> AppTest:
    """Run app.py, then switch to a page of `app_pages/` by file stem (e.g. "train")."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    app.run()
    if page:
        switch_to(app, page)
    return app


def switch_to(app: AppTest, page: str) -> None:
    app.switch_page(str(ROOT / "app_pages" / f"{page}.py")).run()
