"""The training engine on tiny real data: progress, stop, pause, live changes, queueing, failures."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import factories
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from core import runtime
from core.access import LOCAL
from core.architectures import LiveDropout, ModelSpec
from core.datasets import Dataset
from core.training import JobState, TrainConfig, TrainingJob, TrainingScheduler
from core.training.data import batches, split_for_training, training_split
from core.training.schedule import learning_rate_at

TINY_SPEC = ModelSpec("simple_cnn", dropout=0.3, batch_norm=False)


@pytest.fixture(scope="module")
def tiny_mnist() -> Dataset:
    """600 real digits to train on and 200 to test on, from the embedded sample."""
    return factories.tiny_mnist()


def config(**overrides) -> TrainConfig:
    settings = {"dataset": "mnist", "epochs": 2, "batch_size": 32, "learning_rate": 2e-3, "schedule": "constant"}
    return TrainConfig(**{**settings, **overrides})


def run(dataset: Dataset, spec: ModelSpec = TINY_SPEC, **overrides) -> TrainingJob:
    job = TrainingJob(dataset, spec, config(**overrides))
    TrainingScheduler(1).submit(job, by=LOCAL)
    return job


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.02)


class AtBatch(keras.callbacks.Callback):
    """Calls `action` once, on the training thread, at the end of batch `batch` of the first epoch: a known moment."""

    def __init__(self, batch: int, action: Callable[[], None]):
        super().__init__()
        self.batch, self.action, self.done = batch, action, False

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch and not self.done:
            self.done = True
            self.action()


def parked_until_resumed(job: TrainingJob) -> bool:
    """True while the job's training thread is blocked in its pause, waiting on the resume signal."""
    thread = next((t for t in threading.enumerate() if t.name == f"training-{job.id}"), None)
    frame = sys._current_frames().get(thread.ident) if thread else None
    if frame is None or frame.f_code.co_name != "wait":
        return False
    while frame is not None and frame.f_code.co_name != "_wait_while_paused":
        frame = frame.f_back
    return frame is not None


def test_a_job_trains_and_reports_everything_the_live_panel_needs(tiny_mnist):
    job = run(tiny_mnist)
    assert job.wait(120)
    result, snapshot = job.result, job.snapshot()
    assert result.state is JobState.FINISHED and result.error is None
    assert snapshot.state is JobState.FINISHED
    # 600 images, 10 % for validation: 540 to train on in batches of 32.
    assert snapshot.batches_per_epoch == 17
    assert snapshot.step == 34 and job.curves().count == 34
    assert [record.epoch for record in result.epochs] == [0, 1]
    assert result.epochs[-1].val_accuracy > 0.5  # real digits are learnable even from 540 of them
    assert all(matrix.sum() == 60 for matrix in result.confusion_matrices)
    assert len(result.confusion_matrices) == 2
    assert 0.0 <= result.test_accuracy <= 1.0
    assert snapshot.device == runtime.describe_devices(runtime.training_strategy())  # a CPU here, a GPU there
    assert snapshot.samples_per_second > 0
    # The per-batch values are exact: their size-weighted mean is the epoch's training loss.
    sizes = np.array([32] * 16 + [540 - 16 * 32])
    first_epoch_losses = job.curves().loss[:17]
    assert np.sum(first_epoch_losses * sizes) / 540 == pytest.approx(result.epochs[0].loss, rel=1e-3)


def test_stop_is_honoured_within_a_batch_and_keeps_the_weights(tiny_mnist):
    job = run(tiny_mnist, epochs=50)
    wait_for(lambda: job.snapshot().step >= 3, "step 3")
    job.stop(by=LOCAL)
    assert job.wait(60)
    result = job.result
    assert result.state is JobState.STOPPED
    assert job.snapshot().step < 17 + 3  # it did not run on to the end of the next epoch
    assert result.model is not None and result.test_accuracy is not None


