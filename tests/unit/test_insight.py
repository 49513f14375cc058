"""Inside the model: Grad-CAM and saliency where the answer is known, feature maps, MC dropout, calibration."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from factories import make_training_result

from core.architectures import Augmentation, ModelSpec, build_model
from core.datasets import load_dataset
from core.insight.comparison import twin_runs
from core.insight.embeddings import TSNE_ROUNDS, FeatureSpace, penultimate_features, project_pca, project_tsne
from core.insight.feature_maps import feature_maps, first_layer_filters, mosaic
from core.insight.robustness import Perturbation, perturb, sweep
from core.insight.saliency import grad_cam, gradient_saliency
from core.insight.uncertainty import calibration, mc_dropout, mc_dropout_model
from core.pretrained import load_pretrained
from core.runs.store import RunStore

HALF = 14


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist")


def half_blind_model(keep: str) -> keras.Model:
    """A model that can only see one half of the image: its features are cropped to the left or right half."""
    cropping = ((0, 0), (0, HALF)) if keep == "left" else ((0, 0), (HALF, 0))
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, padding="same", kernel_initializer="ones", bias_initializer="zeros"),
            keras.layers.Activation("relu"),
            keras.layers.Cropping2D(cropping),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", kernel_initializer=keras.initializers.RandomUniform(0, 1, 0),
                               name="class_probabilities"),
        ]
    )  # fmt: skip
    return model


@pytest.mark.parametrize("keep", ["left", "right"])
def test_grad_cam_and_saliency_highlight_only_the_half_a_model_looks_at(keep):
    image = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    model = half_blind_model(keep)
    seen, unseen = (slice(0, HALF), slice(HALF, 28)) if keep == "left" else (slice(HALF, 28), slice(0, HALF))
    for target in range(3):
        cam = grad_cam(model, image, target)[0]
        assert cam.max() == pytest.approx(1.0)
        assert cam[:, unseen].max() == 0 and cam[:, seen].mean() > 0.3
        # Classic Grad-CAM weighs whole channels, so it also lights the ignored half where they fire:
        # the reason the element-wise variant is the default.
        classic = grad_cam(model, image, target, elementwise=False)[0]
        assert classic[:, unseen].mean() > 0.3
        saliency = gradient_saliency(model, image, target)[0]
        # A 3x3 kernel lets the seen half's border column feel one column over the line, no further.
        beyond_border = slice(HALF + 1, 28) if keep == "left" else slice(0, HALF - 1)
        assert saliency[:, beyond_border].max() == 0 and saliency[:, seen].sum() > 0.9 * saliency.sum()


def test_heatmaps_are_compiled_once_per_model_and_forgotten_with_it():
    import gc

    from core.insight import saliency

    image = np.random.default_rng(1).integers(0, 256, (28, 28)).astype(np.uint8)
    model = half_blind_model("left")
    first = grad_cam(model, image, 2)
    compiled = saliency._compiled_functions[(id(model), "HiResCAM")]
    # Another batch size reuses the one compiled function (a fixed signature, no retracing), same maps.
    np.testing.assert_allclose(grad_cam(model, image[None].repeat(3, 0), [2, 2, 2])[1], first[0], atol=1e-6)
    assert saliency._compiled_functions[(id(model), "HiResCAM")] is compiled
    assert compiled.experimental_get_tracing_count() == 1
    key = id(model)
    del model
    gc.collect()
    assert not [cached for cached in saliency._compiled_functions if cached[0] == key]


def test_grad_cam_works_on_saved_models_of_both_kinds_and_points_at_the_digit(tmp_path, digits):
    for architecture in ("compact", "resnet"):
        path = tmp_path / f"{architecture}.keras"
        build_model(ModelSpec(architecture), seed=0).save(path)
        loaded = keras.models.load_model(path)
        cams = grad_cam(loaded, digits.x_test[:3], [0, 1, 2])
        assert cams.shape == (3, 28, 28) and np.all((cams >= 0) & (cams <= 1))
    # A trained model's evidence gathers on the strokes, away from the empty border, more than chance
    # would put it there (the drawing-robust starter also weighs the empty space around a stroke, so
    # its maps are broader: 1.26x chance on the strokes, 0.71x on the border, five digits of each class).
    model = load_pretrained("mnist")
    labels = load_dataset("mnist").y_test
    images = load_dataset("mnist").x_test[np.concatenate([np.flatnonzero(labels == k)[:5] for k in range(10)])]
    cams = grad_cam(model, images, model.predict(images[..., None], verbose=0).argmax(axis=1))
    border = np.ones((28, 28), bool)
    border[3:-3, 3:-3] = False
    assert (cams * (images > 0)).sum() / cams.sum() > 1.15 * (images > 0).mean()
    assert cams[:, border].sum() / cams.sum() < 0.8 * border.mean()


def test_feature_maps_have_each_convolutions_shape_and_values(digits):
    model = build_model(ModelSpec("compact"), seed=0)
    maps = feature_maps(model, digits.x_test[0])
    assert [m.shape for m in maps] == [(28, 28, 16), (14, 14, 32), (7, 7, 64)]
    first = model.get_layer(maps[0].layer)
    expected = first(digits.x_test[:1, ..., None].astype(np.float32) / 255.0)[0]
    np.testing.assert_allclose(maps[0].maps, expected, atol=1e-5)
    filters = first_layer_filters(model)
    assert filters.shape == (16, 3, 3)
    np.testing.assert_allclose(filters[5], np.asarray(first.kernel)[:, :, 0, 5])
    assert feature_maps(build_model(ModelSpec("mlp"), seed=0), digits.x_test[0]) == []


def test_a_mosaic_tiles_maps_each_scaled_with_gaps():
    stack = np.stack([np.full((2, 3), 5.0), np.arange(6.0).reshape(2, 3), np.zeros((2, 3))])
    picture, tiles = mosaic(stack, columns=2)
    assert picture.shape == tiles.shape == (2 * 2 + 1, 2 * 3 + 1)
    np.testing.assert_allclose(picture[0:2, 4:7], np.arange(6.0).reshape(2, 3) / 5)
    assert np.isnan(picture[2]).all() and np.isnan(picture[3:5, 4:7]).all()
    assert (tiles[0:2, 4:7] == 1).all() and (tiles[3:5, 0:3] == 2).all() and (tiles[2] == -1).all()


def test_mc_dropout_spread_is_zero_without_dropout_and_positive_with_it(digits):
    image = digits.x_test[0]
    for dropout in (0.0, 0.5):
        model = build_model(ModelSpec("compact", dropout=dropout), seed=0)
        result = mc_dropout(mc_dropout_model(model), image, passes=30)
        assert result.samples.shape == (30, 10)
        if dropout == 0:
            assert result.spread.max() < 1e-6
            # Batch norm kept its inference statistics: the passes equal the model's own answer.
            np.testing.assert_allclose(result.mean, model(image[None, ..., None] / 1.0, training=False)[0], atol=1e-5)
        else:
            assert result.spread.max() > 1e-3
            assert result.mean.sum() == pytest.approx(1.0, abs=1e-5)


def test_expected_calibration_error_matches_a_hand_computed_example():
    def answer(confidence: float, predicted: int) -> np.ndarray:
        row = np.full(10, (1 - confidence) / 9)
        row[predicted] = confidence
        return row

    probabilities = np.stack([answer(0.95, 0), answer(0.95, 0), answer(0.55, 3), answer(0.65, 4)])
    labels = np.array([0, 1, 3, 4])  # the second confident answer is wrong
    result = calibration(probabilities, labels, bins=10)
    assert result.counts.tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 2]
    assert result.accuracy[9] == 0.5 and result.confidence[9] == pytest.approx(0.95)
    # (2/4)|0.5 - 0.95| + (1/4)|1 - 0.55| + (1/4)|1 - 0.65|
    assert result.expected_calibration_error == pytest.approx(0.225 + 0.1125 + 0.0875)


def test_perturbations_move_turn_thicken_and_add_noise_as_named():
    bar = np.zeros((28, 28), np.uint8)
    bar[13:15, 6:22] = 255
    assert np.array_equal(perturb(bar, Perturbation()), bar)
    turned = perturb(bar, Perturbation(rotation=90))
    rows, columns = np.nonzero(turned > 128)
    assert np.ptp(rows) > 12 and np.ptp(columns) <= 3  # horizontal became vertical
    shifted = perturb(bar, Perturbation(shift_x=3))
    assert np.nonzero(shifted > 128)[1].mean() == pytest.approx(np.nonzero(bar > 128)[1].mean() + 3, abs=0.5)
    assert (perturb(bar, Perturbation(thickness=1)) > 128).sum() > (bar > 128).sum()
    assert (perturb(bar, Perturbation(thickness=-1)) > 128).sum() == 0  # a 2-pixel stroke thinned by 1 on each side
    smaller = perturb(bar, Perturbation(scale=0.5))
    assert np.ptp(np.nonzero(smaller > 128)[1]) < 10
    noisy = perturb(bar, Perturbation(noise=0.2, seed=1))
    assert np.array_equal(noisy, perturb(bar, Perturbation(noise=0.2, seed=1))) and not np.array_equal(noisy, bar)


def test_a_sweep_returns_probabilities_for_each_value_and_rotation_hurts_a_seven(digits):
    model = load_pretrained("mnist")
    seven = digits.x_test[np.flatnonzero(digits.y_test == 7)[0]]
    values, probabilities = sweep(lambda batch: model.predict(batch[..., None], verbose=0), seven, Perturbation(),
                                  "rotation")  # fmt: skip
    assert probabilities.shape == (len(values), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    upright = probabilities[np.argmin(np.abs(values))]
    assert upright.argmax() == 7 and probabilities[[0, -1], 7].max() < upright[7]


def test_the_nearest_training_images_share_the_class_and_noise_is_unfamiliar(digits):
    model = load_pretrained("mnist")
    reference = penultimate_features(model, digits.x_train[:2000])
    test = penultimate_features(model, digits.x_test[:300])
    space = FeatureSpace(reference, test)
    same_class = [np.mean(digits.y_train[space.familiarity(test[i]).neighbours] == digits.y_test[i]) for i in range(50)]
    assert np.mean(same_class) > 0.85
    assert not space.familiarity(test[0]).unfamiliar
    noise = np.random.default_rng(0).integers(0, 256, (1, 28, 28)).astype(np.uint8)
    assert space.familiarity(penultimate_features(model, noise)[0]).unfamiliar


def test_projections_place_the_users_input_among_the_rest(digits):
    features = penultimate_features(load_pretrained("mnist"), digits.x_test[:80])
    points, extra = project_pca(features, features[:1])
    assert points.shape == (80, 2) and np.allclose(extra, points[:1], atol=1e-4)
    reported = []
    points, extra = project_tsne(features[1:], features[:1], progress=reported.append)
    assert points.shape == (79, 2) and extra.shape == (1, 2)
    assert len(reported) == TSNE_ROUNDS and reported[-1] == 1.0


def test_twin_runs_pair_the_same_recipe_on_both_datasets(tmp_path):
    store = RunStore(tmp_path)
    mnist = store.save(make_training_result(0, dataset="mnist"), "sample")
    fashion = store.save(make_training_result(0, dataset="fashion_mnist"), "sample")
    store.save(make_training_result(0, dataset="fashion_mnist", dropout=0.5), "sample")  # another recipe
    store.save(make_training_result(1, dataset="mnist"), "sample")  # another seed
    pairs = twin_runs(store.list_runs())
    assert [(a.run_id, b.run_id) for a, b in pairs] == [(mnist, fashion)]


def test_a_recipe_trained_on_each_dataset_pairs_though_its_drawings_and_flips_follow_the_dataset(tmp_path):
    store = RunStore(tmp_path)
    spec = ModelSpec("compact", augmentation=Augmentation(horizontal_flip=True, drawing_rate=0.3))
    twins = {}
    for dataset in ("mnist", "fashion_mnist"):  # as the Inside page trains a recipe on the other dataset
        result = replace(make_training_result(0, dataset=dataset), spec=spec.for_dataset(dataset))
        twins[dataset] = store.save(result, "sample")
    assert [(a.run_id, b.run_id) for a, b in twin_runs(store.list_runs())] == [(twins["mnist"], twins["fashion_mnist"])]


def test_a_run_saved_before_a_training_setting_existed_pairs_with_one_trained_at_its_default(tmp_path):
    store = RunStore(tmp_path)
    mnist = store.save(make_training_result(0, dataset="mnist"), "sample")
    fashion = store.save(make_training_result(0, dataset="fashion_mnist"), "sample")
    runs = store.list_runs()
    old = next(run for run in runs if run.run_id == mnist)
    del old.config["training"]["average_weights"]  # as config.json was written before weight averaging
    assert [(a.run_id, b.run_id) for a, b in twin_runs(runs)] == [(mnist, fashion)]
