"""Two worker processes share one study and finish its trials between them: none lost, none run twice.

Once on the embedded storage (the runs folder's journal file), once on a real PostgreSQL server
started here as the `postgres` user on a loopback port, each worker with its own runs folder as if
on its own machine.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from optuna.trial import TrialState
from skips import skip_unless_ci

from core.runs.store import RunStore
from core.sweep import connect, load_sweep

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 6
SPEC = f"""
[sweep]
dataset = "mnist"
trials = {TRIALS}
sampler = "random"
pruner = "none"

[base]
preset = "quick"
architecture = "softmax"
train_size = 300
epochs = 1

[params.dropout]
low = 0.0
high = 0.5
"""


def sweep_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core.sweep", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen, timeout: float = 540) -> str:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"a sweep command did not finish in {timeout} s: {err[-2000:]}")
    assert process.returncode == 0, err[-2000:]
    return out


def run_two_workers(tmp_path: Path, storage: str, runs_a: Path, runs_b: Path) -> None:
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC)
    storage_args = ["--storage", storage] if storage else []
    finish(sweep_cli("create", "--spec", str(spec), "--name", "shared", "--runs-dir", str(runs_a), *storage_args))
    workers = [
        sweep_cli("work", "--name", "shared", "--runs-dir", str(runs), *storage_args) for runs in (runs_a, runs_b)
    ]
    outputs = [finish(worker) for worker in workers]
    pids = {worker.pid for worker in workers}
    sweep = load_sweep("shared", connect(storage or None, runs_a))
    trials = sweep.study.get_trials()
    # Exactly the planned trials, each run once, each complete, each by one of the two workers.
    assert sorted(trial.number for trial in trials) == list(range(TRIALS))
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * TRIALS
    assert {trial.user_attrs["pid"] for trial in trials} <= pids
    reported = [line for output in outputs for line in output.splitlines() if line.startswith("trial ")]
    assert sorted(int(line.split()[1].rstrip(":")) for line in reported) == list(range(TRIALS))
    # Each trial's model is an ordinary run in the runs folder of the worker that trained it.
    run_ids = [trial.user_attrs["run_id"] for trial in trials]
    assert len(set(run_ids)) == TRIALS
    for trial in trials:
        store = RunStore(trial.user_attrs["runs_dir"])
        run = store.get(trial.user_attrs["run_id"])
        assert run.complete and f"trial:{trial.number}" in run.tags


def test_two_local_workers_share_the_embedded_study(tmp_path):
    runs = tmp_path / "runs"
    run_two_workers(tmp_path, "", runs, runs)


# --- a real PostgreSQL server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_postgres(*command: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, **options)


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server on a loopback port, run by the `postgres` user from a temporary folder."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries or shutil.which("runuser") is None:
        skip_unless_ci("PostgreSQL is not installed (apt install postgresql)", ".ci/run installs it in CI")
    if os.geteuid() != 0:
        skip_unless_ci("Starting PostgreSQL as its own user needs root", "CI runs as root")
    bin_dir = Path(binaries[-1]).parent
    home = Path(tempfile.mkdtemp(prefix="sweep-postgres-"))
    user = pwd.getpwnam("postgres")
    os.chown(home, user.pw_uid, user.pw_gid)
    data = home / "data"
    as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    port = free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = str(bin_dir / "pg_ctl")
    # pg_ctl -w waits until the server accepts connections (or says why it did not), so nothing polls here.
    try:
        as_postgres(pg_ctl, "start", "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "-t", "120")
    except subprocess.CalledProcessError:
        log = (home / "log").read_text() if (home / "log").exists() else ""
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {log[-2000:]}")
    try:
        as_postgres(str(bin_dir / "createdb"), "-h", str(home), "-p", str(port), "sweeps")
        yield f"postgresql://postgres@127.0.0.1:{port}/sweeps"
    finally:
        as_postgres(pg_ctl, "stop", "-D", str(data), "-m", "fast", "-w", "-t", "60")
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_on_their_own_runs_folders_share_a_postgresql_study(tmp_path, postgres_url):
    run_two_workers(tmp_path, postgres_url, tmp_path / "machine_a", tmp_path / "machine_b")
