"""Saving a trial's model as an ordinary run, tagged with its study and trial (runs in the training process)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.runs.store import RunStore

if TYPE_CHECKING:
    from core.training.engine import TrainingResult


def trial_tags(study_name: str, trial_number: int) -> list[str]:
    """The tags that find a trial's run on the Runs page."""
    return [f"study:{study_name}"[:30], f"trial:{trial_number}"]


@dataclass(frozen=True)
class TrialSaver:
    """An `on_finish` hook (picklable, so the training process calls it) saving and tagging one trial's run."""

    root: Path
    dataset_source: str
    owner: str
    study_name: str
    trial_number: int

    def __call__(self, result: TrainingResult) -> str:
        # Named and tagged in the same atomic save: a run is never found without them.
        return RunStore(self.root).save(
            result, self.dataset_source, self.owner, name=f"{self.study_name} #{self.trial_number}"[:80],
            tags=trial_tags(self.study_name, self.trial_number),
        )  # fmt: skip
