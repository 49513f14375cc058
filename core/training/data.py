"""Training data: a stratified validation split and a `tf.data` pipeline over uint8 arrays.

The dataset stays uint8 in memory; each batch is gathered, cast to float and one-hot encoded on
the fly, so there is never a float copy of the whole dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

from core.datasets.registry import NUM_CLASSES
from core.training.config import TrainConfig


@dataclass(frozen=True)
class TrainingData:
    """The images a model learns from and the held-out validation images that steer training."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


# Every run of a dataset trains and validates on the same images whatever its seed, so runs' validation
# accuracies compare like for like (a sweep's trials may each have their own seed). The seed decides
# the starting weights, the batch order and the augmentation.
SPLIT_SEED = 0
# Batches gathered at once and kept ready ahead of the model: gathering one is a copy of about 100 kB,
# far shorter than a training step, so two in flight keep a CPU or a GPU fed.
PIPELINE_DEPTH = 2


def batches_per_epoch(n_train: int, batch_size: int) -> int:
    """How many batches one pass over `n_train` images takes (the last one may be short)."""
    return math.ceil(n_train / batch_size)


def training_split(images: np.ndarray, labels: np.ndarray, config: TrainConfig) -> TrainingData:
    """The training and validation images a run with `config` uses: the same for every seed."""
    return split_for_training(images, labels, config.validation_split, SPLIT_SEED, config.train_size)


def split_for_training(
    images: np.ndarray, labels: np.ndarray, validation_split: float, seed: int, train_size: int | None = None
) -> TrainingData:
    """Stratified split of the training set; the test set is never used to steer training.

    The validation images are the same share of the whole training set whether or not a run trains on
    a subset, and a subset of `train_size` images is drawn from the rest. So a quick run is judged on as
    many images as a full one (on 500, one image is 0.2 points and chance alone moves about 1.4), and
    runs of any subset size compare their validation accuracy like for like.
    """
    indices = np.arange(len(labels))
    # At least one validation image per class: a stratified split of a small set of your own needs it.
    classes = len(np.unique(labels))
    val_size = min(max(math.ceil(validation_split * len(indices)), classes), len(indices) - classes)
    train, val = train_test_split(indices, test_size=val_size, stratify=labels, random_state=seed)
    # A stratified subset leaves at least one image of each class out; asked for more, train on them all.
    if train_size is not None and train_size <= len(train) - classes:
        train, _ = train_test_split(train, train_size=train_size, stratify=labels[train], random_state=seed)
    return TrainingData(images[train], labels[train], images[val], labels[val])


def batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    classes: int = NUM_CLASSES,
) -> tf.data.Dataset:
    """Batches of (float32 pixels 0-255 shaped (B, 28, 28, 1), one-hot labels), reshuffled every epoch."""
    pixels = tf.constant(images, dtype=tf.uint8)
    label_tensor = tf.constant(labels, dtype=tf.int32)
    order = tf.data.Dataset.range(len(labels))
    if shuffle:
        order = order.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)

    def gather(index_batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch = tf.cast(tf.gather(pixels, index_batch), tf.float32)[..., tf.newaxis]
        return batch, tf.one_hot(tf.gather(label_tensor, index_batch), classes)

    # tf.data's autotuner runs a thread per iterator that sleeps ever longer between tunings, and destroying
    # the iterator waits for that sleep to end: with it, the gaps between epochs were 0.01-41 s (5 s in one run,
    # 41 s in another), with no CPU used; without it, 0.01-0.02 s, and batches per second within noise
    # (0.94x and 1.11x in two runs of bench/epoch_gaps.py, 2 cores).
    options = tf.data.Options()
    options.autotune.enabled = False
    pipeline = order.batch(batch_size).map(gather, num_parallel_calls=PIPELINE_DEPTH).prefetch(PIPELINE_DEPTH)
    return pipeline.with_options(options)
