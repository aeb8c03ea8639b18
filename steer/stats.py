"""Summary statistics for comparing policies over seeded nights."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["mean_ci95", "paired_diff_ci95"]


def mean_ci95(values: list[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean and two-sided 95% Student-t interval ``(mean, low, high)``."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if len(x) < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return m, m - half, m + half


def paired_diff_ci95(a: list[float] | np.ndarray,
                     b: list[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired seeds, with its 95% interval."""
    return mean_ci95(np.asarray(a, float) - np.asarray(b, float))
