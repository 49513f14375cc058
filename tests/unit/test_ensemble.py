"""Ensembles: the mean of the members' probabilities, saved as an ordinary run that loads in safe mode."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from factories import make_training_result, tiny_fashion, tiny_mnist

from core.access import LOCAL, Caller, Role
from core.architectures import ModelSpec, build_model
from core.drawn_test_set import drawn_styles, drawn_test_set
from core.ensemble import TAG, build_ensemble, save_ensemble_run
from core.ensemble_info import ensemble_gap_reading, ensemble_problem, is_ensemble, member_scores, scored_on
from core.evaluation import evaluate_model
from core.inference import Predictor
from core.insight import embeddings, feature_maps, saliency, uncertainty
from core.insight.comparison import twin_runs
from core.insight.probes import as_batch, inspected_model
from core.runs import folder as run_folder
from core.runs.store import RunStore, RunStoreError
from core.steady_reading import views

PIXELS = np.random.default_rng(0).integers(0, 256, (6, 28, 28)).astype(np.uint8)
VIEWER = Caller(Role.VIEWER, "session-v")


def members() -> list[keras.Model]:
    """Three untrained models of two architectures, so their answers differ."""
    return [
        build_model(ModelSpec("compact", dropout=0.25), seed=1),
        build_model(ModelSpec("compact", dropout=0.5), seed=2),
        build_model(ModelSpec("softmax", batch_norm=False), seed=3),
    ]


def probabilities(model: keras.Model, images: np.ndarray = PIXELS) -> np.ndarray:
    return np.asarray(model(as_batch(images), training=False))


def steady(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Drawings are read steadily, as Predict reads one: the mean answer over each image's views."""
    return np.mean([probabilities(model, view) for view in views(images)], axis=0)


def saved_members(store: RunStore, count: int = 3, dataset: str = "mnist") -> list[str]:
    return [store.save(make_training_result(seed=seed, dataset=dataset), "sample") for seed in range(count)]


def test_the_ensemble_answers_the_mean_of_its_members_probabilities():
    models = members()
    ensemble = build_ensemble(models)
    expected = np.mean([probabilities(model) for model in models], axis=0)
    np.testing.assert_allclose(probabilities(ensemble), expected, atol=1e-6)
    # The members differ, so the mean is not just one of them.
    assert np.abs(probabilities(models[0]) - probabilities(models[2])).max() > 1e-3
    # The models given are copied, not renamed under their owner's feet.
    assert [model.name for model in models] == ["compact_cnn", "compact_cnn", "softmax_regression"]


def test_the_ensemble_reloads_in_safe_mode_with_no_lambda(tmp_path):
    models = members()
    ensemble = build_ensemble(models)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(probabilities(reloaded), probabilities(ensemble), atol=1e-6)
    kinds = {type(layer).__name__ for layer in reloaded.layers}
    assert "Lambda" not in kinds and "Average" in kinds
    assert [layer.name for layer in reloaded.layers if isinstance(layer, keras.Model)] == [
        "member_1",
        "member_2",
        "member_3",
    ]


@pytest.mark.parametrize("count", [1, 6])
def test_an_ensemble_needs_two_to_five_models(count):
    model = build_model(ModelSpec("softmax", batch_norm=False))
    with pytest.raises(ValueError, match="2 to 5 models, got"):
        build_ensemble([model] * count)


def test_members_with_different_classes_are_refused():
    ten = build_model(ModelSpec("softmax", batch_norm=False))
    pixels = keras.Input((28, 28, 1))
    three = keras.Model(pixels, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(pixels)))
    with pytest.raises(ValueError, match="answers 3 classes, the first 10"):
        build_ensemble([ten, three])


