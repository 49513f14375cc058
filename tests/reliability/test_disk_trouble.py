"""A full disk or a read-only runs folder: a clear message, no half run, earlier runs intact (real mounts)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from factories import make_training_result

from core.runs.store import RunStore, RunStoreError


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MB filesystem (tmpfs), so the disk can really fill up or turn read-only."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a test filesystem here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> None:
    """Write until the disk refuses more."""
    with open(disk / "ballast", "wb") as ballast:
        try:
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()
        except OSError:
            pass


def test_a_full_disk_gives_a_plain_message_and_keeps_earlier_runs(small_disk):
    store = RunStore(small_disk / "runs")
    earlier = store.save(make_training_result(0), "sample")
    fill(small_disk)
    with pytest.raises(RunStoreError, match="is full, so this run was not saved"):
        store.save(make_training_result(1), "sample")
    runs = store.list_runs()
    assert [run.run_id for run in runs] == [earlier] and runs[0].complete
    assert store.load_model(earlier) is not None


def test_a_read_only_runs_folder_gives_a_plain_message_and_keeps_earlier_runs(small_disk):
    store = RunStore(small_disk / "runs")
    earlier = store.save(make_training_result(0), "sample")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(RunStoreError, match="cannot be written"):
            store.save(make_training_result(1), "sample")
        assert (small_disk / "runs" / earlier / "run.json").exists()
        assert store.load_model(earlier) is not None
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
