"""What a model thinks of one image, as light HTML bars: one per class, the answer highlighted.

The Predict page redraws this on every stroke. A Plotly chart cost the drawing tab about 25 ms of
its 100 ms budget after the canvas's own wait (bench/load_under_training.py, drawing);
plain HTML bars cost next to nothing and read the same way, as Teachable Machine shows its classes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

TOP_COLOUR = "#F58518"
OTHER_COLOUR = "#4C78A8"


def probability_bars_html(probabilities: np.ndarray, class_names: Sequence[str]) -> str:
    """One bar per class in class order (stable while a drawing changes), each an ARIA meter."""
    best = int(np.argmax(probabilities))
    rows = []
    for index, (name, probability) in enumerate(zip(class_names, probabilities, strict=True)):
        label = html.escape(str(name))
        share = float(np.clip(probability, 0.0, 1.0))
        colour = TOP_COLOUR if index == best else OTHER_COLOUR
        weight = "font-weight:600;" if index == best else ""
        rows.append(
            f'<div style="display:flex;align-items:center;gap:0.5rem;margin:3px 0;{weight}">'
            f'<span style="flex:0 0 7.5rem;text-align:right;overflow:hidden;text-overflow:ellipsis;'
            f'white-space:nowrap" title="{label}">{label}</span>'
            f'<span role="meter" aria-label="{label}" aria-valuemin="0" aria-valuemax="1" '
            f'aria-valuenow="{share:.6f}" style="flex:1;height:1.05rem;border-radius:3px;'
            f'background:rgba(128,128,128,0.15)"><span style="display:block;height:100%;'
            f'width:{100 * share:.2f}%;border-radius:3px;background:{colour}"></span></span>'
            f'<span style="flex:0 0 3.6rem;text-align:right">{100 * share:.1f} %</span></div>'
        )
    return '<div class="probability-bars">' + "".join(rows) + "</div>"
