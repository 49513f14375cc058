"""Sessions rerun while their last run still computes: insight views on one model from many threads at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run apart: without the lock in core.insight.saliency this aborts the interpreter (heap corruption).
SCRIPT = """
import threading
from core.datasets import load_dataset
from core.insight.embeddings import penultimate_features
from core.insight.feature_maps import feature_maps
from core.insight.saliency import grad_cam, gradient_saliency
from core.insight.uncertainty import mc_dropout, mc_dropout_model
from core.pretrained import load_pretrained

model, images = load_pretrained("mnist"), load_dataset("mnist").x_test
noisy = mc_dropout_model(model)
views = [
    lambda i: grad_cam(model, images[i], i % 10),
    lambda i: gradient_saliency(model, images[i], i % 10),
    lambda i: feature_maps(model, images[i]),
    lambda i: penultimate_features(model, images[i : i + 20]),
    lambda i: mc_dropout(noisy, images[i], 20),
]


def session(number):
    for step in range(60):
        views[(number + step) % len(views)]((number * 97 + step) % 900)


threads = [threading.Thread(target=session, args=(number,)) for number in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("all views computed")
"""


def test_insight_views_on_one_model_from_four_threads_at_once_do_not_crash():
    # Under the suite's 600 s limit, so a hang ends here, naming the script, rather than in pytest-timeout.
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=480,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "EXPLORER_OFFLINE": "1"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "all views computed" in run.stdout
