"""Per-batch training curves, kept as they arrive: raw values, their smoothed line, and views of bounded size.

A long run has hundreds of thousands of batches, and every watching tab redraws its curves each
second. So smoothing happens once per batch as it arrives, and what is drawn is a view of at most
a fixed number of points per curve, whatever the run's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

# TensorBoard's default smoothing weight.
SMOOTHING = 0.8
# Points per curve the live panel draws: a 1,400-pixel-wide chart cannot show more.
LIVE_POINTS = 1_000
# Points per curve a saved run keeps in its history and TensorBoard log.
HISTORY_POINTS = 2_000
METRICS = ("loss", "accuracy")


def smooth(values: Sequence[float], weight: float = SMOOTHING) -> np.ndarray:
    """TensorBoard-style exponential smoothing, debiased so the start is not dragged toward zero.

    Missing values (NaN) stay missing and do not count toward the average.
    """
    values = np.asarray(values, dtype=np.float64)
    smoothed = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    running = lfilter([1 - weight], [1, -weight], values[finite])
    smoothed[finite] = running / (1 - weight ** np.arange(1, len(running) + 1))
    return smoothed


def min_max_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most `max_points` points that keep each stretch's lowest and highest value.

    A spike drawn from these still shows, where taking every n-th point would skip it.
    """
    count = len(values)
    if count <= max_points:
        return np.arange(count)
    # Two points per bucket, plus the first and the last so the curve spans the whole run.
    buckets = max(1, (max_points - 2) // 2)
    size = -(-count // buckets)
    low = np.full(buckets * size, np.inf)
    high = np.full(buckets * size, -np.inf)
    missing = np.isnan(values)
    low[:count] = np.where(missing, np.inf, values)
    high[:count] = np.where(missing, -np.inf, values)
    starts = np.arange(buckets) * size
    lowest = starts + low.reshape(buckets, size).argmin(axis=1)
    highest = starts + high.reshape(buckets, size).argmax(axis=1)
    chosen = np.union1d(np.concatenate([lowest, highest]), [0, count - 1])
    return chosen[chosen < count]


@dataclass(frozen=True)
class CurvesView:
    """A bounded view of a run's per-batch curves: raw and smoothed values at shared steps.

    `count` is how many batches it stands for.
    """

    count: int
    steps: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    smoothed_loss: np.ndarray
    smoothed_accuracy: np.ndarray


class BatchCurves:
    """Every batch's loss and accuracy, appended in O(1) each, with the smoothed value kept alongside."""

    def __init__(self, weight: float = SMOOTHING, capacity: int = 1_024):
        self.weight = weight
        self.count = 0
        self._steps = np.empty(capacity, dtype=np.int64)
        self._raw = np.empty((capacity, len(METRICS)))
        self._smoothed = np.empty((capacity, len(METRICS)))
        self._running = [0.0] * len(METRICS)
        self._seen = [0] * len(METRICS)

    def add(self, step: int, loss: float, accuracy: float) -> None:
        if self.count == len(self._steps):
            self._grow()
        index = self.count
        self._steps[index] = step
        for column, value in enumerate((loss, accuracy)):
            self._raw[index, column] = value
            if not np.isfinite(value):
                self._smoothed[index, column] = np.nan
                continue
            self._seen[column] += 1
            self._running[column] = self.weight * self._running[column] + (1 - self.weight) * value
            self._smoothed[index, column] = self._running[column] / (1 - self.weight ** self._seen[column])
        self.count += 1

    def _grow(self) -> None:
        size = 2 * len(self._steps)
        self._steps = np.resize(self._steps, size)
        self._raw = np.resize(self._raw, (size, len(METRICS)))
        self._smoothed = np.resize(self._smoothed, (size, len(METRICS)))

    def view(self, max_points: int = LIVE_POINTS, keep_extremes: bool = True) -> CurvesView:
        """At most `max_points` points: each stretch's extremes of both metrics, or evenly spaced ones.

        Extremes show spikes on a chart; evenly spaced points are a fair sample to smooth again later
        (extremes of skewed batch losses would lift a re-smoothed curve).
        """
        raw, smoothed = self._raw[: self.count], self._smoothed[: self.count]
        if self.count <= max_points:
            chosen = np.arange(self.count)
        elif keep_extremes:  # each metric picks half the points, so their union stays within the budget
            chosen = np.union1d(*(min_max_indices(raw[:, column], max_points // 2) for column in range(len(METRICS))))
        else:
            chosen = np.unique(np.linspace(0, self.count - 1, max_points).round().astype(np.int64))
        return CurvesView(
            self.count, self._steps[chosen], raw[chosen, 0], raw[chosen, 1], smoothed[chosen, 0], smoothed[chosen, 1]
        )
