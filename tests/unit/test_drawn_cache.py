"""The drawn test sets' disk cache: read back when it fits, redrawn when it is damaged or stale."""

from __future__ import annotations

import factories
import numpy as np
import pytest

from core.drawn_cache import CACHE_DIR_ENV, cache_dir, drawn_set_key
from core.drawn_test_set import drawn_test_set

STYLE = "silhouette"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "drawn"


def test_a_drawn_set_is_kept_once_and_read_back(cache):
    data = factories.tiny_fashion()
    first = drawn_test_set("fashion_mnist", data.x_test, data.y_test, STYLE)
    (kept,) = cache.glob("*.npz")
    # Proof that the file is what a second call reads: change a pixel in it, and the change comes back.
    with np.load(kept) as saved:
        images = saved["images"].copy()
    images[0, 0, 0] = 7
    np.savez(kept, images=images)
    again = drawn_test_set("fashion_mnist", data.x_test, data.y_test, STYLE)
    assert again.images[0, 0, 0] == 7
    np.testing.assert_array_equal(again.images[1:], first.images[1:])
    np.testing.assert_array_equal(again.labels, first.labels)


@pytest.mark.parametrize("damage", ["truncated", "wrong shape", "not a zip"])
def test_a_damaged_cache_file_is_redrawn_and_replaced(cache, damage):
    data = factories.tiny_fashion()
    first = drawn_test_set("fashion_mnist", data.x_test, data.y_test, STYLE)
    (kept,) = cache.glob("*.npz")
    if damage == "truncated":
        kept.write_bytes(kept.read_bytes()[:200])
    elif damage == "wrong shape":
        np.savez(kept, images=np.zeros((3, 5, 5), np.uint8))
    else:
        kept.write_text("hostile text")
    again = drawn_test_set("fashion_mnist", data.x_test, data.y_test, STYLE)
    np.testing.assert_array_equal(again.images, first.images)
    with np.load(kept) as saved:
        np.testing.assert_array_equal(saved["images"], first.images)
    assert not list(cache.glob(".*.partial"))


def test_the_key_follows_the_data_and_the_style():
    data = factories.tiny_fashion()
    key = drawn_set_key("fashion_mnist", STYLE, data.x_test, data.y_test)
    changed = data.x_test.copy()
    changed[0, 0, 0] ^= 1
    assert drawn_set_key("fashion_mnist", STYLE, changed, data.y_test) != key
    assert drawn_set_key("fashion_mnist", "outline", data.x_test, data.y_test) != key
    assert drawn_set_key("fashion_mnist", STYLE, data.x_test, data.y_test) == key


def test_a_cache_that_cannot_be_written_still_gives_the_drawings(tmp_path, monkeypatch):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocked))
    data = factories.tiny_fashion()
    drawn = drawn_test_set("fashion_mnist", data.x_test, data.y_test, STYLE)
    assert drawn.images.shape == (len(drawn.labels), 28, 28) and drawn.images.any()
    assert cache_dir() == blocked
