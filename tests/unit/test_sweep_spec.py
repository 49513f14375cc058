"""Sweep specs: TOML in, typed settings out, and one clear line for every kind of mistake."""

from __future__ import annotations

import pytest

from core.architectures import ModelSpec
from core.sweep import Param, SpecError, SweepSpec, load_spec
from core.sweep.spec import FULL_ROTATION, FULL_SHIFT

GOOD = """
[sweep]
dataset = "fashion_mnist"
trials = 8
sampler = "tpe"
pruner = "hyperband"
seed = 3

[base]
preset = "quick"
epochs = 4

[params.dropout]
low = 0.1
high = 0.5

[params.learning_rate]
low = 1e-4
high = 1e-2
log = true

[params.architecture]
choices = ["compact", "simple_cnn"]
"""


def write(tmp_path, text: str):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_a_toml_spec_loads_into_typed_settings(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert (spec.dataset, spec.trials, spec.sampler, spec.pruner, spec.seed) == (
        "fashion_mnist",
        8,
        "tpe",
        "hyperband",
        3,
    )
    assert [param.name for param in spec.params] == ["dropout", "learning_rate", "architecture"]
    assert spec.params[1].log and spec.params[2].choices == ("compact", "simple_cnn")
    assert spec.max_epochs == 4
    model, config = spec.settings({"dropout": 0.3, "learning_rate": 2e-3, "architecture": "simple_cnn"})
    assert model.architecture == "simple_cnn" and model.dropout == 0.3
    # The quick preset's subset and the base's epochs stay; flips are allowed for clothing.
    assert config.train_size == 5_000 and config.epochs == 4 and config.learning_rate == 2e-3
    assert config.dataset == "fashion_mnist" and model == model.for_dataset("fashion_mnist")


def test_the_spec_survives_a_round_trip_through_the_study():
    spec = load_spec_text(GOOD)
    assert SweepSpec.from_dict(spec.to_dict()) == spec and not spec.trial_seeds
    seeded = load_spec_text(GOOD.replace("trials = 8", "trials = 8\ntrial_seeds = true", 1))
    assert seeded.trial_seeds and SweepSpec.from_dict(seeded.to_dict()) == seeded


def load_spec_text(text: str) -> SweepSpec:
    import tomllib

    return SweepSpec.from_dict(tomllib.loads(text))


def test_augmentation_strength_scales_rotation_shift_and_zoom_together():
    spec = SweepSpec("mnist", params=(Param("augmentation", 0.0, 1.0),))
    model, _ = spec.settings({"augmentation": 0.5})
    assert model.augmentation.rotation_degrees == pytest.approx(FULL_ROTATION / 2)
    assert model.augmentation.shift_fraction == pytest.approx(FULL_SHIFT / 2)
    assert model.augmentation.horizontal_flip is False  # never for digits


def test_a_spec_file_averages_weights_unless_its_base_says_not_and_a_stored_spec_keeps_what_it_had(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert dict(spec.base)["average_weights"] is True
    assert spec.settings({"dropout": 0.3})[1].average_weights is True
    off = load_spec(write(tmp_path, GOOD.replace("epochs = 4", "epochs = 4\naverage_weights = false", 1)))
    assert off.settings({"dropout": 0.3})[1].average_weights is False
    # A study stored before weight averaging existed resumes as it began: on the last step's weights.
    stored = load_spec_text(GOOD)
    assert "average_weights" not in dict(stored.base) and stored.settings({"dropout": 0.3})[1].average_weights is False


def test_weight_averaging_is_never_varied():
    with pytest.raises(SpecError, match="params.average_weights: unknown setting"):
        Param("average_weights", choices=(True, False))


def test_a_grid_lists_choices_and_stepped_ranges():
    assert Param("epochs", 2, 8, step=3).grid_values() == (2, 5, 8)
    assert Param("dropout", 0.0, 0.5, step=0.25).grid_values() == (0.0, 0.25, 0.5)
    assert Param("batch_norm", choices=(True, False)).grid_values() == (True, False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("low = 0.1", "low = 0.7"), "params.dropout: low (0.7) must be below high (0.5)"),
        (
            ('pruner = "hyperband"', 'pruner = "aggressive"'),
            "sweep.pruner: use one of median, percentile, top_third, hyperband, none",
        ),
        (("[params.dropout]", "[params.dropuot]"), "params.dropuot: unknown setting"),
        (('"simple_cnn"', '"resnet50"'), "unknown architecture 'resnet50'"),
        (("trials = 8", "trials = 0"), "sweep.trials must be 1-1000"),
        (("low = 1e-4", "low = -1e-4"), "learning_rate must be"),
        (('preset = "quick"', 'preset = "fastest"'), "base.preset: unknown preset 'fastest'"),
        (('dataset = "fashion_mnist"', 'dataset = "cifar"'), "sweep.dataset: Unknown dataset 'cifar'"),
        (('sampler = "tpe"', 'sampler = "grid"'), "params.dropout: a grid needs `choices` or a `step`"),
        (("trials = 8", 'trials = "eight"'), "sweep.trials: expected a whole number"),
        (("high = 0.5", "high = 0.5\nstep = 0.1\nlog = true"), "either log-scaled or stepped"),
        (("trials = 8", 'trials = 8\ntrial_seeds = "yes"'), "sweep.trial_seeds is true or false"),
        (("epochs = 4", "epochs = 4\naverage_weights = 1"), "base.average_weights is true or false"),
    ],
)
def test_a_bad_spec_says_what_is_wrong_and_where_in_one_line(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    text = str(caught.value)
    assert message in text and "\n" not in text and str(path) in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sweep\ntrials = 3", "not valid TOML"),
        ("[sweep]\ntrials = 3\n", "vary at least one setting"),
        ("[sweep]\n[params.dropout]\nlow = 0.1\n[extra]\n", "Unknown section(s) extra"),
    ],
)
def test_unreadable_or_empty_specs_are_refused_plainly(tmp_path, text, message):
    with pytest.raises(SpecError, match=None) as caught:
        load_spec(write(tmp_path, text))
    assert message in str(caught.value)


def test_a_missing_spec_file_is_named(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.toml")


def test_settings_the_engine_refuses_are_caught_when_the_spec_is_made():
    # Horizontal flips are fine for clothing and silently dropped for digits, but a width of 8 is never trained.
    with pytest.raises(SpecError, match="width must be 0.25-4"):
        SweepSpec("mnist", params=(Param("width", 1.0, 8.0),))
    assert isinstance(SweepSpec("mnist", params=(Param("width", 0.5, 2.0),)).settings({"width": 2.0})[0], ModelSpec)
