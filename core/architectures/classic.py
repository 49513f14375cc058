"""The seed tutorials' models, faithfully, and two baselines that show what convolutions buy.

Each reads like the diagram a teacher would draw; batch norm (when enabled) follows every conv
and hidden dense layer, and dropout sits where the tutorial put it.
"""

from __future__ import annotations

import keras

from core.architectures.factory import LayerFactory


def softmax_regression(make: LayerFactory) -> keras.Model:
    """Pixels straight to class scores: a linear model, the floor every network must beat."""
    return keras.Sequential([*make.inputs(), make.flatten(), make.classifier()], name="softmax_regression")


def mlp(make: LayerFactory) -> keras.Model:
    """Two hidden dense layers: sees pixels, not shapes, so it cannot share what it learns across positions."""
    return keras.Sequential(
        [
            *make.inputs(),
            make.flatten(),
            *make.dense(256),
            make.dropout(),
            *make.dense(128),
            make.dropout(),
            make.classifier(),
        ],
        name="mlp",
    )


def simple_cnn(make: LayerFactory) -> keras.Model:
    """The classic MNIST tutorial net (seed 001): Conv32-Pool-Conv64-Pool-Dense128-Dropout."""
    return keras.Sequential(
        [
            *make.inputs(),
            *make.conv(32),
            make.pool(),
            *make.conv(64),
            make.pool(),
            make.flatten(),
            *make.dense(128),
            make.dropout(),
            make.classifier(),
        ],
        name="simple_cnn",
    )


def three_conv_cnn(make: LayerFactory) -> keras.Model:
    """Seed 000's Fashion-MNIST net: Conv32-Pool-Conv64-Pool-Conv64-Dense64, dropout before the dense layer."""
    return keras.Sequential(
        [
            *make.inputs(),
            *make.conv(32),
            make.pool(),
            *make.conv(64),
            make.pool(),
            *make.conv(64),
            make.flatten(),
            make.dropout(),
            *make.dense(64),
            make.classifier(),
        ],
        name="three_conv_cnn",
    )


def vgg_style(make: LayerFactory) -> keras.Model:
    """Seed 002's VGG-style net: 3x3 'same' stacks 32-32-64 / 128-128-256, Dense 512-64, about 7 M parameters."""
    return keras.Sequential(
        [
            *make.inputs(),
            *make.conv(32, padding="same"),
            *make.conv(32, padding="same"),
            make.dropout(),
            *make.conv(64, padding="same"),
            make.pool(),
            make.dropout(),
            *make.conv(128, padding="same"),
            *make.conv(128, padding="same"),
            *make.conv(256, padding="same"),
            make.pool(),
            make.dropout(),
            make.flatten(),
            *make.dense(512),
            make.dropout(),
            *make.dense(64),
            make.dropout(),
            make.classifier(),
        ],
        name="vgg_style",
    )


def wide_5x5(make: LayerFactory) -> keras.Model:
    """Seed 004's net: two Conv128 5x5 with pooling, then Dense 256."""
    return keras.Sequential(
        [
            *make.inputs(),
            *make.conv(128, kernel=5),
            make.pool(),
            *make.conv(128, kernel=5),
            make.pool(),
            make.flatten(),
            *make.dense(256),
            make.dropout(),
            make.classifier(),
        ],
        name="wide_5x5",
    )
