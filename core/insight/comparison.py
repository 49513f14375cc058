"""The same recipe trained on MNIST and on Fashion-MNIST: find such pairs of runs and compare them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.architectures import ModelSpec
from core.ensemble_info import is_ensemble
from core.runs.store import RunSummary
from core.training.config import TrainConfig

DATASETS = ("mnist", "fashion_mnist")
TRAINING_DEFAULTS = TrainConfig().to_dict()
# Settings that may differ between two runs of "the same recipe": where the data came from and how big it was.
IGNORED = {"dataset"}


def recipe(run: RunSummary) -> str:
    """A run's model and training settings without the dataset, as a comparable key."""
    # A run saved before a setting existed trained as its default says: fill it in, so it pairs with newer runs.
    training = {**TRAINING_DEFAULTS, **run.config.get("training", {})}
    training = {key: value for key, value in training.items() if key not in IGNORED}
    return json.dumps({"model": _model_as_on_mnist(run.config.get("model", {})), "training": training}, sort_keys=True)


def _model_as_on_mnist(model: dict) -> dict:
    """The model settings as they apply to MNIST: a recipe's drawings and flips follow the dataset it trains on
    (ModelSpec.for_dataset), so its Fashion-MNIST twin reads the same once both are put on one dataset."""
    try:
        return ModelSpec.from_dict(model).for_dataset("mnist").to_dict()
    except (TypeError, ValueError):  # settings this version does not know: compared as saved
        return model


def twin_runs(runs: Sequence[RunSummary]) -> list[tuple[RunSummary, RunSummary]]:
    """Pairs (MNIST run, Fashion-MNIST run) of complete runs with the same recipe, newest first."""
    newest: dict[tuple[str, str], RunSummary] = {}
    for run in runs:
        # An ensemble's recipe is its members, not settings: every ensemble would look like every other.
        if run.complete and run.dataset in DATASETS and not is_ensemble(run):
            newest.setdefault((recipe(run), run.dataset), run)  # runs come newest first
    pairs = [(newest[(key, "mnist")], newest[(key, "fashion_mnist")])
             for key, dataset in newest if dataset == "mnist" and (key, "fashion_mnist") in newest]  # fmt: skip
    return sorted(pairs, key=lambda pair: max(pair[0].run_id, pair[1].run_id), reverse=True)