def test_a_stop_without_scoring_keeps_the_weights_and_leaves_the_test_set_unscored(tiny_mnist):
    job = run(tiny_mnist, epochs=50)
    wait_for(lambda: job.snapshot().step >= 3, "step 3")
    job.stop(by=LOCAL, score=False)
    job.stop(by=LOCAL)  # a later stop does not change what the first one asked for
    assert job.wait(60)
    result = job.result
    assert result.state is JobState.STOPPED and result.model is not None
    assert result.test_accuracy is None and result.test_loss is None and result.drawn_accuracy == {}


def test_pause_holds_training_at_the_next_batch_and_resume_continues(tiny_mnist):
    job = TrainingJob(
        tiny_mnist, TINY_SPEC, config(epochs=3), extra_callbacks=[AtBatch(1, lambda: job.pause(by=LOCAL))]
    )
    TrainingScheduler(1).submit(job, by=LOCAL)
    wait_for(lambda: parked_until_resumed(job), "the training thread to wait for resume")
    snapshot = job.snapshot()
    # Paused after batch 2, before batch 3 began: the thread is parked, so nothing moves until resumed.
    assert snapshot.state is JobState.PAUSED and snapshot.step == 2 and snapshot.eta_s is None
    assert parked_until_resumed(job) and job.snapshot().step == 2
    job.resume(by=LOCAL)
    assert job.wait(120)
    assert job.result.state is JobState.FINISHED
    assert job.snapshot().step == 3 * 17


def test_live_changes_apply_at_the_next_batch_and_are_recorded_as_events(tiny_mnist):
    job = TrainingJob(
        tiny_mnist, TINY_SPEC, config(epochs=20), extra_callbacks=[AtBatch(1, lambda: job.pause(by=LOCAL))]
    )
    TrainingScheduler(1).submit(job, by=LOCAL)
    wait_for(lambda: job.snapshot().state is JobState.PAUSED, "the pause after batch 2")
    job.set_dropout(0.0, by=LOCAL)
    job.set_learning_rate(5e-4, by=LOCAL)
    job.set_epochs(1, by=LOCAL)
    job.resume(by=LOCAL)
    assert job.wait(120)
    events = {event.setting: event for event in job.result.events}
    assert events["dropout"].old == pytest.approx(0.3) and events["dropout"].new == 0.0
    assert events["learning_rate"].old == pytest.approx(2e-3) and events["learning_rate"].new == 5e-4
    assert events["epochs"].old == 20 and events["epochs"].new == 1
    assert [event.step for event in job.result.events] == [2, 2, 2]  # applied before batch 3, the next one
    # The epoch count took effect, and so did the rate inside the model.
    assert len(job.result.epochs) == 1
    dropout_layers = [layer for layer in job.result.model.layers if isinstance(layer, LiveDropout)]
    assert [float(layer.rate.numpy()) for layer in dropout_layers] == [0.0]
    assert job.snapshot().learning_rate == pytest.approx(5e-4)


class DropoutProbe(keras.callbacks.Callback):
    """Measures, inside the compiled training step, the share of its live inputs the dropout layer zeroes.

    Before the step is first traced, the model's own dropout layer is wrapped so that the traced graph
    also writes that share into a variable; after each batch the probe reads what that batch's step did.
    """

    def __init__(self):
        super().__init__()
        self.zeroed: list[float] = []  # per batch, as the compiled step measured it
        self.traces_seen: list[int] = []  # per batch, how often the step had been traced by then
        self.traces = 0
        self.share = tf.Variable(-1.0)

    def on_train_begin(self, logs=None):
        (layer,) = [layer for layer in self.model.layers if isinstance(layer, LiveDropout)]
        dropout = layer.call

        def measured_dropout(inputs, training=False):
            outputs = dropout(inputs, training=training)
            if training:
                self.traces += 1  # Python runs here only while the step is traced, not on every batch
                live = ops.cast(ops.not_equal(inputs, 0), "float32")
                zeroed = live * ops.cast(ops.equal(outputs, 0), "float32")
                self.share.assign(ops.sum(zeroed) / ops.sum(live))
            return outputs

        layer.call = measured_dropout

    def on_train_batch_end(self, batch, logs=None):
        self.zeroed.append(float(self.share.numpy()))
        self.traces_seen.append(self.traces)


