"""The median and 95th percentile of repeated timings, named with their unit, the way every bench reports them."""

from __future__ import annotations

import numpy as np


def percentiles(values: list[float], unit: str = "ms", digits: int = 2) -> dict[str, float | int]:
    """{"n": 5, "p50_ms": ..., "p95_ms": ...}: p50 is the median; both are linearly interpolated (NumPy's default).

    With no values there is nothing to rank, so only {"n": 0} (a browser step that never showed up, say).
    """
    if not values:
        return {"n": 0}
    p50, p95 = np.percentile(values, [50, 95])
    return {"n": len(values), f"p50_{unit}": round(float(p50), digits), f"p95_{unit}": round(float(p95), digits)}