def test_a_saved_ensemble_is_an_ordinary_run_scored_on_the_test_set(tmp_path):
    store = RunStore(tmp_path)
    member_ids = saved_members(store)
    dataset = tiny_mnist(n_train=20, n_test=200)
    run_id = save_ensemble_run(store, member_ids, name="  my   trio ", by=VIEWER, dataset=dataset)

    run = store.get(run_id)
    assert run.complete and is_ensemble(run) and run.dataset == "mnist" and run.architecture == "ensemble"
    assert run.name == "my trio" and run.tags == (TAG,) and run.owner == "session-v"
    assert [member.run_id for member in member_scores(run)] == member_ids
    # Safe mode and the hash check, through the store, give the mean of the members as saved.
    ensemble = store.load_model(run_id)
    loaded = [store.load_model(member_id) for member_id in member_ids]
    expected = np.mean([probabilities(model, dataset.x_test) for model in loaded], axis=0)
    np.testing.assert_allclose(probabilities(ensemble, dataset.x_test), expected, atol=1e-6)
    # Its recorded accuracy is the accuracy of that mean on the test set, as for a trained run.
    assert run.test_accuracy == pytest.approx(float(np.mean(expected.argmax(axis=1) == dataset.y_test)))
    for member, model in zip(member_scores(run), loaded, strict=True):
        assert member.test_accuracy == pytest.approx(evaluate_model(model, dataset.x_test, dataset.y_test).accuracy)
    # The members were scored on drawings, so the ensemble is too, on the same drawn images.
    style = drawn_styles("mnist")[0]
    drawn = drawn_test_set("mnist", dataset.x_test, dataset.y_test, style)
    drawn_mean = np.mean([steady(model, drawn.images) for model in loaded], axis=0)
    metrics = store.history(run_id)  # readable, with no epochs of its own
    assert metrics["epochs"] == []
    saved_metrics = json.loads((tmp_path / run_id / "metrics.json").read_text())
    assert saved_metrics["drawn_accuracy"][style] == pytest.approx(float(np.mean(drawn_mean.argmax(1) == drawn.labels)))
    assert store.validation_confusions(run_id).shape == (0, 10, 10)
    assert run.config["training"] == {"dataset": "mnist"}
    assert scored_on(run) == dataset.source  # which test images the numbers above came from
    # A member's drawn accuracy is the mean over the drawn styles, as for a trained run.
    member_drawn = [float(np.mean(steady(loaded[0], drawn_test_set("mnist", dataset.x_test, dataset.y_test,
                                                                    s).images).argmax(1) == drawn.labels))
                    for s in drawn_styles("mnist")]  # fmt: skip
    assert member_scores(run)[0].drawn_accuracy == pytest.approx(float(np.mean(member_drawn)))
    # Its name and tag are in its folder: an index rebuilt from the runs folder still shows them.
    (tmp_path / "index.sqlite").unlink()
    rebuilt = RunStore(tmp_path).get(run_id)
    assert rebuilt.name == "my trio" and rebuilt.tags == (TAG,) and is_ensemble(rebuilt)


