"""What a saved ensemble run is, without TensorFlow: pages that only list or describe runs import this.

Building and scoring an ensemble needs Keras and lives in `core.ensemble`; the Runs page must not wait
seconds for TensorFlow to load until someone actually builds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.datasets.registry import dataset_info
from core.runs.summary import RunSummary

MIN_MEMBERS = 2
MAX_MEMBERS = 5
ARCHITECTURE = "ensemble"
TAG = "ensemble"


@dataclass(frozen=True)
class MemberScore:
    """One member as the ensemble saw it when it was built: its accuracies on the same test images."""

    run_id: str
    name: str
    test_accuracy: float
    drawn_accuracy: float | None


def is_ensemble(run: RunSummary) -> bool:
    """Whether a saved run is an ensemble built here."""
    return run.architecture == ARCHITECTURE and isinstance(run.config.get("ensemble"), dict)


def member_scores(run: RunSummary) -> list[MemberScore]:
    """The members of an ensemble run with the accuracies measured when it was built (empty for other runs)."""
    if not is_ensemble(run):
        return []
    members = run.config["ensemble"].get("members", [])
    return [
        MemberScore(str(m.get("run_id")), str(m.get("name", "")), float(m.get("test_accuracy", 0.0)),
                    m.get("drawn_accuracy"))
        for m in members if isinstance(m, dict)
    ]  # fmt: skip


def scored_on(run: RunSummary) -> str | None:
    """The test data an ensemble and its members were scored on when it was built (None if not recorded)."""
    source = run.config.get("ensemble", {}).get("scored_on") if is_ensemble(run) else None
    return str(source) if source else None


def ensemble_gap_reading(test_accuracy: float, drawn: dict[str, float]) -> str:
    """An ensemble's gap between test images and drawings, with advice that fits a model nobody trained."""
    parts = " and ".join(f"{style} at {100 * accuracy:.0f} %" for style, accuracy in drawn.items())
    return (
        f"**A gap between the test images and drawings:** this ensemble reads the test images at "
        f"{100 * test_accuracy:.0f} % but {parts}. An ensemble is not trained, only averaged: to close the gap, "
        "build one from members trained with *Robust to drawings*."
    )


def ensemble_problem(runs: Sequence[RunSummary]) -> str | None:
    """Why these runs cannot make an ensemble, in one line, or None if they can."""
    if not MIN_MEMBERS <= len(runs) <= MAX_MEMBERS:
        return f"Select {MIN_MEMBERS} to {MAX_MEMBERS} runs to build an ensemble ({len(runs)} selected)."
    if len({run.run_id for run in runs}) != len(runs):
        return "The same run is selected twice; pick different runs."
    unfinished = [run.run_id for run in runs if not run.complete]
    if unfinished:
        return f"Run {unfinished[0]} is not complete, so it cannot join an ensemble; deselect it."
    # An ensemble inside an ensemble would weigh its own members less than the others, without saying so.
    nested = [run for run in runs if is_ensemble(run)]
    if nested:
        return (f"{nested[0].label} is already an ensemble; select its members instead, "
                "so that every model counts equally.")  # fmt: skip
    datasets = {run.dataset for run in runs}
    if len(datasets) > 1:
        names = ", ".join(sorted(display_name(name) for name in datasets))
        return f"The runs were trained on different datasets ({names}); select runs of one dataset."
    return None


def display_name(dataset_name: str | None) -> str:
    """A dataset as users know it ("Fashion-MNIST"), or its bare name if it is no longer known."""
    try:
        return dataset_info(str(dataset_name)).display_name
    except ValueError:
        return str(dataset_name)
