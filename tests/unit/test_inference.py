"""Fast prediction agrees with Keras, and a real digit survives a photo-like round trip unchanged."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.access import LOCAL
from core.architectures import ModelSpec
from core.datasets import load_dataset
from core.inference import Predictor, answer_certainty, top_classes
from core.preprocessing import preprocess_image
from core.steady_reading import views
from core.training import TrainConfig, TrainingJob, TrainingScheduler


@pytest.fixture(scope="module")
def digit_model():
    """The compact CNN trained for two epochs on the embedded MNIST sample (about 97 % on its test set)."""
    job = TrainingJob(load_dataset("mnist"), ModelSpec("compact"), TrainConfig(dataset="mnist", epochs=2))
    TrainingScheduler(1).submit(job, by=LOCAL)
    assert job.wait(300) and job.result.model is not None
    return job.result.model


def test_predictor_agrees_with_model_predict(digit_model):
    images = load_dataset("mnist").x_test[:32]
    predictor = Predictor(digit_model)
    expected = digit_model.predict(images[..., None], verbose=0)
    np.testing.assert_allclose(predictor.batch_probabilities(images), expected, atol=1e-5)


def test_one_image_is_read_steadily_the_mean_of_the_models_answers_over_its_views(digit_model):
    image = load_dataset("mnist").x_test[0]
    expected = np.mean([digit_model.predict(view[..., None], verbose=0)[0] for view in views(image[None])], axis=0)
    np.testing.assert_allclose(Predictor(digit_model).probabilities(image), expected, atol=1e-5)


def test_top_classes_are_sorted_best_first():
    probabilities = np.array([0.05, 0.6, 0.05, 0.2, 0.1, 0, 0, 0, 0, 0])
    assert top_classes(probabilities) == [(1, 0.6), (3, 0.2), (4, 0.1)]


def test_a_real_digit_photographed_large_and_off_centre_keeps_its_prediction(digit_model):
    dataset = load_dataset("mnist")
    predictor = Predictor(digit_model)
    confident = [i for i in range(200) if predictor.probabilities(dataset.x_test[i]).max() > 0.9][:10]
    assert len(confident) == 10
    unchanged = 0
    for index in confident:
        digit = dataset.x_test[index]
        big = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR)
        page = Image.new("L", (520, 400), 255)
        page.paste(big, (200 + index % 30, 40 + index % 50))
        buffer = io.BytesIO()
        page.convert("RGB").save(buffer, "JPEG", quality=90)
        result = preprocess_image(buffer.getvalue(), "mnist")
        assert np.corrcoef(result.model_input.ravel(), digit.ravel())[0, 1] > 0.8
        before = predictor.probabilities(digit).argmax()
        unchanged += int(predictor.probabilities(result.model_input).argmax() == before)
    assert unchanged >= 9, f"{unchanged} of 10 kept their prediction"


@pytest.mark.parametrize(
    ("top", "certainty"),
    [(0.31, "unsure"), (0.599, "unsure"), (0.6, "probable"), (0.617, "probable"), (0.849, "probable"),
     (0.85, "confident"), (0.99, "confident")],
)  # fmt: skip
def test_an_answer_reads_confident_only_well_above_a_guess(top, certainty):
    assert answer_certainty(top) == certainty
