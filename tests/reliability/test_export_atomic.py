"""Exports under trouble: a kill mid-export, a full disk, a failing converter and damaged files never leave a
half-written file under its final name, and never break what an earlier export left."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from factories import make_training_result, tiny_mnist

from core.access import LOCAL
from core.datasets.files import sha256_file
from core.export import FORMATS, ExportError, TfliteModel, export_run, parse_formats, saved_comparison
from core.export import run_export as export_module
from core.runs import folder as run_folder
from core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
FLOAT16 = FORMATS["float16"].file_name

# A child that exports float32 then float16 and kills itself with SIGKILL at one point of the export:
# nothing in the export can clean up after that, just as after a power cut or the OOM killer.
KILLED_EXPORT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from core.runs import folder

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if {point!r} == "before replacing float16":
        real_replace = folder._fsync_and_replace

        def replace_or_die(partial, final):
            if final.name == {float16!r}:
                die()
            real_replace(partial, final)

        folder._fsync_and_replace = replace_or_die
    else:  # the SavedModel is written to a temporary folder, then renamed: die at the first or second rename
        real_rename = os.replace
        last = ".saved_model.old" if {point!r} == "before swapping the SavedModel" else "saved_model"

        def rename_or_die(source, target, *args, **kwargs):
            if os.path.basename(target) == last:
                die()
            return real_rename(source, target, *args, **kwargs)

        os.replace = rename_or_die

    from factories import tiny_mnist
    from core.access import LOCAL
    from core.export import export_run, parse_formats
    from core.runs.store import RunStore

    export_run(RunStore({runs!r}), {run_id!r}, tiny_mnist(60, 60), parse_formats("float32,float16"), by=LOCAL,
               latency_repeats=3)
    """
)


@pytest.fixture
def exported_run(tmp_path) -> tuple[RunStore, str]:
    """A run exported once in float32 and float16: the files a later, interrupted export must not damage."""
    store = RunStore(tmp_path / "runs")
    run_id = store.save(make_training_result(4), "sample")
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32,float16"), by=LOCAL, latency_repeats=3)
    return store, run_id


@pytest.mark.slow
@pytest.mark.parametrize(
    "point", ["before replacing float16", "before swapping the SavedModel", "between the SavedModel's renames"]
)
def test_a_kill_mid_export_leaves_no_half_file_under_a_final_name(exported_run, point):
    store, run_id = exported_run
    exports = store.root / run_id / "exports"
    before = {path.name: sha256_file(path) for path in exports.glob("*.tflite")}
    table_before = (exports / "comparison.json").read_bytes()
    script = KILLED_EXPORT.format(
        root=str(ROOT), tests=str(ROOT / "tests"), point=point, float16=FLOAT16, runs=str(store.root), run_id=run_id
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]

    if point == "before replacing float16":
        assert (exports / f".{FLOAT16}.partial").is_file(), "the kill came after the new file was written"
        assert sha256_file(exports / FLOAT16) == before[FLOAT16], "the earlier float16 file is untouched"
    else:
        assert list(exports.glob(".saved_model.*.partial")), "the kill came after the new SavedModel was written"
        assert {path.name: sha256_file(path) for path in exports.glob("*.tflite")} == before
    if point == "between the SavedModel's renames":
        assert not (exports / "saved_model").exists(), "no SavedModel under the final name, not half of one"
        assert (exports / ".saved_model.old" / "saved_model.pb").is_file(), "the previous one is whole, aside"
    else:
        assert (exports / "saved_model" / "saved_model.pb").is_file()
    for name in before:
        assert TfliteModel(exports / name).classes == 10  # every file under a final name is whole
    assert (exports / "comparison.json").read_bytes() == table_before
    # The next export goes through (putting back an earlier SavedModel first) and its table describes the files.
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32,float16"), by=LOCAL, latency_repeats=3)
    assert [row.key for row in saved_comparison(store, run_id).formats] == ["float32", "float16"]
    assert (exports / "saved_model" / "saved_model.pb").is_file() and not (exports / ".saved_model.old").exists()
    # Nothing of the killed export is left behind: no staging folder, no partial file.
    assert not list(exports.glob(".saved_model.*.partial")) and not list(exports.glob(".*.partial"))


