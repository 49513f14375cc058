"""Weight averaging: a run is validated and kept on the moving average of its weights, and trains on its own."""

from __future__ import annotations

import factories
import keras
import numpy as np
import pytest

from core.access import LOCAL
from core.architectures import ModelSpec
from core.training import JobState, TrainConfig, TrainingJob, TrainingScheduler
from core.training.averaging import MAX_MOMENTUM, MIN_MOMENTUM, averaging_momentum
from core.training.data import training_split
from core.training.engine import score


def weights(model: keras.Model) -> list[np.ndarray]:
    return [np.array(variable) for variable in model.trainable_variables]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


class WeightsWatch(keras.callbacks.Callback):
    """The weights after every step, at each epoch's end (what was validated) and at the next one's first step."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[list[np.ndarray]] = []
        self.trained, self.judged, self.resumed_from = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0 and len(self.resumed_from) < len(self.judged):
            self.resumed_from.append(weights(self.model))

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(weights(self.model))

    def on_epoch_end(self, epoch, logs=None):
        self.trained.append(self.steps[-1])
        self.judged.append(weights(self.model))


def moving_average(steps: list[list[np.ndarray]], momentum: float) -> list[np.ndarray]:
    """Keras' optimiser EMA of the weights after each step, worked out by hand: it starts at the first step's."""
    average = [value.astype(np.float64) for value in steps[0]]
    for step in steps[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, step, strict=True)]
    return average


class WreckFrom(keras.callbacks.Callback):
    """From epoch `first` on, the training weights are zero and stay so, so the model answers all but uniformly."""

    def __init__(self, first: int) -> None:
        super().__init__()
        self.first = first
        self.wrecking = False

    def on_epoch_begin(self, epoch, logs=None):
        self.wrecking = epoch >= self.first
        if self.wrecking:
            for variable in self.model.trainable_variables:
                variable.assign(np.zeros(variable.shape, variable.dtype))

    def on_train_batch_begin(self, batch, logs=None):
        if self.wrecking:  # after the live control has set this step's rate
            self.model.optimizer.learning_rate.assign(0.0)


def train(
    average_weights: bool, epochs: int = 3, patience: int = 0, extra: tuple[keras.callbacks.Callback, ...] = ()
) -> tuple[TrainingJob, WeightsWatch]:
    dataset = factories.tiny_mnist()
    config = TrainConfig(
        dataset="mnist", epochs=epochs, batch_size=32, learning_rate=3e-3, schedule="constant",
        average_weights=average_weights, early_stopping_patience=patience,
    )  # fmt: skip
    watch = WeightsWatch()
    spec = ModelSpec("simple_cnn", dropout=0.3, batch_norm=False)
    job = TrainingJob(dataset, spec, config, extra_callbacks=[*extra, watch])
    TrainingScheduler(1).submit(job, by=LOCAL)
    assert job.wait(120) and job.result.state is JobState.FINISHED, job.result.error
    return job, watch


def test_an_averaged_run_is_judged_and_kept_on_its_average_and_trains_on_its_own_weights():
    job, watch = train(average_weights=True)
    assert len(watch.judged) == 3
    # Every epoch's end sees the average, not the last step's weights ...
    assert not any(same(trained, judged) for trained, judged in zip(watch.trained, watch.judged, strict=True))
    # ... and the next epoch trains on from the last step's weights, not from the average.
    assert len(watch.resumed_from) == 2
    assert all(same(resumed, trained) for resumed, trained in zip(watch.resumed_from, watch.trained[:2], strict=True))
    # What was judged is the moving average of every step so far, spanning a quarter of the 17-step epoch.
    assert len(watch.steps) == 3 * 17
    expected = moving_average(watch.steps, averaging_momentum(17))
    assert all(np.allclose(j, e, rtol=1e-4, atol=1e-6) for j, e in zip(watch.judged[-1], expected, strict=True))
    # The model kept is the one the last epoch validated.
    model = job.result.model
    assert same(weights(model), watch.judged[-1])
    data = training_split(job.dataset.x_train, job.dataset.y_train, job.config)
    assert score(model, data.x_val, data.y_val)[0] == pytest.approx(job.result.epochs[-1].val_loss, rel=1e-4)


def test_early_stopping_keeps_the_best_epochs_averaged_weights():
    # Two epochs learn; from the third the weights are wrecked, so early stopping (patience 2) ends the run
    # after the third or fourth, whichever of the first two was best, and must give back the best epoch's
    # model as judged: its average, not its last step nor the wreck.
    job, watch = train(average_weights=True, epochs=6, patience=2, extra=(WreckFrom(2),))
    losses = [record.val_loss for record in job.result.epochs]
    # A wrecked epoch's average keeps momentum**17 (about 1 %) of the one before: all but uniform answers.
    classes = job.dataset.info.num_classes
    assert len(losses) in (3, 4), losses
    assert losses[2:] == pytest.approx([np.log(classes)] * (len(losses) - 2), rel=1e-3), losses
    best = int(np.argmin(losses))
    assert not same(watch.judged[best], watch.trained[best])
    model = job.result.model
    assert same(weights(model), watch.judged[best])
    # ... which is the model that epoch validated.
    data = training_split(job.dataset.x_train, job.dataset.y_train, job.config)
    assert score(model, data.x_val, data.y_val)[0] == pytest.approx(losses[best], rel=1e-4)


def test_without_averaging_a_run_is_judged_and_kept_on_its_last_step():
    job, watch = train(average_weights=False)
    assert all(same(trained, judged) for trained, judged in zip(watch.trained, watch.judged, strict=True))
    assert same(weights(job.result.model), watch.trained[-1])


def test_the_average_spans_a_quarter_epoch_but_at_least_two_steps_and_at_most_ten():
    assert averaging_momentum(1) == averaging_momentum(8) == MIN_MOMENTUM
    assert averaging_momentum(17) == pytest.approx(1 - 1 / 4.25)
    assert averaging_momentum(40) == pytest.approx(MAX_MOMENTUM)
    assert averaging_momentum(469) == MAX_MOMENTUM
