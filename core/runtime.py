"""The TensorFlow runtime every model in the process shares: thread settings and devices.

Import this before any model is built: settings here are made once per process, before the runtime
starts, and nothing later may change them, because several sessions train in one process.
"""

from __future__ import annotations

import contextlib
import os

import tensorflow as tf

# Split the CPU into N logical devices to exercise the multi-device (MirroredStrategy) path on CPU.
CPU_DEVICES_ENV = "EXPLORER_CPU_DEVICES"
# Threads each op may use; all cores unless set (the training process may be given fewer).
CPU_THREADS_ENV = "EXPLORER_CPU_THREADS"


def _configure() -> None:
    cpus = tf.config.list_physical_devices("CPU")
    logical = int(os.environ.get(CPU_DEVICES_ENV, "1") or 1)
    if logical > 1 and cpus:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * logical)
    for gpu in tf.config.list_physical_devices("GPU"):
        # Grow GPU memory as needed, so two jobs (or the app and a notebook) can share a card.
        tf.config.experimental.set_memory_growth(gpu, True)
    cores = os.cpu_count() or 1
    # One op at a time, each using every core: best for small convnets on small CPUs.
    tf.config.threading.set_inter_op_parallelism_threads(1 if cores <= 4 else 2)
    tf.config.threading.set_intra_op_parallelism_threads(int(os.environ.get(CPU_THREADS_ENV) or cores))


# If the runtime was already started by someone else, keep its settings.
with contextlib.suppress(RuntimeError):
    _configure()


def gpus() -> list[str]:
    """Names of the GPUs TensorFlow can use."""
    return [device.name for device in tf.config.list_logical_devices("GPU")]


def training_strategy() -> tf.distribute.Strategy:
    """Several GPUs (or logical CPUs) -> MirroredStrategy; otherwise the default, single-device strategy."""
    gpu_devices = gpus()
    if len(gpu_devices) > 1:
        return tf.distribute.MirroredStrategy(gpu_devices)
    cpu_devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    if not gpu_devices and len(cpu_devices) > 1:
        return tf.distribute.MirroredStrategy(cpu_devices)
    return tf.distribute.get_strategy()


def describe_devices(strategy: tf.distribute.Strategy) -> str:
    """A plain description of where training runs, e.g. 'CPU (2 cores)' or '2 x GPU (MirroredStrategy)'."""
    replicas = strategy.num_replicas_in_sync
    kind = "GPU" if gpus() else "CPU"
    if replicas > 1:
        return f"{replicas} x {kind} (MirroredStrategy)"
    if kind == "GPU":
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return f"GPU ({details.get('device_name', 'unknown')})"
    return f"CPU ({os.cpu_count()} cores)"
