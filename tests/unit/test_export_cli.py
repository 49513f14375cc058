"""`python -m core.export RUN_ID --formats float16,int8`: the same files as the Runs page, and the table printed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_training_result

from core.export import Comparison, saved_comparison, verified_exports
from core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def export_command(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.export", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=500
    )


@pytest.mark.slow
def test_the_command_writes_the_chosen_formats_and_prints_the_table(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(1), "embedded sample of MNIST")
    done = export_command(run_id, "--formats", "float16,int8", "--runs-dir", str(tmp_path), "--repeats", "5")
    assert done.returncode == 0, done.stderr[-2000:]
    exports = tmp_path / run_id / "exports"
    assert (exports / "saved_model" / "saved_model.pb").is_file()
    assert sorted(path.name for path in exports.glob("*.tflite")) == ["model_float16.tflite", "model_int8.tflite"]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["format", "size", "test"]
    labels = [line.split("  ")[0] for line in lines[1:4]]
    assert labels == ["Keras model (float32 weights)", "TFLite float16", "TFLite full INT8"]
    assert "TFLite full INT8 is" in done.stdout and "[100 %] Done." in done.stderr
    # The same table the Runs page reads, for the files now there.
    assert [row.key for row in verified_exports(store, run_id)] == ["float16", "int8"]
    assert saved_comparison(store, run_id).num_threads == 1


def test_the_json_option_prints_the_saved_table(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(make_training_result(2), "embedded sample of MNIST")
    done = export_command(run_id, "--formats", "float32", "--runs-dir", str(tmp_path), "--repeats", "3", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    printed = json.loads(done.stdout)
    assert Comparison.from_json(printed) == saved_comparison(store, run_id)
    assert [row["key"] for row in printed["rows"]] == ["keras", "float32"]


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["20261202-010000-abcdef", "--formats", "float16,int4"], 2, "Unknown format int4: choose from"),
        (["20261202-010000-abcdef", "--threads", "0"], 2, "--threads and --repeats must be at least 1"),
        (["20261202-010000-abcdef"], 1, "There is no run 20261202-010000-abcdef"),
        (["../../etc"], 1, "'../../etc' is not a run id"),
    ],
)
def test_bad_arguments_get_one_line_saying_what_is_wrong(tmp_path, arguments, code, message):
    done = export_command(*arguments, "--runs-dir", str(tmp_path))
    assert done.returncode == code
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("python -m core.export: error:")]
    assert len(error_lines) == 1 and message in error_lines[0], done.stderr[-1000:]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("module", "arguments"),
    [
        ("core.export", ["--no-such-option"]),
        ("core.datasets", ["import"]),
        ("core.sweep", ["frobnicate"]),
        ("core.access", ["check"]),
        ("core.train", ["--epochs", "many"]),
    ],
)
def test_every_command_uses_the_one_shared_one_line_parser(module, arguments, capsys):
    """Each `python -m core.*` builds its parser from core.cli, so a bad argument is one line everywhere."""
    from core.cli import OneLineParser

    command = importlib.import_module(f"{module}.__main__" if module != "core.train" else module)
    assert command.OneLineParser is OneLineParser  # no private copy that could drift
    with pytest.raises(SystemExit) as exit_info:
        command.main(arguments)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith(f"python -m {module}")
        and ": error: " in lines[0]
        and lines[0].endswith("(see --help)")
    )


def test_a_viewer_cannot_start_a_background_export(tmp_path):
    """The child process exports as the local user, so the role check is made before it starts."""
    from core.access import AccessDenied, Caller, Role
    from core.export import FORMATS
    from core.export.background import current_export, start_export

    run_id = "20261202-010000-abcdef"
    with pytest.raises(AccessDenied):
        start_export(tmp_path, run_id, [FORMATS["float32"]], None, by=Caller(Role.VIEWER, "session-a"))
    assert current_export(tmp_path, run_id) is None


def test_a_background_export_of_a_missing_run_ends_with_the_commands_one_line_error(tmp_path):
    from core.access import LOCAL
    from core.export import FORMATS
    from core.export.background import start_export

    export = start_export(tmp_path, "20261202-010000-abcdef", [FORMATS["float32"]], None, by=LOCAL)
    assert export.wait(timeout=300)
    status = export.status()
    assert status.done and status.error.startswith("There is no run 20261202-010000-abcdef")
