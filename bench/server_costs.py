"""Server work measured in this process with the app's own calls: one drawing's steps, one live-panel redraw."""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

from bench.percentiles import percentiles
from core.datasets import load_dataset


def drawing_server_steps(repeats: int = 30) -> dict:
    """The server's work for one drawing, step by step, with the calls the Predict page makes."""
    from core.figures.prediction import probability_bars_html
    from core.figures.steps import step_thumbnail
    from core.inference import Predictor
    from core.insight.saliency import grad_cam, overlay
    from core.preprocessing import preprocess_image
    from core.pretrained import load_pretrained

    digit = load_dataset("mnist").x_test[0]
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[..., :3] = np.array(Image.fromarray(digit).resize((280, 280)))[..., None]
    predictor = Predictor(load_pretrained("mnist"))
    names = [str(n) for n in range(10)]

    times: dict[str, list[float]] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        times.setdefault(name, []).append(1000 * (now - clock[0]))
        clock[0] = now

    for repeat in range(repeats + 1):  # the first compiles the predictor and the gradient function
        clock[0] = time.perf_counter()
        result = preprocess_image(rgba, "mnist")
        lap("preprocess")
        probabilities = predictor.probabilities(result.model_input)
        lap("predict")
        probability_bars_html(probabilities, names)
        lap("probability bars (HTML)")
        heatmap = grad_cam(predictor.model, result.model_input[None], np.array([probabilities.argmax()]), True)
        lap("heatmap (HiResCAM)")
        overlay(result.model_input, heatmap[0])
        lap("heatmap overlay")
        [_png(step_thumbnail(image)) for _, image in result.steps]
        lap("step images as PNG")
        if repeat == 0:
            times.clear()
    return {name: percentiles(values) for name, values in times.items()}


def _png(image: np.ndarray) -> int:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.tell()


def redraw_cost(points: int, repeats: int = 30) -> dict:
    """The live panel's server work per redraw with `points` batches recorded: now, and drawn anew as before."""
    import plotly.io
    import plotly.tools

    from core.figures.training import (
        LiveCurvesFigure,
        curves_from_history,
        curves_from_snapshot,
        training_curves_figure,
    )
    from core.training.progress import EpochRecord, ProgressRecord

    progress = ProgressRecord()
    rng = np.random.default_rng(0)
    for step in range(1, points + 1):
        progress.add_batch(step, float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.3, 1.0)))
    progress.add_epoch(EpochRecord(0, points, 0.5, 0.8, 0.55, 0.8, 1e-3, 10.0))
    live = LiveCurvesFigure()

    def as_streamlit_sends(figure) -> str:
        return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(figure, True), validate=False)

    def now() -> int:
        # What the panel does for a redraw with one new batch: a bounded view, swapped arrays, JSON.
        progress.add_batch(points + 1, 0.5, 0.8)
        curves = curves_from_snapshot("run", progress.snapshot(), progress.curves())
        return len(as_streamlit_sends(live.update(curves)))

    history = {"batches": {"step": list(range(points)), "loss": rng.uniform(0.2, 2, points).tolist(),
                           "accuracy": rng.uniform(0.3, 1, points).tolist()}, "epochs": []}  # fmt: skip

    def before() -> int:
        # The first wave's way: every point, smoothed and laid out in a new figure each second.
        return len(as_streamlit_sends(training_curves_figure([curves_from_history("run", history)])))

    results = {}
    for name, call in (("now", now), ("every point, new figure (before)", before)):
        call()
        times, size = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            size = call()
            times.append(1000 * (time.perf_counter() - started))
        results[name] = {**percentiles(times), "json_bytes": size}
    return results
