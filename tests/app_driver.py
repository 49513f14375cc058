"""Helpers for driving the real app through Streamlit's AppTest."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_app(page: str | None = None, timeout: float = 120) -> AppTest:
    """Run app.py, then switch to a page of `app_pages/` by file stem (e.g. "train")."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    app.run()
    if page:
        switch_to(app, page)
    return app


def switch_to(app: AppTest, page: str) -> None:
    app.switch_page(str(ROOT / "app_pages" / f"{page}.py")).run()


def figure_of(chart) -> go.Figure:
    """The Plotly figure a `st.plotly_chart` element shows (arrays decoded from Plotly's binary JSON)."""
    return plotly.io.from_json(chart.proto.spec)


def plotly_array(value) -> np.ndarray:
    """An array from a figure, whether Plotly kept it as a list or packed it as base64 binary."""
    if isinstance(value, dict) and "bdata" in value:
        shape = tuple(int(n) for n in str(value.get("shape", "-1")).split(","))
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).reshape(shape)
    return np.asarray(value)


# One answer bar's ARIA meter: its (escaped) class name and its probability.
PROBABILITY_METER = re.compile(r'role="meter" aria-label="([^"]*)" [^>]*aria-valuenow="([0-9.]+)"')


def probability_bars(app: AppTest) -> dict[str, float]:
    """The Predict page's answer bars, class name to probability, read from their ARIA meters."""
    (bars,) = [m.value for m in app.markdown if 'class="probability-bars"' in m.value]
    meters = PROBABILITY_METER.findall(bars)
    return {html.unescape(name): float(value) for name, value in meters}
