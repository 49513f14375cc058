"""Networks designed for this app: a compact batch-norm CNN (the default) and a small residual net.

On a 2-core CPU the cost of a conv layer is its output size times its channels: a layer with 32+
channels at the full 28x28 resolution costs more than everything after it. So both nets touch full
resolution with one narrow layer, pool early, and spend their channels at 14x14 and 7x7.
"""

from __future__ import annotations

import keras
from keras import layers

from core.architectures.factory import LayerFactory


def compact_cnn(make: LayerFactory) -> keras.Model:
    """Narrow at 28x28, wider at 14x14 and 7x7, batch norm throughout: as cheap as the tutorial net, faster to learn."""
    return keras.Sequential(
        [
            *make.inputs(),
            *make.conv(16, padding="same"),
            make.pool(),
            *make.conv(32, padding="same"),
            make.pool(),
            *make.conv(64, padding="same"),
            make.flatten(),
            make.dropout(),
            *make.dense(128),
            make.dropout(),
            make.classifier(),
        ],
        name="compact_cnn",
    )


def small_resnet(make: LayerFactory) -> keras.Model:
    """A stem, then residual blocks at 14x14 and 7x7: skip connections let gradients through deeper stacks."""
    inputs, *preprocessing = make.inputs()
    x = inputs
    for layer in preprocessing:
        x = layer(x)
    x = _apply(make.conv(24, padding="same"), x)
    x = make.pool()(x)
    x = _residual_block(make, x, 48)
    x = make.pool()(x)
    x = _residual_block(make, x, 96)
    x = make.global_pool()(x)
    x = make.dropout()(x)
    return keras.Model(inputs, make.classifier()(x), name="small_resnet")


def _residual_block(make: LayerFactory, x, filters: int):
    """Two 3x3 convs added to a 1x1 projection of the input, then ReLU."""
    shortcut = make.shortcut(filters)(x)
    y = _apply(make.conv(filters, padding="same"), x)
    conv, *norm, _relu = make.conv(filters, padding="same")
    y = _apply([conv, *norm], y)
    return make.relu()(make.add()([shortcut, y]))


def _apply(stack: list[layers.Layer], x):
    for layer in stack:
        x = layer(x)
    return x
