"""Ensembles: 2 to 5 saved runs of one dataset, averaged into one Keras model and saved as a run.

The ensemble is an ordinary functional model (shared input, each member a nested model, a Keras
`Average` layer on their class probabilities), so it saves to one `.keras` file that loads with
`safe_mode=True` (no Lambda layer) and every page works on it as on any other run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from core import runtime
from core.access import Action, Caller, require
from core.architectures import ModelSpec
from core.datasets import Dataset
from core.drawn_test_set import drawn_styles, drawn_test_set
from core.ensemble_info import (
    ARCHITECTURE,
    MAX_MEMBERS,
    MIN_MEMBERS,
    TAG,
    MemberScore,
    display_name,
    ensemble_problem,
    is_ensemble,
    member_scores,
)
from core.evaluation import evaluate_steadily
from core.runs.store import RunStore, RunStoreError, RunSummary
from core.runs.summary import mean_drawn_accuracy
from core.training.config import TrainConfig
from core.training.engine import TrainingResult, score
from core.training.progress import JobState

__all__ = [
    "ARCHITECTURE", "AVERAGE_LAYER", "MAX_MEMBERS", "MIN_MEMBERS", "TAG", "MemberScore", "build_ensemble",
    "display_name", "ensemble_problem", "is_ensemble", "member_scores", "save_ensemble_run",
]  # fmt: skip

# The layer that averages the members' class probabilities; the insight views look for it.
AVERAGE_LAYER = "ensemble_average"

Progress = Callable[[float, str], None]


def build_ensemble(models: Sequence[keras.Model]) -> keras.Model:
    """One functional model whose output is the mean of the members' class probabilities.

    Each member is copied (the models given are left as they are) and renamed `member_1`, ... so
    that two members of the same architecture do not collide inside the saved file.
    """
    if not MIN_MEMBERS <= len(models) <= MAX_MEMBERS:
        raise ValueError(f"An ensemble needs {MIN_MEMBERS} to {MAX_MEMBERS} models, got {len(models)}.")
    input_shape = tuple(models[0].inputs[0].shape[1:])
    classes = models[0].outputs[0].shape[-1]
    for number, model in enumerate(models, start=1):
        if tuple(model.inputs[0].shape[1:]) != input_shape:
            raise ValueError(f"Model {number} takes images shaped {tuple(model.inputs[0].shape[1:])}, "
                             f"the first takes {input_shape}: an ensemble needs one input.")  # fmt: skip
        if model.outputs[0].shape[-1] != classes:
            raise ValueError(f"Model {number} answers {model.outputs[0].shape[-1]} classes, the first {classes}: "
                             "an ensemble's members must share their classes.")  # fmt: skip
    pixels = keras.Input(input_shape, name="pixels")
    probabilities = [_copy(model, f"member_{number}")(pixels) for number, model in enumerate(models, start=1)]
    average = keras.layers.Average(name=AVERAGE_LAYER)(probabilities)
    return keras.Model(pixels, average, name=f"ensemble_of_{len(models)}")


def _copy(model: keras.Model, name: str) -> keras.Model:
    """The same model and weights under a new name (a live dropout rate is a weight, so it is kept too)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.name = name
    return copy


def save_ensemble_run(
    store: RunStore,
    run_ids: Sequence[str],
    *,
    name: str | None,
    by: Caller,
    dataset: Dataset,
    progress: Progress | None = None,
) -> str:
    """Build the ensemble of these runs, score it on `dataset`'s test set (and drawn test sets), save it as a run.

    Raises AccessDenied, ValueError (runs that cannot be ensembled, or the wrong dataset) or
    RunStoreError (a member that cannot be loaded, or a disk that refuses the save), each in one line.
    """
    require(by, Action.TRAIN)
    # A disk that cannot take the run is known now, before a minute of loading and scoring.
    unwritable = store.write_problem()
    if unwritable:
        raise RunStoreError(unwritable)
    report = progress or (lambda fraction, message: None)
    started = time.monotonic()
    runs = [store.get(run_id) for run_id in run_ids]
    problem = ensemble_problem(runs)
    if problem:
        raise ValueError(problem)
    if runs[0].dataset != dataset.name:
        trained_on = display_name(runs[0].dataset)
        raise ValueError(f"The runs were trained on {trained_on}, not {display_name(dataset.name)}; score "
                         f"their ensemble on {trained_on}'s test set.")  # fmt: skip
    models = []
    for number, run in enumerate(runs, start=1):
        report(0.05 + 0.25 * number / len(runs), f"Loading member {number} of {len(runs)}…")
        models.append(store.load_model(run.run_id))
    model = build_ensemble(models)
    report(0.35, "Scoring the ensemble and its members on the test set…")
    scores = _score_all([model, *models], dataset, report)
    (loss, accuracy, _), drawn = scores[0]
    result = TrainingResult(
        state=JobState.FINISHED,
        spec=ModelSpec(ARCHITECTURE),
        config=TrainConfig(dataset=dataset.name),
        device=runtime.describe_devices(tf.distribute.get_strategy()),
        epochs=(),
        events=(),
        elapsed_s=time.monotonic() - started,
        model=model,
        test_loss=loss,
        test_accuracy=accuracy,
        drawn_accuracy=drawn,
    )
    members = [_member_record(run, member) for run, member in zip(runs, scores[1:], strict=True)]
    report(0.95, "Saving the ensemble as a run…")
    return store.save(
        result,
        dataset.source,
        by.owner,
        extra_config=_ensemble_config(dataset, members),
        name=name or f"Ensemble of {len(runs)}",
        tags=[TAG],
    )


def _score_all(models: list[keras.Model], dataset: Dataset, report: Progress):
    """For each model: (test loss, accuracy, confusion) and its accuracy on each drawn test set.

    The same numbers `engine.drawn_accuracy` gives one model, but each drawn test set is drawn once for
    all the models: drawing takes 2 to 5 s per style here, scoring a thousand images a fraction of that.
    """
    results = [(score(model, dataset.x_test, dataset.y_test), {}) for model in models]
    styles = drawn_styles(dataset.name)
    for number, style in enumerate(styles, start=1):
        report(0.5 + 0.4 * number / len(styles), f"Scoring the drawn test set ({style})…")
        # Drawn once per style, then read by every model: drawing is the slow part.
        drawn = drawn_test_set(dataset.name, dataset.x_test, dataset.y_test, style)
        for model, (_, accuracies) in zip(models, results, strict=True):
            accuracies[style] = evaluate_steadily(model, drawn.images, drawn.labels).accuracy
    return results


def _member_record(run: RunSummary, scored) -> dict[str, Any]:
    (_, accuracy, _), drawn = scored
    return {
        "run_id": run.run_id,
        "name": run.label,
        "architecture": run.architecture,
        "test_accuracy": accuracy,
        "drawn_accuracy": mean_drawn_accuracy(drawn),
    }


def _ensemble_config(dataset: Dataset, members: list[dict[str, Any]]) -> dict[str, Any]:
    """What config.json says about an ensemble: no model settings or training of its own, its members instead."""
    return {
        "model": {"architecture": ARCHITECTURE},
        "training": {"dataset": dataset.name},
        # Where the test images that scored the ensemble and its members came from (embedded sample or full set).
        "ensemble": {"combine": "mean of the members' class probabilities", "members": members,
                     "scored_on": dataset.source},
    }  # fmt: skip
