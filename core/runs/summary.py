"""One run folder read into a `RunSummary`: what the runs table shows, and why a folder cannot be used."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.runs.folder import MANIFEST


class RunStoreError(Exception):
    """A run cannot be used; the message says which and why."""


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs table."""

    run_id: str
    state: str
    complete: bool
    created_utc: str | None = None
    problem: str | None = None
    dataset: str | None = None
    architecture: str | None = None
    test_accuracy: float | None = None
    # The mean accuracy over the drawn versions of the test set (None for runs saved before they existed).
    drawn_accuracy: float | None = None
    best_val_accuracy: float | None = None
    # A share of an epoch counts: 2.4 for a run stopped partway through its third (runs saved before: whole ones).
    epochs_completed: float | None = None
    elapsed_s: float | None = None
    device: str | None = None
    parameters: int | None = None
    model_sha256: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    # Who trained it: "local" on a machine not served to others, else the session or email of the trainer.
    owner: str | None = None
    name: str = ""
    tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Its name, or for an unnamed run what tells it apart: architecture, dropout and when it was trained.

        "compact · dropout 0.25 · 4 Dec 14:02": one word per run ("compact") made a table and a legend of
        runs compared for their dropout read alike.
        """
        if self.name:
            return self.name
        parts = [self.architecture or "run"]
        dropout = self.config.get("model", {}).get("dropout")
        if isinstance(dropout, (int, float)):
            parts.append(f"dropout {dropout:g}")
        parts.append(trained_at(self.run_id))
        return " · ".join(parts)


def distinct_labels(runs: Sequence[RunSummary]) -> dict[str, str]:
    """Each run's label by run id, with the end of its id added where two would read alike (in a legend or a list)."""
    counts = Counter(run.label for run in runs)
    return {run.run_id: run.label if counts[run.label] == 1 else f"{run.label} · {run.run_id[-6:]}" for run in runs}


def trained_at(run_id: str) -> str:
    """When a run was saved, from its id, in the server's time zone ("4 Dec 14:02")."""
    try:
        saved = datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC).astimezone()
    except ValueError:
        return run_id
    return f"{saved.day} {saved:%b %H:%M}"


def read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunStoreError(f"{path.name} of run {path.parent.name} cannot be read ({error}).") from None
    if not isinstance(content, dict):
        raise RunStoreError(f"{path.name} of run {path.parent.name} is not a JSON object.")
    return content


def read_folder(folder: Path) -> RunSummary:
    """A run folder as a summary: complete, interrupted (no manifest) or damaged, with the reason."""
    run_id = folder.name
    if not (folder / MANIFEST).exists():
        return RunSummary(run_id, "interrupted", False, problem="the save never finished (no run.json).")
    try:
        manifest = read_json(folder / MANIFEST)
        metrics = read_json(folder / "metrics.json")
        config = read_json(folder / "config.json")
    except RunStoreError as error:
        return RunSummary(run_id, "damaged", False, problem=str(error))
    if manifest.get("run_id") != run_id or manifest.get("complete") is not True:
        return RunSummary(run_id, "damaged", False, problem="its manifest does not describe this run.")
    return RunSummary(
        run_id=run_id,
        state=str(manifest.get("state", "finished")),
        complete=True,
        created_utc=manifest.get("created_utc"),
        dataset=manifest.get("dataset"),
        architecture=manifest.get("architecture"),
        test_accuracy=metrics.get("test_accuracy"),
        drawn_accuracy=mean_drawn_accuracy(metrics.get("drawn_accuracy")),
        best_val_accuracy=metrics.get("best_val_accuracy"),
        epochs_completed=metrics.get("epochs_completed"),
        elapsed_s=metrics.get("elapsed_s"),
        device=metrics.get("device"),
        parameters=metrics.get("parameters"),
        model_sha256=manifest.get("model_sha256"),
        config=config,
        owner=manifest.get("owner"),
        problem=manifest.get("error"),
        # Runs saved before names and tags were kept in the folder have neither: "" and ().
        name=manifest.get("name") if isinstance(manifest.get("name"), str) else "",
        tags=_tags(manifest.get("tags")),
    )


def _tags(saved: object) -> tuple[str, ...]:
    """The manifest's tags, ignoring anything that is not a list of strings (a hand-edited file)."""
    return tuple(tag for tag in saved if isinstance(tag, str)) if isinstance(saved, list) else ()


def mean_drawn_accuracy(by_style: object) -> float | None:
    """The mean over the drawn versions of the test set, or None if none was measured."""
    if not isinstance(by_style, dict):
        return None
    values = [value for value in by_style.values() if isinstance(value, (int, float))]
    return sum(values) / len(values) if values else None
