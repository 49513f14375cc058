"""Datasets of your own: made from a zip or a folder, stored with a manifest, listed and loaded like MNIST."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from shape_strokes import SHAPES, shape_png

from core.access import LOCAL, AccessDenied, Caller, Role
from core.datasets import dataset_info, dataset_names, load_dataset
from core.datasets.__main__ import main as datasets_cli
from core.datasets.custom import MANIFEST, custom_manifest, dataset_name_from, datasets_root
from core.datasets.custom_build import build_custom_dataset
from core.datasets.custom_import import import_custom_dataset, read_folder, read_zip
from core.datasets.files import sha256_file
from core.datasets.registry import DrawingRecipe
from core.datasets.splits import DatasetError
from core.preprocessing import preprocess_image

PER_CLASS = 12
STUDENT = Caller(Role.VIEWER, "student-1")


@pytest.fixture(autouse=True)
def runs_folder(tmp_path, monkeypatch) -> Path:
    """Each test its own runs folder, where its datasets live."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(folder))
    return folder


def shape_files(per_class: int = PER_CLASS, seed: int = 0) -> dict[str, bytes]:
    """`circle/000.png`, ... : PNGs of drawn shapes, each different."""
    rng = np.random.default_rng(seed)
    return {f"{shape}/{i:03d}.png": shape_png(shape, rng) for shape in SHAPES for i in range(per_class)}


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_a_zip_becomes_a_dataset_listed_and_loaded_beside_mnist():
    files = shape_files()
    files["circle/notes.txt"] = b"not an image"
    files[".DS_Store"] = b"\0junk"
    report = import_custom_dataset("My Shapes", zip_of(files), DrawingRecipe.DIGIT_BOX, by=LOCAL)

    assert [str(p) for p in report.problems] == [
        "circle/notes.txt: This file is not an image: upload a PNG, JPEG, GIF, WebP or BMP."
    ]
    assert dataset_names() == ["mnist", "fashion_mnist", "my-shapes"]
    info = dataset_info("my-shapes")
    assert info.class_names == SHAPES and info.display_name == "My Shapes" and info.custom
    dataset = load_dataset("my-shapes")
    # A fifth of each class held out (12 -> 2 test, 10 train), classes in folder-name order.
    np.testing.assert_array_equal(np.bincount(dataset.y_train), [10, 10, 10])
    np.testing.assert_array_equal(np.bincount(dataset.y_test), [2, 2, 2])
    assert "My Shapes dataset you made (3 classes, 30 train / 6 test images" in dataset.source
    # Every image is what the Predict page would make of that file.
    expected = preprocess_image(files["square/000.png"], None, recipe=DrawingRecipe.DIGIT_BOX).model_input
    everything = np.concatenate([dataset.x_train, dataset.x_test])
    assert any(np.array_equal(expected, image) for image in everything)


def test_the_manifest_round_trips_with_the_hash_of_every_file(runs_folder):
    import_custom_dataset("shapes", zip_of(shape_files()), DrawingRecipe.FILL_FRAME, by=LOCAL)
    folder = datasets_root() / "shapes"
    saved = json.loads((folder / MANIFEST).read_text())
    assert saved["files"] == {name: sha256_file(folder / name) for name in saved["files"]}
    assert len(saved["files"]) == 4 and saved["drawing_recipe"] == "fill_frame"
    manifest = custom_manifest("shapes")
    assert manifest.info.class_names == SHAPES and manifest.owner == "local"
    assert manifest.train_counts == (10, 10, 10) and manifest.test_counts == (2, 2, 2)
    assert folder.parent == runs_folder / "datasets"
    assert sorted(p.name for p in (runs_folder / "datasets").iterdir()) == ["shapes"]  # nothing left over


def test_a_folder_and_a_zip_of_the_same_files_give_the_same_dataset(tmp_path):
    files = shape_files()
    import_custom_dataset("from-zip", zip_of(files), DrawingRecipe.DIGIT_BOX, by=LOCAL)
    # Wrapped in one top folder, as zipping a folder usually does: the classes are still its sub-folders.
    folder = write_folder(tmp_path / "scans" / "shapes", files)
    import_custom_dataset("from-folder", folder, DrawingRecipe.DIGIT_BOX, by=LOCAL)
    first, second = load_dataset("from-zip"), load_dataset("from-folder")
    assert first.class_names == second.class_names == SHAPES
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_the_split_is_stratified_fixed_and_never_shares_an_image():
    files = shape_files(per_class=15)
    images = read_zip(zip_of(files), DrawingRecipe.DIGIT_BOX).images_by_class
    # A duplicate of one circle, inside its class: kept once.
    images["circle"] = np.concatenate([images["circle"], images["circle"][:1]])
    first = build_custom_dataset("one", "one", images, DrawingRecipe.DIGIT_BOX, by=LOCAL, origin="test")
    build_custom_dataset("two", "two", images, DrawingRecipe.DIGIT_BOX, by=LOCAL, origin="test")
    assert first.duplicates_dropped == 1
    a, b = load_dataset("one"), load_dataset("two")
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(np.bincount(a.y_test), [3, 3, 3])
    train = {image.tobytes() for image in a.x_train}
    assert not train & {image.tobytes() for image in a.x_test}
    assert len(train) == len(a.x_train)


