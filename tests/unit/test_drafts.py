"""Unsaved drawings kept on disk per owner: read back whole, or refused in one line when damaged."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from core.datasets import DatasetError
from core.datasets.drafts import MAX_BYTES, Draft, draft_path, load_draft, save_draft


def drawings(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(count)]


def test_a_draft_is_read_back_as_it_was_written_and_an_empty_one_removes_it(tmp_path):
    draft = Draft({"circle": drawings(3, 0), "cross": []}, "My shapes", "digit_box", "shapes")
    save_draft("teacher@example.org", draft, tmp_path)
    back = load_draft("teacher@example.org", tmp_path)
    assert list(back.examples) == ["circle", "cross"] and back.examples["cross"] == []
    np.testing.assert_array_equal(np.stack(back.examples["circle"]), np.stack(draft.examples["circle"]))
    assert (back.display_name, back.recipe, back.source) == ("My shapes", "digit_box", "shapes")
    assert load_draft("someone else", tmp_path) is None, "each owner has their own"
    save_draft("teacher@example.org", Draft(), tmp_path)
    assert (
        load_draft("teacher@example.org", tmp_path) is None and not draft_path("teacher@example.org", tmp_path).exists()
    )


def hostile_draft(meta: dict, **arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"PK\x03\x04 truncated",
        hostile_draft({"classes": ["../up"]}, class_0=np.zeros((1, 28, 28), np.uint8)),
        hostile_draft(
            {"classes": ["a", "A"]}, class_0=np.zeros((1, 28, 28), np.uint8), class_1=np.zeros((1, 28, 28), np.uint8)
        ),
        hostile_draft({"classes": ["a"]}, class_0=np.zeros((1, 64, 64), np.uint8)),
        hostile_draft({"classes": ["a"]}, class_0=np.zeros((1, 28, 28), np.float32)),
        hostile_draft({"classes": ["a", "b"]}, class_0=np.zeros((1, 28, 28), np.uint8)),
    ],
    ids=["empty", "truncated", "path-like class", "duplicate classes", "wrong size", "wrong type", "missing class"],
)
def test_a_damaged_or_hostile_draft_is_refused_in_one_line_and_kept_aside(tmp_path, content):
    path = draft_path("local", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=r"^Your unsaved drawings could not be read back \(\w+\); the file was kept"):
        load_draft("local", tmp_path)
    assert not path.exists() and path.with_suffix(".damaged").read_bytes() == content
    assert load_draft("local", tmp_path) is None, "the next visit starts a new draft"


def test_a_draft_whose_compressed_data_is_corrupt_is_refused_too(tmp_path):
    save_draft("local", Draft({"circle": drawings(20, 0)}), tmp_path)
    path = draft_path("local", tmp_path)
    content = bytearray(path.read_bytes())
    start = content.index(b"class_0.npy") + 40  # inside that member's deflated bytes
    content[start : start + 200] = bytes(200)
    path.write_bytes(bytes(content))
    with pytest.raises(DatasetError, match="could not be read back"):
        load_draft("local", tmp_path)


def test_a_draft_claiming_more_than_the_bound_is_refused_before_it_is_read(tmp_path):
    path = draft_path("local", tmp_path)
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("class_0.npy", bytes(MAX_BYTES + 1))  # compresses to almost nothing
    with pytest.raises(DatasetError, match=r"\(ValueError\)"):
        load_draft("local", tmp_path)
