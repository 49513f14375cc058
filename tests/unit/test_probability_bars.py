"""The Predict page's answer bars: one ARIA meter per class, the answer marked, class names escaped."""

from __future__ import annotations

import html

import numpy as np
from app_driver import PROBABILITY_METER as METER

from core.figures.prediction import TOP_COLOUR, probability_bars_html


def test_every_class_gets_a_meter_in_class_order_with_its_probability_and_width():
    probabilities = np.array([0.1, 0.7, 0.2], np.float32)
    page = probability_bars_html(probabilities, ["cat", "dog", "bird"])
    meters = METER.findall(page)
    assert [name for name, _ in meters] == ["cat", "dog", "bird"]
    np.testing.assert_allclose([float(value) for _, value in meters], probabilities, atol=1e-6)
    assert "width:70.00%" in page and "70.0 %" in page
    # Only the answer's bar has the highlight colour.
    assert page.count(TOP_COLOUR) == 1
    assert page.index('aria-label="dog"') < page.index(TOP_COLOUR) < page.index('aria-label="bird"')


def test_a_hostile_class_name_is_shown_as_text_never_as_markup():
    name = '<img src=x onerror="alert(1)">'
    page = probability_bars_html(np.array([0.9, 0.1]), [name, "fine"])
    assert "<img" not in page
    assert html.escape(name) in page
    assert METER.findall(page)[0][0] == html.escape(name)