def test_dropout_changed_mid_run_changes_what_the_compiled_training_step_does(tiny_mnist):
    """A rate changed after batch 3 of 17 zeroes that share of units from batch 4 on, with no new trace."""
    probe = DropoutProbe()
    job = TrainingJob(
        tiny_mnist,
        TINY_SPEC,
        config(epochs=1),
        extra_callbacks=[probe, AtBatch(2, lambda: job.set_dropout(0.8, by=LOCAL))],
    )
    TrainingScheduler(1).submit(job, by=LOCAL)
    assert job.wait(120) and job.result.state is JobState.FINISHED, job.result and job.result.error
    assert len(probe.zeroed) == 17
    # About 2,000 live units a batch: a share within 0.06 of the rate is six standard deviations wide.
    assert probe.zeroed[:3] == pytest.approx([0.3] * 3, abs=0.06), probe.zeroed
    assert probe.zeroed[3:] == pytest.approx([0.8] * 14, abs=0.06), probe.zeroed
    # Traced before the first batch (TensorFlow may trace a function twice), never again: no recompiling.
    assert probe.traces_seen == [probe.traces_seen[0]] * 17 and probe.traces_seen[0] > 0, probe.traces_seen
    assert [(event.setting, event.step) for event in job.result.events] == [("dropout", 3)]


def test_the_scheduler_queues_jobs_beyond_its_limit_and_reports_positions(tiny_mnist):
    scheduler = TrainingScheduler(1)
    first, second, third = (TrainingJob(tiny_mnist, TINY_SPEC, config(epochs=1)) for _ in range(3))
    first.pause(by=LOCAL)  # it holds its slot before its first batch, so the queue stays as submitted while we look
    for job in (first, second, third):
        scheduler.submit(job, by=LOCAL)
    assert first.snapshot().queue_position is None
    assert second.snapshot().queue_position == 1 and third.snapshot().queue_position == 2
    assert second.state is JobState.QUEUED
    third.stop(by=LOCAL)  # a queued job just leaves the queue
    assert third.result.state is JobState.STOPPED and third.result.model is None
    assert scheduler.queued() == [second] and scheduler.running() == [first]
    first.resume(by=LOCAL)
    assert first.wait(120) and second.wait(120)
    assert second.result.state is JobState.FINISHED
    assert scheduler.running() == [] and scheduler.queued() == []


