"""Which source `load_dataset` picks, in what order, and what it says about the ones it skipped."""

from __future__ import annotations

import numpy as np
import pytest
from idx_writer import tiny_splits, write_idx_folder, write_npz

from core.datasets import DatasetError, SourceKind, forget_loaded_datasets, load_dataset
from core.datasets import sources as dataset_sources
from core.datasets.registry import FASHION_MNIST, MNIST


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine with empty system and Keras folders, and no data folder set."""
    system = tmp_path / "system"
    monkeypatch.setattr(dataset_sources, "SYSTEM_DATA_DIRS", {"fashion_mnist": system})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    forget_loaded_datasets()
    yield tmp_path
    forget_loaded_datasets()


def test_with_nothing_installed_the_embedded_sample_is_used(machine):
    for name in ("mnist", "fashion_mnist"):
        dataset = load_dataset(name)
        assert dataset.source_kind is SourceKind.SAMPLE
        assert dataset.is_sample
        assert dataset.source.startswith("embedded sample")
        # The download was the only source that had anything to say: it was skipped as offline.
        assert [s.label for s in dataset.skipped] == ["Keras' online download"]
        assert "offline" in dataset.skipped[0].reason


def test_user_folder_wins_over_every_other_source(machine):
    write_idx_folder(machine / "system", tiny_splits(seed=1))
    user = write_idx_folder(machine / "mine" / "fashion-mnist", tiny_splits(n_train=30, seed=2))
    dataset = load_dataset("fashion_mnist", data_dir=machine / "mine")
    assert dataset.source_kind is SourceKind.FOLDER
    assert len(dataset.x_train) == 30
    assert str(user) in dataset.source
    assert "not recognised as the official ones" in dataset.source


def test_environment_variable_names_the_user_folder(machine, monkeypatch):
    write_npz(machine / "env" / "mnist.npz", tiny_splits(n_train=20))
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(machine / "env"))
    dataset = load_dataset("mnist")
    assert dataset.source_kind is SourceKind.FOLDER
    assert len(dataset.x_train) == 20


def test_a_corrupt_user_folder_falls_through_and_keeps_the_reason(machine):
    write_idx_folder(machine / "system", tiny_splits(n_train=50))
    user = write_idx_folder(machine / "mine")
    (user / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    dataset = load_dataset("fashion_mnist", data_dir=user)
    assert dataset.source_kind is SourceKind.SYSTEM
    assert len(dataset.x_train) == 50
    assert len(dataset.skipped) == 1
    assert dataset.skipped[0].label.startswith("your data folder")
    assert "train-images-idx3-ubyte.gz" in dataset.skipped[0].reason


def test_system_copy_is_only_for_fashion_mnist(machine):
    write_idx_folder(machine / "system", tiny_splits(n_train=50))
    assert load_dataset("fashion_mnist").source_kind is SourceKind.SYSTEM
    assert load_dataset("mnist").source_kind is SourceKind.SAMPLE


def test_keras_cache_is_used_before_the_download(machine):
    write_idx_folder(machine / "keras" / "datasets" / "fashion-mnist", tiny_splits(n_train=60))
    dataset = load_dataset("fashion_mnist")
    assert dataset.source_kind is SourceKind.KERAS_CACHE
    assert len(dataset.x_train) == 60


def test_a_half_written_keras_cache_file_is_never_used(machine):
    full = write_npz(machine / "full.npz").read_bytes()
    cache = machine / "keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(full[: len(full) // 3])
    dataset = load_dataset("mnist")
    assert dataset.source_kind is SourceKind.SAMPLE
    assert dataset.skipped[0].label.startswith("Keras' cache")
    assert "checksum does not match" in dataset.skipped[0].reason


def test_loads_are_cached_per_process_until_forgotten(machine):
    first = load_dataset("mnist")
    assert load_dataset("mnist") is first
    forget_loaded_datasets()
    assert load_dataset("mnist") is not first


def test_offline_download_is_reported_not_raised(machine, monkeypatch, network_attempts):
    monkeypatch.delenv("EXPLORER_OFFLINE")
    with pytest.raises(DatasetError, match="offline: cannot reach storage.googleapis.com"):
        dataset_sources.download_with_keras(MNIST)
    assert network_attempts(), "the download should have tried (and been blocked) once"


def test_when_every_source_fails_the_error_lists_each_reason(machine, monkeypatch):
    monkeypatch.setattr(dataset_sources, "ASSETS_DIR", machine / "no-assets")
    user = write_idx_folder(machine / "mine")
    (user / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"your data folder .*missing t10k-images.*offline mode"):
        load_dataset("mnist", data_dir=user)


def test_unknown_dataset_name_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar10'; choose one of: mnist, fashion_mnist"):
        load_dataset("cifar10")


@pytest.mark.parametrize(("info", "n_train", "n_test"), [(MNIST, 4_000, 1_000), (FASHION_MNIST, 10_000, 2_000)])
def test_embedded_samples_are_valid_and_stratified(machine, info, n_train, n_test):
    dataset = load_dataset(info.name)
    assert dataset.is_sample
    assert (len(dataset.x_train), len(dataset.x_test)) == (n_train, n_test)
    assert dataset.source == f"embedded sample of {info.display_name}: {n_train:,} train / {n_test:,} test images"
    train_counts = np.bincount(dataset.y_train, minlength=10)
    test_counts = np.bincount(dataset.y_test, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all()
    # Stratified: every class has the same share of train and test (to within rounding).
    np.testing.assert_allclose(train_counts / n_train, test_counts / n_test, atol=0.002)
    # Real images: white ink on a black background, using the whole 0-255 range.
    assert dataset.x_train.max() == 255
    assert np.median(dataset.x_train[:, 0, :]) == 0
    # No test image is also a training image.
    train_rows = {image.tobytes() for image in dataset.x_train}
    assert not any(image.tobytes() in train_rows for image in dataset.x_test)
