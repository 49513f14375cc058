"""The runs index: one SQLite row per run folder, for fast listing; every value in it comes from the folder."""

from __future__ import annotations

import json
import sqlite3

from core.runs.summary import RunSummary

INDEX_FILE = "index.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_utc TEXT,
    state TEXT NOT NULL,
    complete INTEGER NOT NULL,
    problem TEXT,
    dataset TEXT,
    architecture TEXT,
    test_accuracy REAL,
    drawn_accuracy REAL,
    best_val_accuracy REAL,
    epochs_completed INTEGER, -- a part epoch counts by its share, stored as REAL (2.4)
    elapsed_s REAL,
    device TEXT,
    parameters INTEGER,
    model_sha256 TEXT,
    config_json TEXT,
    owner TEXT,
    name TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]'
)
"""
# Columns added since the first index format, with their SQL types.
ADDED_COLUMNS = {"drawn_accuracy": "REAL", "owner": "TEXT"}


def add_new_columns(db: sqlite3.Connection) -> None:
    """Bring an index made by an earlier version up to this schema (its runs keep None there)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for name, kind in ADDED_COLUMNS.items():
        if name not in present:
            db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


def index_run(db: sqlite3.Connection, run: RunSummary) -> None:
    """Add a run to the index, or replace its row with this complete reading of its folder.

    Listing the runs can read a folder that another process is still saving, as interrupted and with no
    dataset, and index that before or after the save indexes the run complete. So a complete reading
    replaces every column, and an incomplete one never replaces a row: either way the run ends listed
    complete, with its dataset, rather than hidden from every list of that dataset's runs.
    """
    row = {
        "run_id": run.run_id,
        "created_utc": run.created_utc,
        "state": run.state,
        "complete": int(run.complete),
        "problem": run.problem,
        "dataset": run.dataset,
        "architecture": run.architecture,
        "test_accuracy": run.test_accuracy,
        "drawn_accuracy": run.drawn_accuracy,
        "best_val_accuracy": run.best_val_accuracy,
        "epochs_completed": run.epochs_completed,
        "elapsed_s": run.elapsed_s,
        "device": run.device,
        "parameters": run.parameters,
        "model_sha256": run.model_sha256,
        "config_json": json.dumps(run.config),
        "owner": run.owner,
        "name": run.name,
        "tags": json.dumps(list(run.tags)),
    }
    updates = ", ".join(f"{column} = excluded.{column}" for column in row if column != "run_id")
    db.execute(
        f"""INSERT INTO runs ({", ".join(row)}) VALUES ({", ".join("?" * len(row))})
            ON CONFLICT(run_id) DO UPDATE SET {updates} WHERE excluded.complete = 1""",
        tuple(row.values()),
    )


def summary_from_row(row: sqlite3.Row) -> RunSummary:
    """A row of the index as a summary."""
    values = dict(row)
    config = json.loads(values.pop("config_json") or "{}")
    tags = tuple(json.loads(values.pop("tags") or "[]"))
    values["complete"] = bool(values["complete"])
    return RunSummary(config=config, tags=tags, **values)
