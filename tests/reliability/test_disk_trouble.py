"""A full disk or a read-only runs folder: a clear message, no half run, earlier runs intact (real mounts)."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
import streamlit as st
from app_driver import open_app
from factories import make_training_result
from skips import skip_unless_ci

from core.access import LOCAL
from core.runs.store import RunStore, RunStoreError

DISK_MB = 3


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MB filesystem (tmpfs), so the disk can really fill up or turn read-only."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount_point)], capture_output=True
        )
        problem = mounted.stderr.decode().strip() if mounted.returncode else None
    except OSError as error:  # no mount command at all
        problem = str(error)
    if problem:
        reason = f"cannot mount a test filesystem here: {problem}"
        # Neither a full disk nor a read-only one can be had without a mount (root ignores file modes),
        # so CI, which runs as root, must be able to mount: a skip there would hide the lost coverage.
        skip_unless_ci(reason, "CI must run these tests as root with mount rights (CAP_SYS_ADMIN).")
    assert os.path.ismount(mount_point)
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> None:
    """Write until the disk refuses more, with "no space left"; fail if it never does."""
    chunk = b"\0" * 65536
    with open(disk / "ballast", "wb", buffering=0) as ballast:
        for _ in range(4 * DISK_MB * 2**20 // len(chunk)):
            try:
                ballast.write(chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
                return
    pytest.fail(f"{4 * DISK_MB} MB went onto a {DISK_MB} MB disk: it is not the small filesystem it should be")


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


@pytest.fixture
def read_only_runs(small_disk, monkeypatch):
    """A runs folder with one earlier run, on a disk that is read-only before the app starts."""
    earlier = RunStore(small_disk / "runs").save(make_training_result(0), "embedded sample of MNIST")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(small_disk / "runs"))
    st.cache_resource.clear()
    yield small_disk / "runs", earlier
    st.cache_resource.clear()
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)


def test_a_store_opened_read_only_lists_and_loads_earlier_runs_and_refuses_changes_in_words(read_only_runs):
    folder, earlier = read_only_runs
    store = RunStore(folder)
    assert "cannot be written (read-only), so new runs cannot be saved" in store.write_problem()
    assert [run.run_id for run in store.list_runs()] == [earlier] and store.list_runs()[0].complete
    assert store.load_model(earlier) is not None
    with pytest.raises(RunStoreError, match="new runs cannot be saved"):
        store.save(make_training_result(1), "sample")
    with pytest.raises(RunStoreError, match="the name was not changed"):
        store.rename(earlier, "kept", by=LOCAL)
    with pytest.raises(RunStoreError, match="the run was not deleted"):
        store.delete(earlier, by=LOCAL)
    assert store.load_model(earlier) is not None
    # A runs folder that cannot even be created is simply empty.
    missing = RunStore(folder / "never-made")
    assert missing.list_runs() == [] and "cannot be written" in missing.write_problem()


def test_the_app_on_a_read_only_runs_folder_explains_turns_training_off_and_keeps_serving(read_only_runs):
    folder, earlier = read_only_runs
    train = open_app("train")
    assert not train.exception
    assert any("cannot be written (read-only)" in error.value for error in train.error)
    assert train.button(key="train").disabled
    runs = open_app("runs")
    assert not runs.exception
    assert any("cannot be written (read-only)" in warning.value for warning in runs.warning)
    runs.session_state["runs_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    runs.run()
    runs.checkbox(key=f"confirm_delete_{earlier}").check().run()
    runs.button(key="delete_run").click().run()
    assert not runs.exception
    assert any("the run was not deleted" in error.value for error in runs.error)
    assert len(runs.dataframe[0].value) == 1 and RunStore(folder).load_model(earlier) is not None