def test_a_full_disk_while_writing_a_format_is_one_clear_message_and_no_partial(exported_run, monkeypatch):
    store, run_id = exported_run
    exports = store.root / run_id / "exports"
    before = sha256_file(exports / FLOAT16)
    real_replace = run_folder._fsync_and_replace

    def disk_full_on_float16(partial: Path, final: Path) -> None:
        if final.name == FLOAT16:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(partial, final)

    monkeypatch.setattr(run_folder, "_fsync_and_replace", disk_full_on_float16)
    with pytest.raises(ExportError, match=r"model_float16\.tflite could not be written .*No space left"):
        export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float16"), by=LOCAL, latency_repeats=3)
    assert sha256_file(exports / FLOAT16) == before
    assert not list(exports.glob(".*.partial"))
    assert [row.key for row in saved_comparison(store, run_id).formats] == ["float32", "float16"]


def test_a_format_the_converter_cannot_make_is_named_and_the_others_stay(exported_run, monkeypatch):
    store, run_id = exported_run
    real_convert = export_module.convert

    def no_int8(saved_model, fmt, calibration=None):
        if fmt.key == "int8":
            # The converter's real messages are pages of MLIR after their first line.
            raise RuntimeError("'tf.Erf' op is neither a custom op nor a flex op\n" + '  %1 = "tfl.erf"(%0)\n' * 500)
        return real_convert(saved_model, fmt, calibration)

    monkeypatch.setattr(export_module, "convert", no_int8)
    with pytest.raises(ExportError, match=r"TFLite full INT8 could not be made from this model \('tf.Erf'") as caught:
        export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float16,int8"), by=LOCAL, latency_repeats=3)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400  # one line for the page
    exports = store.root / run_id / "exports"
    assert not (exports / FORMATS["int8"].file_name).exists()
    assert TfliteModel(exports / FLOAT16).classes == 10


def test_a_damaged_table_is_simply_not_shown_and_the_next_export_rewrites_it(exported_run):
    store, run_id = exported_run
    table = store.root / run_id / "exports" / "comparison.json"
    table.write_text('{"version": 1, "rows": [{"key": ')
    assert saved_comparison(store, run_id) is None
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32"), by=LOCAL, latency_repeats=3)
    assert [row.key for row in saved_comparison(store, run_id).formats] == ["float32"]


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all" * 10, b"TFL3" + bytes(64)])
def test_a_file_that_is_not_a_tflite_model_is_refused_in_plain_words(content, tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a TensorFlow Lite model LiteRT can run"):
        TfliteModel(path)


def test_a_failed_atomic_write_removes_its_own_temporary_file(tmp_path, monkeypatch):
    """Callers need not know folder.py's temporary names: a write that fails cleans up after itself."""
    target = tmp_path / "model.tflite"
    target.write_bytes(b"the earlier file")

    def disk_full(partial: Path, final: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_folder, "_fsync_and_replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run_folder.write_bytes_atomically(target, b"the new file")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.tflite"]
    assert target.read_bytes() == b"the earlier file"


def test_staging_folders_left_by_killed_exports_are_removed_by_the_next_one(exported_run):
    """A kill mid-write leaves a `.saved_model.*.partial` folder; without cleanup they pile up, each a model's size."""
    store, run_id = exported_run
    exports = store.root / run_id / "exports"
    for name in (".saved_model.k1l2m3.partial", ".saved_model.x9y8z7.partial"):
        (exports / name / "model" / "variables").mkdir(parents=True)
        (exports / name / "model" / "saved_model.pb").write_bytes(b"half of a SavedModel")
    export_run(store, run_id, tiny_mnist(60, 60), parse_formats("float32"), by=LOCAL, latency_repeats=3)
    assert not list(exports.glob(".saved_model.*"))
    assert (exports / "saved_model" / "saved_model.pb").is_file()
