"""Hostile or mistaken input to the sweep CLI: one plain line on stderr, exit code 2, nothing half-made.

The command's own `main` runs here, in this process: each subprocess would spend seconds importing
TensorFlow for a one-line answer. tests/reliability/test_sweep_workers.py runs the real command line.
"""

from __future__ import annotations

import subprocess

import pytest
from commands import run_main

from core.sweep.__main__ import main

PROG = "python -m core.sweep: error:"


def sweep_cli(*args: str) -> subprocess.CompletedProcess:
    return run_main(main, *args)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith(PROG)]
    return line


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("[sweep]\ntrials = 4\n[params.dropout]\nlow = 0.6\nhigh = 0.2\n", "params.dropout: low (0.6) must be below"),
        ("[sweep\n", "not valid TOML"),
        ("[sweep]\nsampler = 'bayes'\n[params.dropout]\nlow = 0.1\nhigh = 0.2\n", "sweep.sampler: use one of tpe"),
    ],
)
def test_a_bad_spec_is_one_line_and_creates_no_study(tmp_path, spec, message):
    path = tmp_path / "sweep.toml"
    path.write_text(spec)
    runs = tmp_path / "runs"
    line = one_error_line(sweep_cli("create", "--spec", str(path), "--name", "bad", "--runs-dir", str(runs)))
    assert message in line and str(path) in line
    journal = runs / "sweeps.optuna-journal"
    assert not journal.exists() or "bad" not in journal.read_text()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres:/db-host/sweeps", "is not a study storage URL"),
        # Nothing listens on port 1 of this machine: refused at once, and the password never printed.
        ("postgresql://sweeper:hunter2@127.0.0.1:1/sweeps", "Cannot open the study storage postgresql://sweeper:***@"),
    ],
)
def test_a_bad_or_unreachable_storage_is_one_line_without_the_password(tmp_path, url, message):
    line = one_error_line(sweep_cli("work", "--storage", url, "--name", "any", "--runs-dir", str(tmp_path)))
    assert message in line and "hunter2" not in line


def test_an_unknown_study_names_the_studies_there(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text("[sweep]\ndataset = 'mnist'\ntrials = 2\n[params.dropout]\nlow = 0.1\nhigh = 0.3\n")
    created = sweep_cli("create", "--spec", str(spec), "--name", "real", "--runs-dir", str(tmp_path))
    assert created.returncode == 0, created.stderr[-2000:]
    assert "Created study 'real' with 2 trials" in created.stdout
    line = one_error_line(sweep_cli("show", "--name", "rael", "--runs-dir", str(tmp_path)))
    assert "No study named 'rael' in this storage. Studies there: real." in line
    shown = sweep_cli("show", "--name", "real", "--runs-dir", str(tmp_path))
    assert shown.returncode == 0 and "2 waiting" in shown.stdout
