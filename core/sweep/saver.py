"""Saving a trial's model as an ordinary run, tagged with its study and trial (runs in the training process)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.access import LOCAL
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
        store = RunStore(self.root)
        run_id = store.save(result, self.dataset_source, self.owner)
        # Tagging is part of saving a sweep's run, which the caller was allowed to start (Action.TRAIN);
        # renaming and tagging someone else's runs later stays an admin's action.
        store.set_tags(run_id, trial_tags(self.study_name, self.trial_number), by=LOCAL)
        return run_id
