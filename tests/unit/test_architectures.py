"""Every architecture builds from its spec, takes raw pixels, and each regularisation setting really acts."""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.architectures import (
    ARCHITECTURES,
    Augmentation,
    FusedBatchNorm,
    LiveDropout,
    ModelSpec,
    build_model,
    default_spec,
    flops_per_image,
    layer_table,
    model_facts,
    parameter_count,
)

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, (16, 28, 28, 1)).astype(np.uint8)
ONE_HOT = np.eye(10)[np.arange(16) % 10]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_architecture_takes_raw_pixels_and_trains_a_few_batches(name):
    model = build_model(default_spec(name), seed=1)
    probabilities = np.asarray(model(PIXELS.astype(np.float32), training=False))
    assert probabilities.shape == (16, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy())
    history = model.fit(PIXELS.astype(np.float32), ONE_HOT, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    # Scaling is inside the model: uint8 pixels give exactly what the same values as floats give.
    np.testing.assert_allclose(model.predict(PIXELS, verbose=0), model.predict(PIXELS.astype(np.float32), verbose=0))


def test_models_can_be_built_on_several_threads_at_once():
    """The app builds models for its layer table while a job builds one to train."""
    errors = []

    def build_some():
        try:
            for name in ("compact", "resnet", "simple_cnn"):
                build_model(default_spec(name))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=build_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a thread did not finish its build in 120 s (deadlocked?)"
    assert not errors
    names = [layer.name for layer in build_model(default_spec("simple_cnn")).layers]
    assert names[:4] == ["scale_to_unit", "conv_1", "relu_1", "max_pool_1"]


def test_the_same_seed_gives_the_same_initial_weights_and_another_seed_does_not():
    first, second, other = (build_model(default_spec("simple_cnn"), seed=s) for s in (3, 3, 4))
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first.get_weights(), other.get_weights(), strict=True))


def _kinds(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_batch_norm_setting_adds_and_removes_batch_norm_layers():
    assert _kinds(build_model(ModelSpec("simple_cnn", batch_norm=True))).count("FusedBatchNorm") == 3
    assert "FusedBatchNorm" not in _kinds(build_model(ModelSpec("simple_cnn", batch_norm=False)))


def test_fused_batch_norm_matches_keras_batch_normalization():
    """Same maths as Keras' layer: normalised by batch statistics in training, moving averages in inference."""
    images = RNG.normal(3.0, 2.0, (32, 7, 7, 5)).astype(np.float32)
    ours = FusedBatchNorm(momentum=0.9)
    reference = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    for _ in range(3):
        np.testing.assert_allclose(ours(images, training=True), reference(images, training=True), atol=1e-4)
    # The fused kernel averages the unbiased (n - 1) batch variance, as TensorFlow 1 did: a 0.06 % difference here.
    np.testing.assert_allclose(ours(images, training=False), reference(images, training=False), rtol=2e-3, atol=1e-5)
    flat = images.reshape(32, -1)
    np.testing.assert_allclose(
        FusedBatchNorm()(flat, training=True),
        keras.layers.BatchNormalization(epsilon=1e-3)(flat, training=True),
        atol=1e-4,
    )


def test_width_multiplier_scales_every_layer_and_keeps_the_published_sizes_at_one():
    narrow = build_model(ModelSpec("compact", width=1.0))
    wide = build_model(ModelSpec("compact", width=2.0))
    convs = lambda model: [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]  # noqa: E731
    assert convs(narrow) == [16, 32, 64]
    assert convs(wide) == [32, 64, 128]


def test_l2_setting_adds_a_weight_penalty_to_the_loss():
    plain = build_model(ModelSpec("simple_cnn", l2=0.0))
    penalised = build_model(ModelSpec("simple_cnn", l2=1e-3))
    plain(PIXELS.astype(np.float32))
    penalised(PIXELS.astype(np.float32))
    assert not plain.losses
    assert len(penalised.losses) == 4  # two convs, the hidden dense layer and the classifier
    assert float(sum(penalised.losses)) > 0


def test_augmentation_layers_exist_and_act_only_in_training():
    spec = ModelSpec(
        "compact",
        augmentation=Augmentation(rotation_degrees=15, shift_fraction=0.1, zoom_fraction=0.1, horizontal_flip=True),
    )
    model = build_model(spec, seed=0)
    names = [layer.name for layer in model.layers]
    assert {"random_flip", "random_rotation", "random_shift", "random_zoom"} <= set(names)
    augment = keras.Sequential([layer for layer in model.layers if layer.name.startswith("random_")])
    images = PIXELS.astype(np.float32)
    np.testing.assert_array_equal(np.asarray(augment(images, training=False)), images)
    assert not np.allclose(np.asarray(augment(images, training=True)), images)
    assert not any(
        name.startswith("random_") for name in (layer.name for layer in build_model(ModelSpec("compact")).layers)
    )


def test_dropout_acts_only_in_training_at_the_spec_rate():
    layer = LiveDropout(0.5, seed=1)
    ones = np.ones((200, 100), np.float32)
    np.testing.assert_array_equal(np.asarray(layer(ones, training=False)), ones)
    dropped = np.asarray(layer(ones, training=True))
    assert 0.45 < np.mean(dropped == 0) < 0.55
    # Kept units are scaled up so the expected activation is unchanged.
    np.testing.assert_allclose(dropped[dropped != 0], 2.0)


def test_changing_the_dropout_rate_changes_a_compiled_step_without_retracing():
    layer = LiveDropout(0.1, seed=2)
    ones = tf.ones((200, 100))
    traces = []

    @tf.function
    def training_step(x):
        traces.append(1)  # runs only while tracing
        return layer(x, training=True)

    before = np.mean(training_step(ones).numpy() == 0)
    layer.set_rate(0.7)
    after = np.mean(training_step(ones).numpy() == 0)
    layer.set_rate(0.0)
    off = np.mean(training_step(ones).numpy() == 0)
    assert 0.05 < before < 0.15
    assert 0.65 < after < 0.75
    assert off == 0.0
    assert len(traces) == 1, "changing the rate must not recompile the step"


def test_a_saved_model_with_live_dropout_loads_in_safe_mode_and_predicts_the_same(tmp_path):
    model = build_model(default_spec("simple_cnn"), seed=5)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(PIXELS, verbose=0), model.predict(PIXELS, verbose=0), rtol=1e-6)


