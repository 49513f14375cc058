"""The real app on a free loopback port, and Debian's Chromium to drive it: for end-to-end tests (and bench/)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT_S = 120


class AppDidNotStart(RuntimeError):
    """The server exited or did not answer its health check in time; its log says why."""


def find_chromium() -> str | None:
    """Debian's Chromium (Playwright's own browser download does not work offline)."""
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class RunningApp:
    url: str
    pid: int


@contextlib.contextmanager
def running_app(
    runs_dir: Path, log_path: Path, environment: dict[str, str] | None = None, script: str = "app.py"
) -> Iterator[RunningApp]:
    """`streamlit run app.py` (or another script of the project) on loopback with a fresh runs folder; stopped after.

    `python -m` from the project's folder puts it on the import path, so any script imports the project's packages.
    """
    port = free_port()
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
                "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                # Naming the address stops Streamlit looking up this machine's external IP online.
                "--browser.serverAddress", "127.0.0.1",
            ],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            # A native crash prints every thread's Python stack into the log.
            env={
                **os.environ, **(environment or {}),
                "EXPLORER_RUNS_DIR": str(runs_dir), "EXPLORER_OFFLINE": "1", "PYTHONFAULTHANDLER": "1",
            },
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, server)
            yield RunningApp(url, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()


def wait_until_healthy(url: str, server: subprocess.Popen) -> None:
    """Return once the app at `url` answers its health check; AppDidNotStart if it ends or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            if response.status == 200:
                return
        if server.poll() is not None or time.monotonic() > deadline:
            raise AppDidNotStart("The app did not start; see its log.")
        time.sleep(0.5)
