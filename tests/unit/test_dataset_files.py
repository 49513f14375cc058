"""The IDX and .npz readers: round trips, and every kind of bad file refused with a clear reason."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from idx_writer import idx_bytes, tiny_splits, write_idx, write_idx_folder, write_npz

from core.datasets import DatasetError
from core.datasets import files as dataset_files
from core.datasets.files import read_idx, read_idx_folder, read_npz, sha256_file
from core.datasets.registry import FASHION_MNIST, MNIST


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    arrays = tiny_splits()
    splits, verified = read_idx_folder(write_idx_folder(tmp_path, arrays, gz=gz), MNIST)
    for key, expected in arrays.items():
        np.testing.assert_array_equal(getattr(splits, key), expected)
        assert getattr(splits, key).dtype == np.uint8
        assert not getattr(splits, key).flags.writeable
    assert verified is False  # synthetic files are not the official ones


def test_npz_round_trip(tmp_path):
    arrays = tiny_splits()
    splits, _ = read_npz(write_npz(tmp_path / "mnist.npz", arrays), MNIST)
    np.testing.assert_array_equal(splits.x_test, arrays["x_test"])
    np.testing.assert_array_equal(splits.y_train, arrays["y_train"])


def _images(n=5, side=28):
    return np.zeros((n, side, side), dtype=np.uint8)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "wrong magic number"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5), "wrong magic number"),  # a labels file
        (b"\x00\x00\x0d\x03" + struct.pack(">3I", 5, 28, 28), "wrong magic number"),  # float data
        (b"\x00\x00\x08\x03" + struct.pack(">2I", 5, 28), "truncated inside its header"),
        (idx_bytes(_images())[:-100], "truncated"),
        (idx_bytes(_images()) + b"extra", "unexpected bytes"),
        (idx_bytes(_images(side=32)), "expected 28x28"),
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 2_000_000_000, 28, 28), "more than the"),
    ],
)
@pytest.mark.parametrize("gz", [True, False])
def test_bad_image_files_are_refused_with_the_reason(tmp_path, content, message, gz):
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DatasetError, match=message) as caught:
        read_idx(path, "images")
    assert str(path) in str(caught.value)


def test_truncated_and_damaged_gzip_are_refused(tmp_path):
    compressed = gzip.compress(idx_bytes(_images(50)))
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DatasetError, match="truncated or not a valid file"):
        read_idx(truncated, "images")

    damaged = bytearray(compressed)
    damaged[-6] ^= 0xFF  # inside the CRC-32 trailer
    flipped = tmp_path / "flipped.gz"
    flipped.write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match=r"flipped\.gz"):
        read_idx(flipped, "images")

    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(idx_bytes(_images()))
    with pytest.raises(DatasetError, match="not a valid file"):
        read_idx(not_gzip, "images")


def test_label_problems_are_refused(tmp_path):
    arrays = tiny_splits()
    arrays["y_test"] = arrays["y_test"].copy()
    arrays["y_test"][3] = 10
    with pytest.raises(DatasetError, match="labels must be 0-9"):
        read_idx_folder(write_idx_folder(tmp_path / "range", arrays), MNIST)

    arrays = tiny_splits()
    arrays["y_train"] = arrays["y_train"][:-1]
    with pytest.raises(DatasetError, match="40 train images but 39 train labels"):
        read_idx_folder(write_idx_folder(tmp_path / "count", arrays), MNIST)


def test_a_folder_missing_one_file_names_it(tmp_path):
    folder = write_idx_folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="missing t10k-labels-idx1-ubyte"):
        read_idx_folder(folder, MNIST)


def test_npz_problems_are_refused(tmp_path):
    arrays = tiny_splits()
    del arrays["y_test"]
    with pytest.raises(DatasetError, match="missing the arrays y_test"):
        read_npz(write_npz(tmp_path / "missing.npz", arrays), MNIST)

    arrays = tiny_splits()
    arrays["x_train"] = arrays["x_train"].astype(np.float32) / 255
    with pytest.raises(DatasetError, match="must be uint8"):
        read_npz(write_npz(tmp_path / "float.npz", arrays), MNIST)

    arrays = tiny_splits()
    arrays["y_train"] = np.array([{"label": 1}] * 40, dtype=object)
    with pytest.raises(DatasetError, match="not a valid .npz"):  # pickles are never loaded
        read_npz(write_npz(tmp_path / "pickle.npz", arrays), MNIST)

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="not a valid .npz"):
        read_npz(garbage, MNIST)

    full = write_npz(tmp_path / "full.npz").read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(DatasetError, match="cut.npz"):
        read_npz(cut, MNIST)


def test_npz_that_would_unpack_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_files, "MAX_NPZ_MEMBER_BYTES", 10_000)
    path = write_npz(tmp_path / "bomb.npz", tiny_splits(n_train=40))  # x_train is 31,360 bytes unpacked
    with pytest.raises(DatasetError, match=r"x_train\.npy would unpack to"):
        read_npz(path, MNIST)


def test_an_official_file_of_the_other_dataset_is_refused(tmp_path, monkeypatch):
    folder = write_idx_folder(tmp_path)
    labels = folder / "train-labels-idx1-ubyte.gz"
    known = dict(dataset_files.KNOWN_SHA256)
    known[sha256_file(labels)] = ("fashion_mnist", "train-labels-idx1-ubyte.gz")
    monkeypatch.setattr(dataset_files, "KNOWN_SHA256", known)
    with pytest.raises(DatasetError, match="is Fashion-MNIST's train-labels-idx1-ubyte.gz, not MNIST's"):
        read_idx_folder(folder, MNIST)
    # The same files, asked for as Fashion-MNIST, are accepted (the others are simply unverified).
    _, verified = read_idx_folder(folder, FASHION_MNIST)
    assert verified is False


def test_a_required_checksum_refuses_a_damaged_cache_file(tmp_path):
    path = write_npz(tmp_path / "mnist.npz")
    with pytest.raises(DatasetError, match="checksum does not match"):
        read_npz(path, MNIST, require_known_hash=True)


def test_labels_file_round_trip(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l.gz", labels), "labels"), labels)
