"""Learning-rate schedules as plain functions of the step, so the peak and length can change live."""

from __future__ import annotations

import math

# One-cycle starts and ends this far below the peak.
ONE_CYCLE_START_DIVISOR = 10.0
ONE_CYCLE_END_DIVISOR = 1_000.0
COSINE_FLOOR = 0.01


def learning_rate_at(kind: str, peak: float, step: int, total_steps: int, warmup_steps: int) -> float:
    """The learning rate for a step of a run of `total_steps`, for a schedule whose peak is `peak`.

    `plateau` and `constant` are flat here; the plateau reductions are applied by the caller.
    """
    if kind in ("constant", "plateau"):
        return peak
    total_steps = max(total_steps, 1)
    progress = min(step / total_steps, 1.0)
    if kind == "cosine":
        if step < warmup_steps:
            return peak * (step + 1) / warmup_steps
        remaining = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return peak * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(remaining, 1.0))))
    if kind == "one_cycle":
        rise = max(warmup_steps, 1) / total_steps
        start = peak / ONE_CYCLE_START_DIVISOR
        if progress < rise:
            return start + (peak - start) * progress / rise
        fall = (progress - rise) / max(1 - rise, 1e-9)
        end = peak / ONE_CYCLE_END_DIVISOR
        return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * fall))
    raise ValueError(f"Unknown schedule {kind!r}.")
