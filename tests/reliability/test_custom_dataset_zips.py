"""Hostile and broken zips for "Your data": a clear message, and never a half-made dataset."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from shape_strokes import SHAPES, shape_png
from upload_files import hostile_uploads

from core.access import LOCAL
from core.datasets import custom_import, dataset_names
from core.datasets.custom import datasets_root
from core.datasets.custom_import import import_custom_dataset, read_folder
from core.datasets.registry import DrawingRecipe
from core.datasets.splits import DatasetError

PER_CLASS = 10


@pytest.fixture(autouse=True)
def runs_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "runs"
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(folder))
    return folder


def good_files(classes=SHAPES, per_class: int = PER_CLASS) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    return {f"{shape}/{i:03d}.png": shape_png(shape, rng) for shape in classes for i in range(per_class)}


def zip_of(files: dict[str, bytes], extra: list[zipfile.ZipInfo] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for info in extra:
            archive.writestr(info, b"../../etc/passwd")
    return buffer.getvalue()


def nothing_made() -> bool:
    """No dataset listed, and no folder of any kind (finished, half-built or retired) left behind."""
    root = datasets_root()
    return dataset_names() == ["mnist", "fashion_mnist"] and (not root.exists() or not any(root.iterdir()))


def refused(data: bytes | Path, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        import_custom_dataset("shapes", data, DrawingRecipe.DIGIT_BOX, by=LOCAL)
    assert nothing_made()


@pytest.mark.parametrize("name", ["../evil.png", "circle/../../evil.png", "circle\\..\\..\\evil.png"])
def test_a_path_that_climbs_out_is_refused(name):
    refused(zip_of({**good_files(), name: b"x"}), "climbs out of it")


@pytest.mark.parametrize("name", ["/etc/cron.d/evil.png", "C:/Windows/evil.png"])
def test_an_absolute_path_is_refused(name):
    info = zipfile.ZipInfo(name)
    refused(zip_of(good_files(), [info]), "absolute path")


def test_a_symlink_is_refused():
    link = zipfile.ZipInfo("circle/link.png")
    link.create_system = 3  # Unix
    link.external_attr = (0o120777 << 16) & 0xFFFF0000
    refused(zip_of(good_files(), [link]), "symbolic link")


def test_more_than_ten_thousand_files_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(10_001):
            archive.writestr(f"{SHAPES[index % 3]}/{index}.png", b"")
    refused(buffer.getvalue(), "more than 10,000 files")


def test_a_zip_bomb_is_refused_by_its_declared_size(monkeypatch):
    monkeypatch.setattr(custom_import, "MAX_TOTAL_BYTES", 4 << 20)
    files = {**good_files(), "circle/bomb.png": bytes(8 << 20)}  # 8 MB of zeros, deflated to about 8 kB
    refused(zip_of(files), "would unpack to")


def forge_size(data: bytes, member: str, declared: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten, in its local header and central directory."""
    forged = bytearray(data)
    name = member.encode()
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := forged.find(signature, start)) != -1:
            name_offset = start + (30 if signature == b"PK\x03\x04" else 46)
            if forged[name_offset : name_offset + len(name)] == name:
                forged[start + size_offset : start + size_offset + 4] = struct.pack("<I", declared)
            start += 4
    return bytes(forged)


def test_a_member_that_unpacks_to_more_than_it_declares_is_never_read_past_its_header():
    files = {**good_files(), "circle/bomb.png": bytes(64 << 20)}
    data = forge_size(zip_of(files), "circle/bomb.png", 1_000)
    report = import_custom_dataset("shapes", data, DrawingRecipe.DIGIT_BOX, by=LOCAL)
    (problem,) = report.problems
    assert problem.path == "circle/bomb.png" and "cannot be unpacked" in problem.reason
    assert report.manifest.train_counts == (8, 8, 8)


def test_hostile_images_are_reported_one_by_one_and_the_good_ones_kept():
    hostile = hostile_uploads()
    bad = {
        f"circle/{i:02d}.png": hostile[kind]
        for i, kind in enumerate(
            [
                "empty file",
                "PNG declaring 30000x30000",
                "PNG cut in half",
                "random bytes",
                "PDF renamed .png",
                "HEIC renamed .jpg",
            ]
        )
    }
    report = import_custom_dataset("shapes", zip_of({**good_files(), **bad}), DrawingRecipe.DIGIT_BOX, by=LOCAL)
    reasons = {problem.path: problem.reason for problem in report.problems}
    assert set(reasons) == set(bad)
    assert reasons["circle/00.png"] == "The file is empty."
    assert "decompression bomb" in reasons["circle/01.png"] or "too many" in reasons["circle/01.png"]
    assert "damaged or truncated" in reasons["circle/02.png"]
    assert "not an image" in reasons["circle/03.png"]
    assert "HEIC" in reasons["circle/05.png"]
    assert report.manifest.skipped_files == len(bad) and sum(report.manifest.train_counts) == 24


def test_one_class_is_refused():
    refused(zip_of(good_files(classes=("circle",))), "at least 2 classes")


def test_an_empty_class_folder_is_refused_by_name():
    refused(zip_of(good_files(), [zipfile.ZipInfo("star/")]), "'star' hold no files")


def test_a_class_with_too_few_usable_images_is_refused():
    files = good_files()
    files.update({f"star/{i}.png": b"not an image" for i in range(20)})
    files.update({f"star/ok{i}.png": shape_png("circle", np.random.default_rng(i + 50)) for i in range(3)})
    refused(zip_of(files), "'star' has 3")


@pytest.mark.parametrize("name", ["$HOME", "circle;rm -rf", "circle:2", "a" * 41, "tab\there"])
def test_class_names_that_are_not_safe_folder_names_are_refused(name):
    files = {**good_files(), **{f"{name}/{i}.png": b"x" for i in range(10)}}
    refused(zip_of(files), "class name .* is not allowed")


def test_a_file_that_is_not_a_zip_is_refused():
    refused(b"PK\x03\x04 this is not really a zip", "not a readable .zip")


def test_a_folder_with_a_symlink_is_refused(tmp_path):
    folder = tmp_path / "shapes"
    for name, data in good_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "circle" / "secret.png").symlink_to("/etc/passwd")
    with pytest.raises(DatasetError, match="symbolic link"):
        read_folder(folder, DrawingRecipe.DIGIT_BOX)
    refused(folder, "symbolic link")