def test_a_failing_job_reports_its_error_and_frees_its_slot(tiny_mnist):
    class PoisonWeights(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                kernel = self.model.layers[-1].kernel
                kernel.assign(np.full(kernel.shape, np.nan, np.float32))

    scheduler = TrainingScheduler(1)
    failing = TrainingJob(tiny_mnist, TINY_SPEC, config(epochs=3), extra_callbacks=[PoisonWeights()])
    waiting = TrainingJob(tiny_mnist, TINY_SPEC, config(epochs=1))
    scheduler.submit(failing, by=LOCAL)
    scheduler.submit(waiting, by=LOCAL)
    assert failing.wait(120)
    assert failing.result.state is JobState.FAILED
    assert "loss became nan" in failing.result.error and "lower learning rate" in failing.result.error
    assert failing.snapshot().error == failing.result.error
    assert waiting.wait(120) and waiting.result.state is JobState.FINISHED


def test_same_seed_and_settings_give_the_same_metrics(tiny_mnist):
    """Reproducible on CPU to within 1e-4 in loss (thread scheduling can reorder float sums)."""
    results = []
    for _ in range(2):
        job = run(tiny_mnist, seed=7)
        assert job.wait(120) and job.result.state is JobState.FINISHED
        results.append(job.result)
    for a, b in zip(results[0].epochs, results[1].epochs, strict=True):
        assert a.loss == pytest.approx(b.loss, abs=1e-4)
        assert a.val_loss == pytest.approx(b.val_loss, abs=1e-4)
        assert a.val_accuracy == pytest.approx(b.val_accuracy, abs=1 / 60)


def test_validation_split_is_stratified_and_batches_are_raw_pixels(tiny_mnist):
    data = split_for_training(tiny_mnist.x_train, tiny_mnist.y_train, 0.1, seed=0)
    assert len(data.y_val) == 60 and len(data.y_train) == 540
    np.testing.assert_allclose(
        np.bincount(data.y_val, minlength=10) / 60, np.bincount(tiny_mnist.y_train, minlength=10) / 600, atol=0.02
    )
    images, labels = next(iter(batches(data.x_train, data.y_train, 32, shuffle=False)))
    assert images.shape == (32, 28, 28, 1) and images.dtype.name == "float32"
    np.testing.assert_array_equal(images.numpy()[..., 0], data.x_train[:32])
    np.testing.assert_array_equal(labels.numpy().argmax(1), data.y_train[:32])
    subset = split_for_training(tiny_mnist.x_train, tiny_mnist.y_train, 0.1, seed=0, train_size=200)
    # A subset trains on that many images, none of them validation images, and is judged on the same
    # validation images as a run on the whole set.
    assert len(subset.y_train) == 200
    np.testing.assert_array_equal(subset.x_val, data.x_val)
    assert not {image.tobytes() for image in subset.x_train} & {image.tobytes() for image in data.x_val}
    # Too close to all of them for a stratified subset: all of them.
    nearly_all = split_for_training(tiny_mnist.x_train, tiny_mnist.y_train, 0.1, seed=0, train_size=539)
    assert len(nearly_all.y_train) == 540


def test_the_input_pipeline_runs_without_the_autotuner(tiny_mnist):
    """Destroying an autotuned iterator waits out its tuning thread's sleep: seconds, once 38 s, at a new epoch."""
    for shuffle in (True, False):
        pipeline = batches(tiny_mnist.x_train, tiny_mnist.y_train, 32, shuffle=shuffle)
        assert pipeline.options().autotune.enabled is False


def test_every_seed_trains_and_validates_on_the_same_images(tiny_mnist):
    """Runs (and a sweep's trials with their own seeds) compare their validation accuracy like for like."""
    splits = [
        training_split(tiny_mnist.x_train, tiny_mnist.y_train, TrainConfig(train_size=200, seed=seed))
        for seed in (0, 7)
    ]
    for first, second in zip(vars(splits[0]).values(), vars(splits[1]).values(), strict=True):
        np.testing.assert_array_equal(first, second)
    assert len(splits[0].y_train) == 200 and len(splits[0].y_val) == 60


def test_learning_rate_schedules_have_the_promised_shape():
    peak, total, warmup = 1e-2, 1000, 100
    assert learning_rate_at("constant", peak, 500, total, warmup) == peak
    one_cycle = [learning_rate_at("one_cycle", peak, step, total, warmup) for step in range(total + 1)]
    assert one_cycle[0] == pytest.approx(peak / 10)
    assert max(one_cycle) == pytest.approx(peak) and int(np.argmax(one_cycle)) == warmup
    assert one_cycle[-1] == pytest.approx(peak / 1000)
    cosine = [learning_rate_at("cosine", peak, step, total, warmup) for step in range(total + 1)]
    assert cosine[warmup - 1] == pytest.approx(peak)
    assert all(a >= b for a, b in zip(cosine[warmup:], cosine[warmup + 1 :], strict=False))
    assert cosine[-1] == pytest.approx(peak / 100)


def test_bad_settings_and_controls_are_refused(tiny_mnist):
    with pytest.raises(ValueError, match="Batch size must be"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="config is for 'fashion_mnist'"):
        TrainingJob(tiny_mnist, TINY_SPEC, TrainConfig(dataset="fashion_mnist"))
    job = TrainingJob(tiny_mnist, TINY_SPEC, config())
    with pytest.raises(ValueError, match="Dropout rate"):
        job.set_dropout(1.5, by=LOCAL)
    with pytest.raises(ValueError, match="Epochs must be"):
        job.set_epochs(0, by=LOCAL)