def test_an_image_in_two_classes_is_refused_by_name():
    images = read_zip(zip_of(shape_files()), DrawingRecipe.DIGIT_BOX).images_by_class
    images["square"] = np.concatenate([images["square"], images["circle"][:1]])
    with pytest.raises(DatasetError, match="The same image is in class 'circle' and class 'square'"):
        build_custom_dataset("mixed", "mixed", images, DrawingRecipe.DIGIT_BOX, by=LOCAL, origin="test")
    assert "mixed" not in dataset_names()


def test_a_changed_file_is_refused_when_loading():
    import_custom_dataset("shapes", zip_of(shape_files()), DrawingRecipe.DIGIT_BOX, by=LOCAL)
    path = datasets_root() / "shapes" / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] = (data[-1] + 1) % 3
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="SHA-256 does not match"):
        load_dataset("shapes")


def test_adding_to_a_dataset_replaces_it_and_the_loader_sees_the_new_one():
    images = read_zip(zip_of(shape_files(per_class=20)), DrawingRecipe.DIGIT_BOX).images_by_class
    fewer = {name: group[:10] for name, group in images.items()}
    build_custom_dataset("shapes", "shapes", fewer, DrawingRecipe.DIGIT_BOX, by=STUDENT, origin="drawn")
    assert len(load_dataset("shapes").y_train) == 24
    with pytest.raises(DatasetError, match="already exists"):
        build_custom_dataset("shapes", "shapes", images, DrawingRecipe.DIGIT_BOX, by=STUDENT, origin="drawn")
    other = Caller(Role.VIEWER, "student-2")
    with pytest.raises(AccessDenied, match="only add to datasets you made yourself"):
        build_custom_dataset(
            "shapes", "shapes", images, DrawingRecipe.DIGIT_BOX, by=other, origin="drawn", replace=True
        )
    build_custom_dataset("shapes", "shapes", images, DrawingRecipe.DIGIT_BOX, by=STUDENT, origin="drawn", replace=True)
    assert len(load_dataset("shapes").y_train) == 48
    assert sorted(p.name for p in datasets_root().iterdir()) == ["shapes"]


def test_a_viewer_may_upload_a_zip_but_not_read_a_folder_on_the_server(tmp_path):
    folder = write_folder(tmp_path / "shapes", shape_files())
    with pytest.raises(AccessDenied, match="Only an admin can change the data folder"):
        import_custom_dataset("shapes", folder, DrawingRecipe.DIGIT_BOX, by=STUDENT)
    import_custom_dataset("shapes", zip_of(shape_files()), DrawingRecipe.DIGIT_BOX, by=STUDENT)
    assert custom_manifest("shapes").owner == "student-1"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("mnist", "built-in dataset's name"),
        ("../escape", "cannot name a dataset"),
        ("", "cannot name a dataset"),
        ("a" * 41, "cannot name a dataset"),
    ],
)
def test_names_that_are_not_safe_folder_names_are_refused(typed, message):
    with pytest.raises(DatasetError, match=message):
        dataset_name_from(typed)


def test_folder_names_of_classes_are_read_but_unknown_datasets_are_not():
    with pytest.raises(ValueError, match="Unknown dataset 'nothing-here'"):
        dataset_info("nothing-here")


def test_the_command_line_imports_and_lists(tmp_path, capsys):
    path = tmp_path / "shapes.zip"
    path.write_bytes(zip_of(shape_files()))
    assert datasets_cli(["import", "Shapes", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Made 'shapes': circle 12, square 12, triangle 12 images (30 train / 6 test)." in out
    assert "python -m core.train --dataset shapes --preset small_data" in out
    assert datasets_cli(["import", "Shapes", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert datasets_cli(["list"]) == 0
    assert capsys.readouterr().out.startswith("shapes: circle, square, triangle (30 train / 6 test")
    files = read_folder(write_folder(tmp_path / "folder", shape_files()), DrawingRecipe.DIGIT_BOX)
    assert list(files.images_by_class) == list(SHAPES)
