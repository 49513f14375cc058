"""How long each Inside-the-model interaction takes for the default (compact) model, uncached.

Uses the shipped MNIST starter model (the app's default architecture) and the embedded sample; each
step is timed several times and the median printed. The goal: under a second per interaction;
t-SNE may take longer and shows a progress bar.

    .venv/bin/python -m bench.insight_latency [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.datasets import load_dataset
from core.evaluation import evaluate_model
from core.inference import Predictor
from core.insight import embeddings, feature_maps, robustness, saliency, uncertainty
from core.pretrained import load_pretrained


def median_seconds(step: Callable[[], object], repeats: int) -> float:
    step()  # the first call traces TensorFlow functions; a user pays that once per model
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = load_dataset("mnist")
    model = load_pretrained("mnist")
    predictor = Predictor(model)
    image = data.x_test[0]
    mc_model = uncertainty.mc_dropout_model(model)
    test = embeddings.penultimate_features(model, data.x_test[:1000])
    reference = embeddings.penultimate_features(model, data.x_train[:4000])
    mine = embeddings.penultimate_features(model, image[np.newaxis])
    steps = {
        "feature maps (all conv layers)": lambda: feature_maps.feature_maps(model, image),
        "HiResCAM, one class": lambda: saliency.grad_cam(model, image, 7),
        "Grad-CAM, one class": lambda: saliency.grad_cam(model, image, 7, elementwise=False),
        "gradient saliency": lambda: saliency.gradient_saliency(model, image, 7),
        "HiResCAM, 24-image gallery": lambda: saliency.grad_cam(model, data.x_test[:24], np.arange(24) % 10),
        "MC dropout, 50 passes": lambda: uncertainty.mc_dropout(mc_model, image, 50),
        "robustness probe + sweep (25 images)": lambda: robustness.sweep(
            predictor.batch_probabilities, image, robustness.Perturbation(rotation=10), "rotation"
        ),
        "features of 1,000 test + 4,000 training images": lambda: (
            embeddings.penultimate_features(model, data.x_test[:1000]),
            embeddings.penultimate_features(model, data.x_train[:4000]),
        ),
        "neighbour index + input's neighbours": lambda: embeddings.FeatureSpace(reference, test).familiarity(mine[0]),
        "PCA of 1,000 test images + input": lambda: embeddings.project_pca(test, mine),
        "calibration on the test set (evaluate + bins)": lambda: uncertainty.calibration(
            evaluate_model(model, data.x_test, data.y_test).probabilities, data.y_test
        ),
        "MC-dropout copy of the model (once per model)": lambda: uncertainty.mc_dropout_model(model),
    }
    for name, step in steps.items():
        print(f"{name:<50} {1000 * median_seconds(step, args.repeats):8.1f} ms")
    started = time.perf_counter()
    embeddings.project_tsne(test, mine)
    print(f"{'t-SNE of 1,000 test images + input (once)':<50} {1000 * (time.perf_counter() - started):8.1f} ms")
    page_interactions(args.repeats)


def page_interactions(repeats: int) -> None:
    """Whole reruns of the Inside page (Streamlit's AppTest, no browser) after a widget changes."""
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    app = AppTest.from_file(str(root / "app.py"), default_timeout=300)
    app.run()
    app.switch_page(str(root / "app_pages" / "inside.py")).run()
    app.segmented_control(key="inside_view").set_value("Robustness").run()
    angles = iter(range(-80, 90, 5))
    interactions = {
        "page rerun: move the rotation slider": lambda: app.slider(key="probe_rotation").set_value(next(angles)).run(),
        "page rerun: pick another test image (robustness)": lambda: (
            app.number_input(key="inside_test_index").increment().run()
        ),
    }
    for name, interaction in interactions.items():
        print(f"{name:<50} {1000 * median_seconds(interaction, repeats):8.1f} ms")
    start = time.perf_counter()  # the first visit evaluates both starter models on their whole test sets
    app.segmented_control(key="inside_view").set_value("MNIST vs Fashion").run()
    print(f"{'first visit, MNIST vs Fashion (starter twins)':<50} {1000 * (time.perf_counter() - start):8.1f} ms")
    for view in ("MNIST vs Fashion", "Feature maps", "Where it looks", "Uncertainty", "Embeddings"):
        app.segmented_control(key="inside_view").set_value(view).run()  # first visit fills the caches
        step = lambda: app.number_input(key="inside_test_index").increment().run()  # noqa: E731
        print(f"{'page rerun: next test image, ' + view:<50} {1000 * median_seconds(step, repeats):8.1f} ms")


if __name__ == "__main__":
    main()
