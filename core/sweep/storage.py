"""Where a study lives: a storage URL in, an Optuna storage out, with one-line errors a user can act on.

The embedded default is Optuna's journal file in the runs folder, not SQLite. Several local
processes (the app's worker, `python -m core.sweep work` in a terminal) write one study at once:
SQLite through Optuna's RDB storage makes a writer that waits past its lock timeout fail with
"database is locked", while the journal is an append-only log whose appends take a lock file
(one left by a killed process is broken after a grace period) and whose replay skips a line torn
by a crash. It needs nothing installed. Past one machine, any Optuna RDB URL (`postgresql://`,
`mysql://`) works, with heartbeats so a worker that dies does not leave its trial running forever.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from core.runs.folder import runs_dir

JOURNAL_SCHEME = "journal:"
EMBEDDED_FILE = "sweeps.optuna-journal"
RDB_SCHEMES = ("postgresql", "mysql", "sqlite")
# A worker alive records a heartbeat this often; a trial silent for the grace period is from a dead worker.
HEARTBEAT_S = 20
GRACE_S = 90
CONNECT_TIMEOUT_S = 10


class StorageError(Exception):
    """The study storage cannot be used; the message says which and what to do, in one line."""


def embedded_url(runs_folder: str | Path | None = None) -> str:
    """The default study storage: a journal file in the runs folder (EXPLORER_RUNS_DIR or ./runs)."""
    return f"{JOURNAL_SCHEME}{runs_dir(runs_folder) / EMBEDDED_FILE}"


def redact(url: str) -> str:
    """The URL as it may be shown: any password replaced by ***."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def open_storage(
    url: str | None = None,
    *,
    runs_folder: str | Path | None = None,
    on_stale_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> BaseStorage:
    """The Optuna storage a URL names (None or "": the embedded journal); StorageError in plain words.

    `on_stale_trial` is called for each trial an RDB storage finds without a heartbeat (a dead worker's).
    """
    url = (url or "").strip() or embedded_url(runs_folder)
    if url.startswith(JOURNAL_SCHEME):
        return _journal(Path(url[len(JOURNAL_SCHEME) :]).expanduser())
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme not in RDB_SCHEMES:
        raise StorageError(
            f"{redact(url)!r} is not a study storage URL: use postgresql://USER:PASSWORD@HOST/DB, "
            "mysql://..., sqlite:///PATH or journal:PATH (leave it empty for this machine's runs folder)."
        )
    engine_kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}} if scheme != "sqlite" else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeats: experimental since Optuna 2.9
            return RDBStorage(
                _with_driver(url),
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                heartbeat_stale_trial_callback=on_stale_trial,
            )
    except ImportError:
        missing = f"No database driver for {scheme}:// is installed: use postgresql:// or sqlite://."
        raise StorageError(missing) from None
    except Exception as error:  # SQLAlchemy's errors (bad URL, refused, bad password) all land here
        raise StorageError(f"Cannot open the study storage {redact(url)}: {_first_line(error)}.") from None


def _with_driver(url: str) -> str:
    """Plain postgresql:// through the psycopg2 driver we ship (SQLAlchemy 2.1 would look for psycopg 3)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _journal(path: Path) -> JournalStorage:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as error:
        raise StorageError(
            f"Cannot open the study file {path} ({error.strerror or error}): check the runs folder is writable."
        ) from None


def _first_line(error: Exception) -> str:
    """The driver's own reason, without SQLAlchemy's background links and SQL echo."""
    text = str(getattr(error, "orig", None) or error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line.rstrip(".")[:300]
