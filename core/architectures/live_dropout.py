"""A dropout layer whose rate lives in a variable, so it can change while the model trains."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="explorer")
class LiveDropout(keras.layers.Layer):
    """Dropout like `keras.layers.Dropout`, but its rate can be changed between batches.

    Keras' own Dropout bakes its rate into the compiled training step; here the rate is a
    non-trainable variable read on every call, so assigning it takes effect at the next batch
    with no recompilation and no change to the weights.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.initial_rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.rate = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_rate),
            trainable=False,
            name="rate",
            dtype="float32",
        )
        self.supports_masking = True

    def set_rate(self, rate: float) -> None:
        """Change the dropout rate from the next call on."""
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be at least 0 and below 1, got {rate}.")
        self.rate.assign(rate)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        rate = ops.cast(self.rate, inputs.dtype)
        noise = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator, dtype=inputs.dtype)
        # Keep each unit with probability 1 - rate and scale it up, so the expected output is unchanged.
        return ops.where(noise >= rate, inputs / (1.0 - rate), ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.initial_rate, "seed": self.seed}