def test_vgg_style_matches_the_seed_tutorials_parameter_table():
    # Seed 002: "Total params: 7,001,194".
    assert parameter_count(build_model(default_spec("vgg"))) == 7_001_194


def test_flops_and_layer_table_of_the_simple_cnn_match_a_hand_count():
    model = build_model(ModelSpec("simple_cnn", batch_norm=False, dropout=0.5))
    conv1 = 2 * 26 * 26 * 32 * 3 * 3 * 1
    conv2 = 2 * 11 * 11 * 64 * 3 * 3 * 32
    dense = 2 * 1600 * 128 + 2 * 128 * 10
    elementwise = 26 * 26 * 32 + 13 * 13 * 32 + 11 * 11 * 64 + 5 * 5 * 64 + 128  # ReLUs and pools
    assert flops_per_image(model) == conv1 + conv2 + dense + elementwise
    table = layer_table(model)
    assert table[0].kind == "Rescaling"
    conv_rows = [row for row in table if row.kind == "Conv2D"]
    assert [row.output_shape for row in conv_rows] == [(None, 26, 26, 32), (None, 11, 11, 64)]
    assert sum(row.parameters for row in table if row.kind != "LiveDropout") == parameter_count(model) == 225_034


def test_model_facts_count_the_classifier_for_the_datasets_classes():
    # The simple CNN's classifier is Dense(128 -> classes): 129 weights per class.
    spec = default_spec("simple_cnn")
    assert model_facts(spec).parameters == 225_034
    assert model_facts(spec, 3).parameters == 225_034 - 7 * 129


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="Dropout rate must be"):
        ModelSpec(dropout=1.0)
    with pytest.raises(ValueError, match="Unknown architecture 'lenet'"):
        build_model(ModelSpec("lenet"))
    with pytest.raises(ValueError, match="Unknown ModelSpec setting"):
        ModelSpec.from_dict({"architecture": "compact", "drop_out": 0.3})
    spec = default_spec("resnet", l2=1e-4)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_an_ensemble_counts_its_members_parameters_without_their_live_dropout_rates():
    from core.ensemble import build_ensemble

    members = [build_model(ModelSpec("compact", dropout=0.2), seed) for seed in (0, 1)]
    assert parameter_count(build_ensemble(members)) == 2 * parameter_count(members[0])
    assert parameter_count(members[0]) < members[0].count_params()  # Keras counts each live rate too
