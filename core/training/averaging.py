"""Weight averaging: judge and keep a moving average of the weights (Keras' optimiser EMA) instead of the last step's.

At a high learning rate the weights jump around from batch to batch, so a run judged on its last
step's weights looks worse, and ranks less like where it will end, than it is. The average of the
last steps smooths those jumps out. In bench/sweep.py's quick sweep (seeds 3-6, 48 trials of 6
epochs each way) the ranking after epochs 1, 2 and 3 foretold the final one with Spearman's rho 0.93,
0.90 and 0.90 on averaged weights, and 0.44, 0.40 and 0.40 on the last step's in the same seeds'
sweeps before averaging (whose samplers drew partly other trials; bench/pruning_replay.py).
"""

from __future__ import annotations

import keras
from keras import ops

# The average spans about a quarter of an epoch's steps (1 / (1 - momentum)): never more than ten steps,
# so it smooths a step's noise without trailing a long epoch, and never fewer than two, so a run on a
# few images a batch or two an epoch is still averaged as its settings say.
MAX_MOMENTUM = 0.9
MIN_MOMENTUM = 0.5
STEPS_PER_EPOCH_SPANNED = 0.25


def averaging_momentum(steps_per_epoch: int) -> float:
    """The EMA momentum for a run of `steps_per_epoch` batches an epoch."""
    span = STEPS_PER_EPOCH_SPANNED * steps_per_epoch
    return min(MAX_MOMENTUM, max(MIN_MOMENTUM, 1.0 - 1.0 / span))


class AveragedWeightsAtEpochEnd(keras.callbacks.Callback):
    """Puts the averaged weights in the model for everything an epoch's end does, and the training ones back after.

    Listed before the callbacks that validate, stop early or save, so they all see the model as it would
    be kept. Keras itself writes the average into the model when fitting ends (the optimiser's
    `finalize_variable_values`); the average is only read here, never changed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._training_values: list | None = None

    def on_epoch_end(self, epoch, logs=None) -> None:
        variables = self.model.trainable_variables
        self._training_values = [ops.convert_to_numpy(variable) for variable in variables]
        # Fit builds the optimiser, and with it the average, before the first epoch.
        self.model.optimizer.finalize_variable_values(variables)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        if self._training_values is None:
            return
        for variable, value in zip(self.model.trainable_variables, self._training_values, strict=True):
            variable.assign(value)
        self._training_values = None
