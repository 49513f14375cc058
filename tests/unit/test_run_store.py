"""The run store: atomic saves, safe loading by id only, and a listing that survives damaged runs."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from factories import make_training_result, tensorboard_scalars

from core.access import LOCAL
from core.runs import folder as run_folder
from core.runs.store import RunStore, RunStoreError
from core.runs.summary import RunSummary, distinct_labels, read_folder
from core.training import JobState
from core.training.progress import epochs_trained

PIXELS = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.uint8)


def test_a_saved_run_is_listed_complete_and_its_model_loads_the_same(tmp_path):
    store = RunStore(tmp_path)
    result = make_training_result()
    run_id = store.save(result, "embedded sample of MNIST")
    (run,) = store.list_runs()
    assert run.run_id == run_id and run.complete and run.state == "finished"
    assert run.test_accuracy == pytest.approx(0.71) and run.epochs_completed == 3 and run.architecture == "softmax"
    assert run.config["training"]["dataset"] == "mnist"
    model = store.load_model(run_id)
    np.testing.assert_allclose(model.predict(PIXELS, verbose=0), result.model.predict(PIXELS, verbose=0), rtol=1e-6)
    history = store.history(run_id)
    assert len(history["epochs"]) == 3 and history["events"][0]["setting"] == "dropout"
    assert len(history["batches"]["loss"]) == 30


def test_tensorboard_can_read_the_run_curves(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    scalars = tensorboard_scalars(tmp_path / run_id)
    assert scalars["validation/epoch_accuracy"] == pytest.approx([0.45, 0.55, 0.65])
    assert scalars["train/epoch_loss"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert len(scalars["train/batch_loss"]) == 30


def test_a_crash_between_files_leaves_no_complete_run(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    real_write = run_folder.write_json_atomically

    def crash_on_metrics(path, content):
        if path.name == "metrics.json":
            raise OSError("power cut")
        real_write(path, content)

    monkeypatch.setattr(run_folder, "write_json_atomically", crash_on_metrics)
    with pytest.raises(RunStoreError, match=r"failed \(power cut\), so this run was not saved"):
        store.save(make_training_result(), "sample")
    assert store.list_runs() == []  # the half-written folder was never complete, and is gone


def test_a_run_listed_while_another_process_was_saving_it_ends_complete_with_its_dataset(tmp_path):
    """The listing saw the new folder before its files were written, and indexed it as interrupted."""
    store = RunStore(tmp_path)
    run_id = "20261203-172632-abc123"
    (tmp_path / run_id).mkdir()
    (listed_early,) = store.list_runs()
    assert listed_early.state == "interrupted" and listed_early.dataset is None
    (tmp_path / run_id).rmdir()
    # What the training process's save does next: write the folder, then index it.
    folder = run_folder.write_run(make_training_result(), "sample", tmp_path, run_id, LOCAL.owner)
    store._index(read_folder(folder))
    (run,) = store.list_runs()
    assert run.complete and run.dataset == "mnist" and run.test_accuracy == pytest.approx(0.71)


def test_a_stale_reading_of_a_run_being_saved_does_not_hide_the_saved_run(tmp_path):
    """The listing read the folder half-written, and its row lands after the save indexed the run complete."""
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    store._index(RunSummary(run_id, "interrupted", False, problem="the save never finished (no run.json)."))
    (run,) = store.list_runs()
    assert run.complete and run.dataset == "mnist" and run.test_accuracy == pytest.approx(0.71)


def test_a_folder_without_a_manifest_is_listed_as_interrupted_and_never_loads(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    (tmp_path / run_id / "run.json").unlink()  # as if the process died just before the last write
    (tmp_path / "index.sqlite").unlink()
    (run,) = RunStore(tmp_path).list_runs()
    assert run.state == "interrupted" and not run.complete
    with pytest.raises(RunStoreError, match="interrupted"):
        store.load_model(run.run_id)


def test_a_changed_model_file_is_refused(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    model_file = tmp_path / run_id / "model.keras"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(RunStoreError, match="does not match its recorded SHA-256"):
        store.load_model(run_id)


@pytest.mark.parametrize(
    "run_id", ["../../etc/passwd", "/tmp/x", "20261123-154212-3fa9c1/../x", "", "20261123-154212-3FA9C1"]
)
def test_path_like_or_malformed_ids_are_refused(tmp_path, run_id):
    store = RunStore(tmp_path)
    with pytest.raises(RunStoreError, match="is not a run id"):
        store.load_model(run_id)
    with pytest.raises(RunStoreError, match="is not a run id"):
        store.delete(run_id, by=LOCAL)


def test_a_damaged_run_is_listed_with_its_reason_beside_good_ones(tmp_path):
    store = RunStore(tmp_path)
    good = store.save(make_training_result(0), "sample")
    bad = store.save(make_training_result(1), "sample")
    (tmp_path / bad / "metrics.json").write_text("{ not json")
    (tmp_path / "index.sqlite").unlink()  # as after copying the folders to another machine
    runs = {run.run_id: run for run in RunStore(tmp_path).list_runs()}
    assert runs[good].complete
    assert runs[bad].state == "damaged" and "metrics.json" in runs[bad].problem
    with pytest.raises(RunStoreError, match="damaged"):
        store.load_model(bad)


def test_two_writers_at_once_both_land(tmp_path):
    store = RunStore(tmp_path)
    results = [make_training_result(seed) for seed in range(2)]
    errors = []

    def save(result):
        try:
            RunStore(tmp_path).save(result, "sample")
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(result,)) for result in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a thread did not finish its save in 120 s (deadlocked?)"
    assert not errors
    runs = store.list_runs()
    assert len(runs) == 2 and all(run.complete for run in runs)
    assert len({run.run_id for run in runs}) == 2


def test_names_tags_and_deletion_survive_a_restart(tmp_path):
    store = RunStore(tmp_path)
    keep = store.save(make_training_result(0), "sample")
    drop = store.save(make_training_result(1), "sample")
    store.rename(keep, "  dropout   0.5 ", by=LOCAL)
    store.set_tags(keep, ["baseline", "baseline", " fast "], by=LOCAL)
    store.delete(drop, by=LOCAL)
    reopened = RunStore(tmp_path)
    (run,) = reopened.list_runs()
    assert run.run_id == keep and run.name == "dropout 0.5" and run.tags == ("baseline", "fast")
    assert not (tmp_path / drop).exists()
    assert json.loads((tmp_path / keep / "run.json").read_text())["complete"] is True


def test_a_failed_run_is_kept_as_failed_with_its_reason(tmp_path):
    store = RunStore(tmp_path)
    result = make_training_result(0, state=JobState.FAILED)
    result.error = "The loss became nan at step 3: training diverged."
    run_id = store.save(result, "sample")
    run = store.get(run_id)
    assert run.complete and run.state == "failed" and "diverged" in run.problem


def test_export_gives_a_tflite_model_that_agrees_with_keras(tmp_path):
    from factories import tiny_mnist

    from core.export import FORMATS, export_run

    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(3), "sample")
    comparison = export_run(store, run_id, tiny_mnist(100, 200), [FORMATS["float32"]], by=LOCAL, latency_repeats=3)
    row = comparison.row("float32")
    assert row.agreement >= 0.99  # the TFLite model gives the Keras model's answers
    exports = tmp_path / run_id / "exports"
    assert row.size_bytes == (exports / "model_float32.tflite").stat().st_size > 0
    assert (exports / "saved_model" / "saved_model.pb").is_file()
    assert store.get(run_id).complete  # exporting leaves the run itself untouched


def test_drawn_accuracy_is_kept_and_an_index_from_before_it_existed_still_opens(tmp_path):
    import sqlite3

    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(), "sample")
    (run,) = store.list_runs()
    assert run.drawn_accuracy == pytest.approx(0.55)  # the mean of its two drawn styles
    # An index written by the first version of the app, without the column: opened, upgraded, nothing lost.
    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        db.execute("ALTER TABLE runs DROP COLUMN drawn_accuracy")
    (old,) = RunStore(tmp_path).list_runs()
    assert old.run_id == run_id and old.complete and old.test_accuracy == pytest.approx(0.71)
    second = RunStore(tmp_path).save(make_training_result(seed=1), "sample")
    assert RunStore(tmp_path).get(second).drawn_accuracy == pytest.approx(0.55)


def test_names_and_tags_live_in_the_run_folder_so_a_rebuilt_index_keeps_them(tmp_path):
    store = RunStore(tmp_path)
    named = store.save(make_training_result(0), "sample", name="  Ensemble   of 2 ", tags=["ensemble", "study:a"])
    renamed = store.save(make_training_result(1), "sample")
    store.rename(renamed, "wide filters", by=LOCAL)
    store.set_tags(renamed, ["trial:3", "pruned"], by=LOCAL)
    manifest = json.loads((tmp_path / renamed / "run.json").read_text())
    assert manifest["name"] == "wide filters" and manifest["tags"] == ["pruned", "trial:3"]
    assert manifest["complete"] is True and manifest["model_sha256"]  # the rewrite kept the rest
    # The index is lost (or the runs folder was copied from another machine): it is rebuilt from the folders.
    (tmp_path / "index.sqlite").unlink()
    rebuilt = {run.run_id: run for run in RunStore(tmp_path).list_runs()}
    assert rebuilt[named].name == "Ensemble of 2" and rebuilt[named].tags == ("ensemble", "study:a")
    assert rebuilt[renamed].name == "wide filters" and rebuilt[renamed].tags == ("pruned", "trial:3")
    assert RunStore(tmp_path).load_model(renamed) is not None  # its model still matches the manifest's hash


def test_a_run_saved_before_names_were_in_its_folder_still_lists_and_renames(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(0), "sample")
    path = tmp_path / run_id / "run.json"
    old = {key: value for key, value in json.loads(path.read_text()).items() if key not in ("name", "tags")}
    path.write_text(json.dumps(old))
    (tmp_path / "index.sqlite").unlink()
    (run,) = RunStore(tmp_path).list_runs()
    assert run.complete and run.name == "" and run.tags == ()
    RunStore(tmp_path).rename(run_id, "old run", by=LOCAL)
    (tmp_path / "index.sqlite").unlink()
    assert RunStore(tmp_path).get(run_id).name == "old run"


def test_renames_and_tag_edits_at_once_both_reach_the_folder(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(0), "sample")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def edit(change) -> None:
        barrier.wait(timeout=30)
        try:
            for number in range(20):
                change(number)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [
        threading.Thread(target=edit, args=(lambda n: store.rename(run_id, f"name {n}", by=LOCAL),)),
        threading.Thread(target=edit, args=(lambda n: store.set_tags(run_id, [f"tag {n}"], by=LOCAL),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    manifest = json.loads((tmp_path / run_id / "run.json").read_text())
    # Each rewrite read the other's last change: neither the last name nor the last tag was lost.
    assert manifest["name"] == "name 19" and manifest["tags"] == ["tag 19"]


def test_a_trained_run_is_saved_without_its_optimiser_state_and_predicts_the_same(tmp_path):
    import zipfile

    import h5py
    import keras

    from core.training.engine import make_optimizer

    result = make_training_result()
    model = result.model
    # Averaged weights: Adam's two moments and the average would be three more copies of every weight.
    model.compile(make_optimizer(replace(result.config, average_weights=True), 4), "categorical_crossentropy")
    model.fit(PIXELS, keras.utils.to_categorical([0, 1, 2, 3], 10), epochs=2, verbose=0)
    store = RunStore(tmp_path)
    run_id = store.save(result, "sample")

    with zipfile.ZipFile(tmp_path / run_id / "model.keras") as archive:
        archive.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    loaded = store.load_model(run_id)
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(PIXELS, verbose=0), model.predict(PIXELS, verbose=0))
    assert model.compiled  # the live model the app still shows is left as it was


def test_a_run_records_the_parameter_count_the_train_page_shows(tmp_path):
    from core.architectures import ModelSpec, build_model, model_facts

    spec = ModelSpec("compact", dropout=0.2)  # live dropout rates are variables Keras counts, not parameters
    result = replace(make_training_result(), spec=spec, model=build_model(spec))
    store = RunStore(tmp_path)
    assert store.get(store.save(result, "sample")).parameters == model_facts(spec).parameters


def test_an_unnamed_run_is_labelled_by_what_tells_it_apart_and_a_named_one_by_its_name(tmp_path):
    store = RunStore(tmp_path)
    first = store.save(make_training_result(0, dropout=0.25), "sample")
    second = store.save(make_training_result(1, dropout=0.5), "sample")
    labels = {run.run_id: run.label for run in store.list_runs()}
    assert labels[first].startswith("softmax · dropout 0.25 · ")
    assert labels[second].startswith("softmax · dropout 0.5 · ")
    store.rename(first, "baseline", by=LOCAL)
    assert store.get(first).label == "baseline"


def unnamed(run_id: str, dropout: float = 0.5) -> RunSummary:
    return RunSummary(run_id, "finished", True, architecture="compact", config={"model": {"dropout": dropout}})


def test_a_run_is_labelled_with_when_it_was_trained_in_the_servers_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+5:30: run ids are UTC
    time.tzset()
    try:
        assert unnamed("20261204-211500-3fa9c1").label == "compact · dropout 0.5 · 5 Dec 02:45"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_runs_that_read_alike_are_told_apart_by_their_ids_end():
    twins = [unnamed("20261204-140201-aaaaaa"), unnamed("20261204-140259-bbbbbb")]  # the same minute
    other = unnamed("20261204-140230-cccccc", dropout=0.0)
    labels = distinct_labels([*twins, other])
    assert labels == {
        "20261204-140201-aaaaaa": f"{twins[0].label} · aaaaaa",
        "20261204-140259-bbbbbb": f"{twins[1].label} · bbbbbb",
        "20261204-140230-cccccc": other.label,  # unique already: left as it is
    }


def test_an_ensemble_or_a_run_that_never_finished_an_epoch_is_saved_with_no_epochs(tmp_path):
    assert epochs_trained(()) == 0  # a sum of nothing, not an error
    run_id = RunStore(tmp_path).save(replace(make_training_result(0), epochs=(), confusion_matrices=[]), "sample")
    assert RunStore(tmp_path).get(run_id).epochs_completed == 0