def test_the_default_name_says_how_many_members(tmp_path):
    store = RunStore(tmp_path)
    run_id = save_ensemble_run(store, saved_members(store, 2), name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    assert store.get(run_id).name == "Ensemble of 2"


def test_runs_of_different_datasets_are_refused_and_nothing_is_saved(tmp_path):
    store = RunStore(tmp_path)
    ids = saved_members(store, 1, "mnist") + saved_members(store, 1, "fashion_mnist")
    with pytest.raises(ValueError, match=r"different datasets \(Fashion-MNIST, MNIST\); select runs of one dataset"):
        save_ensemble_run(store, ids, name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    assert len(store.list_runs()) == 2


def test_a_test_set_of_another_dataset_is_refused(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(ValueError, match="trained on Fashion-MNIST, not MNIST; score their ensemble on Fashion"):
        save_ensemble_run(store, saved_members(store, 2, "fashion_mnist"), name=None, by=LOCAL,
                          dataset=tiny_mnist(20, 50))  # fmt: skip


def test_one_run_twice_or_an_unknown_run_is_refused(tmp_path):
    store = RunStore(tmp_path)
    (only,) = saved_members(store, 1)
    with pytest.raises(ValueError, match="selected twice"):
        save_ensemble_run(store, [only, only], name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    with pytest.raises(ValueError, match=r"Select 2 to 5 runs to build an ensemble \(1 selected\)"):
        save_ensemble_run(store, [only], name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    with pytest.raises(RunStoreError, match="There is no run 20990101-000000-abcdef"):
        save_ensemble_run(store, [only, "20990101-000000-abcdef"], name=None, by=LOCAL, dataset=tiny_mnist(20, 50))


def test_an_interrupted_member_is_named(tmp_path):
    store = RunStore(tmp_path)
    ids = saved_members(store, 2)
    (tmp_path / ids[1] / "run.json").unlink()  # as if its save was cut short
    # Even before the index notices, loading it through the store refuses it.
    with pytest.raises(RunStoreError, match=f"Run {ids[1]} is interrupted"):
        save_ensemble_run(store, ids, name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    (tmp_path / "index.sqlite").unlink()
    runs = [RunStore(tmp_path).get(run_id) for run_id in ids]
    assert ensemble_problem(runs) == f"Run {ids[1]} is not complete, so it cannot join an ensemble; deselect it."
    assert len(RunStore(tmp_path).list_runs()) == 2


def test_a_changed_member_file_is_refused_and_no_ensemble_is_saved(tmp_path):
    store = RunStore(tmp_path)
    ids = saved_members(store, 2)
    with open(tmp_path / ids[0] / "model.keras", "ab") as file:
        file.write(b"tampered")
    with pytest.raises(RunStoreError, match="does not match its recorded SHA-256"):
        save_ensemble_run(store, ids, name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    assert sorted(run.run_id for run in store.list_runs()) == sorted(ids)


def test_a_crash_while_saving_the_ensemble_leaves_only_the_members(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    ids = saved_members(store, 2)
    real_write = run_folder.write_json_atomically

    def crash_on_metrics(path, content):
        if path.name == "metrics.json":
            raise OSError("power cut")
        real_write(path, content)

    monkeypatch.setattr(run_folder, "write_json_atomically", crash_on_metrics)
    with pytest.raises(RunStoreError, match=r"failed \(power cut\), so this run was not saved"):
        save_ensemble_run(store, ids, name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    assert sorted(run.run_id for run in RunStore(tmp_path).list_runs()) == sorted(ids)
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == sorted(ids)


def test_a_read_only_runs_folder_is_refused_before_any_work(tmp_path):
    store = RunStore(tmp_path)
    ids = saved_members(store, 2)
    store.write_problem = lambda: "The runs folder cannot be written (read-only)."  # as a read-only disk reports
    loaded: list[str] = []

    def load_model(run_id: str):
        loaded.append(run_id)
        raise AssertionError("a member was loaded before the refusal")

    store.load_model = load_model
    with pytest.raises(RunStoreError, match="read-only"):
        save_ensemble_run(store, ids, name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    assert loaded == []


def test_an_ensemble_cannot_be_a_member_so_every_model_counts_equally(tmp_path):
    store = RunStore(tmp_path)
    ids = saved_members(store, 3)
    pair = save_ensemble_run(store, ids[:2], name="pair", by=LOCAL, dataset=tiny_mnist(20, 50))
    runs = [store.get(pair), store.get(ids[2])]
    assert (
        ensemble_problem(runs)
        == "pair is already an ensemble; select its members instead, so that every model counts equally."
    )
    with pytest.raises(ValueError, match="already an ensemble; select its members instead"):
        save_ensemble_run(store, [pair, ids[2]], name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    assert len(store.list_runs()) == 4  # nothing saved


def test_monte_carlo_dropout_of_an_ensemble_is_compared_with_its_first_members_plain_answer():
    models = members()
    ensemble = build_ensemble(models)
    plain = uncertainty.plain_probabilities(ensemble, PIXELS[0])
    # The passes come from a copy of the first member, so the dots must be that member's answer, not the mean.
    np.testing.assert_allclose(plain, probabilities(models[0])[0], atol=1e-6)
    assert np.abs(plain - probabilities(ensemble)[0]).max() > 1e-3
    single = models[1]
    np.testing.assert_allclose(uncertainty.plain_probabilities(single, PIXELS[1]), probabilities(single)[1], atol=1e-6)


def test_an_ensembles_drawing_gap_advice_is_about_its_members():
    reading = ensemble_gap_reading(0.97, {"strokes": 0.80, "bold strokes": 0.70})
    assert "97 %" in reading and "strokes at 80 % and bold strokes at 70 %" in reading
    assert "build one from members trained with *Robust to drawings*" in reading and "train with" not in reading


def test_twin_runs_never_pair_two_ensembles(tmp_path):
    store = RunStore(tmp_path)
    mnist = save_ensemble_run(store, saved_members(store, 2, "mnist"), name=None, by=LOCAL, dataset=tiny_mnist(20, 50))
    fashion_ids = saved_members(store, 2, "fashion_mnist")
    fashion = save_ensemble_run(store, fashion_ids, name=None, by=LOCAL, dataset=tiny_fashion(20, 50))
    runs = store.list_runs()
    assert {run.run_id for run in runs if is_ensemble(run)} == {mnist, fashion}
    # Members of the same recipe on both datasets still pair; the two ensembles, different members, do not.
    pairs = {(a.run_id, b.run_id) for a, b in twin_runs(runs)}
    assert all(mnist not in pair and fashion not in pair for pair in pairs)


def test_predict_and_the_insight_views_work_on_an_ensemble_through_its_first_member():
    models = members()
    ensemble = build_ensemble(models)
    first = inspected_model(ensemble)
    assert first.name == "member_1"
    image = PIXELS[0]
    # Predict: the ensemble's own answer, read steadily.
    np.testing.assert_allclose(Predictor(ensemble).probabilities(image), steady(ensemble, image[None])[0], atol=1e-6)
    # Feature maps, heatmaps and features are the first member's, exactly.
    maps = feature_maps.feature_maps(ensemble, image)
    assert maps and [m.layer for m in maps] == [m.layer for m in feature_maps.feature_maps(models[0], image)]
    for ours, theirs in zip(maps, feature_maps.feature_maps(models[0], image), strict=True):
        np.testing.assert_allclose(ours.maps, theirs.maps, atol=1e-5)
    np.testing.assert_allclose(
        saliency.grad_cam(ensemble, PIXELS[:2], 3), saliency.grad_cam(models[0], PIXELS[:2], 3), atol=1e-5
    )
    np.testing.assert_allclose(
        saliency.gradient_saliency(ensemble, PIXELS[:2], 3), saliency.gradient_saliency(models[0], PIXELS[:2], 3),
        atol=1e-5,
    )  # fmt: skip
    features = embeddings.penultimate_features(ensemble, PIXELS)
    np.testing.assert_allclose(features, embeddings.penultimate_features(models[0], PIXELS), atol=1e-5)
    assert uncertainty.dropout_rates(ensemble) == uncertainty.dropout_rates(models[0]) != []
    samples = uncertainty.mc_dropout(uncertainty.mc_dropout_model(ensemble), image, passes=5).samples
    assert samples.shape == (5, 10) and np.allclose(samples.sum(axis=1), 1, atol=1e-5)


def test_a_single_model_is_inspected_as_itself():
    model = build_model(ModelSpec("compact"))
    assert inspected_model(model) is model


def test_a_run_saved_with_a_name_tags_and_extra_config_keeps_them(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample", "local", extra_config={"study": {"trial": 4}},
                        name=" trial\n4 ", tags=["sweep", "sweep", " "])  # fmt: skip
    (run,) = store.list_runs()
    assert run.run_id == run_id and run.name == "trial 4" and run.tags == ("sweep",)
    assert run.config["study"] == {"trial": 4} and run.config["model"]["architecture"] == "softmax"
