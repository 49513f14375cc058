"""Where a stop lands in an epoch decides what the run records: the callback driven batch by batch, as Keras does."""

from __future__ import annotations

import queue
import threading

import keras
import numpy as np
import pytest

from core.architectures import ModelSpec, build_model
from core.training import TrainConfig
from core.training.live_control import LiveControl
from core.training.progress import ProgressRecord, epochs_trained
from core.training.stop_signal import StopSignal

BATCHES = 3


def epoch_with_stop(stop_during_batch: int | None, *, score_after: bool) -> tuple[LiveControl, ProgressRecord]:
    """One epoch of BATCHES batches; the stop arrives during batch `stop_during_batch` (None: after the last one)."""
    config = TrainConfig(dataset="mnist", epochs=5, batch_size=10, schedule="constant")
    model = build_model(ModelSpec("softmax"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    progress, stop, resume = ProgressRecord(), StopSignal(), threading.Event()
    resume.set()
    control = LiveControl(
        config, progress, queue.SimpleQueue(), stop, resume,
        validate=lambda _model: (0.5, 0.8, np.zeros((10, 10), int)), n_train=BATCHES * config.batch_size,
    )  # fmt: skip
    control.set_model(model)
    control.on_train_begin()
    control.on_epoch_begin(0)
    for batch in range(BATCHES):
        control.on_train_batch_begin(batch)
        if batch == stop_during_batch:
            stop.request(score_after=score_after)
        control.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
        if control.model.stop_training:  # as Keras' epoch loop does
            break
    if stop_during_batch is None:  # between the last batch and the epoch's end, where Keras reads its metrics
        stop.request(score_after=score_after)
    control.on_epoch_end(0, {})
    return control, progress


def test_an_unscored_stop_mid_epoch_records_no_part_epoch():
    control, progress = epoch_with_stop(0, score_after=False)
    assert progress.snapshot().epochs == () and control.confusion_matrices == []
    assert control.model.stop_training


def test_a_user_stop_mid_epoch_records_the_part_epoch_it_validated():
    control, progress = epoch_with_stop(0, score_after=True)
    (record,) = progress.snapshot().epochs
    assert record.step == 1 and record.val_accuracy == pytest.approx(0.8)
    assert control.model.stop_training
    # A third of the epoch's batches: the run says 0.3 epochs, not 1, and its curves end a third of the way.
    assert record.fraction == pytest.approx(1 / BATCHES) and epochs_trained([record]) == 0.33


@pytest.mark.parametrize("score_after", [False, True])
def test_a_stop_after_the_last_batch_keeps_that_whole_epoch_and_ends_training(score_after):
    control, progress = epoch_with_stop(None, score_after=score_after)
    (record,) = progress.snapshot().epochs
    assert record.step == BATCHES and len(control.confusion_matrices) == 1 and record.fraction == 1.0
    # Without this, Keras would train one batch of the next epoch before the stop was seen.
    assert control.model.stop_training
