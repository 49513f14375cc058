"""Exports run in a child process (`python -m core.export`): a page rerun cannot abort one, and a
converter that crashes takes down only its child, never the app's server.

The child prints its progress to stderr ("[ 45 %] Converting to …") and its error, if any, as one
line ("python -m core.export: error: …"); a thread reads them so a page can show where it is.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.access import Action, Caller, require
from core.export.formats import ExportFormat

ROOT = Path(__file__).resolve().parents[2]
PROGRESS_LINE = re.compile(r"^\[\s*(\d+) %\] (.*)$")
ERROR_PREFIX = "python -m core.export: error: "


@dataclass(frozen=True)
class ExportStatus:
    """Where a background export is: its progress, and once done, whether it failed and why."""

    fraction: float
    message: str
    done: bool
    error: str | None


class BackgroundExport:
    """One export of one run, running in its own process."""

    def __init__(self, command: list[str]):
        self._process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self._lock = threading.Lock()
        self._fraction, self._message = 0.0, "Starting the export…"
        self._error: str | None = None
        self._last_line = ""
        self._finished = threading.Event()
        threading.Thread(target=self._follow, name="export-progress", daemon=True).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _follow(self) -> None:
        for line in self._process.stderr:
            line = line.rstrip()
            progress = PROGRESS_LINE.match(line)
            with self._lock:
                if progress:
                    self._fraction, self._message = int(progress.group(1)) / 100, progress.group(2)
                elif line.startswith(ERROR_PREFIX):
                    self._error = line.removeprefix(ERROR_PREFIX)
                elif line:
                    self._last_line = line
        code = self._process.wait()
        with self._lock:
            if code != 0 and self._error is None:
                # Killed or crashed (a converter's segfault): no message of its own, so say what is known.
                detail = f": {self._last_line[:300]}" if code > 0 and self._last_line else ""
                self._error = f"the export stopped unexpectedly (exit code {code}){detail}; nothing was half-written."
        self._finished.set()

    def status(self) -> ExportStatus:
        with self._lock:
            return ExportStatus(self._fraction, self._message, self._finished.is_set(), self._error)

    def wait(self, timeout: float) -> bool:
        """Wait until the export is done (True) or `timeout` seconds have passed (False)."""
        return self._finished.wait(timeout)


_exports: dict[Path, BackgroundExport] = {}
_exports_lock = threading.Lock()


def start_export(
    runs_root: Path, run_id: str, formats: Iterable[ExportFormat], data_dir: str | None, *, by: Caller
) -> BackgroundExport:
    """Start exporting a run in a child process, or return the export of it already running."""
    require(by, Action.EXPORT)  # the child runs as the local user: the role check is made here
    folder = Path(runs_root) / run_id
    with _exports_lock:
        running = _exports.get(folder)
        if running is not None and not running.status().done:
            return running
        command = [sys.executable, "-m", "core.export", run_id, "--runs-dir", str(runs_root)]
        command += ["--formats", ",".join(fmt.key for fmt in formats)]
        if data_dir:
            command += ["--data-dir", data_dir]
        _exports[folder] = BackgroundExport(command)
        return _exports[folder]


def current_export(runs_root: Path, run_id: str) -> BackgroundExport | None:
    """The latest export of a run started by this process, running or done but not yet reported."""
    with _exports_lock:
        return _exports.get(Path(runs_root) / run_id)


def forget_export(runs_root: Path, run_id: str, export: BackgroundExport) -> None:
    """Drop a finished export once its outcome has been shown."""
    with _exports_lock:
        if _exports.get(Path(runs_root) / run_id) is export:
            del _exports[Path(runs_root) / run_id]
