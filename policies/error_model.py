"""The photometric error model ``bo`` predicts a visit's error with (physics.md)."""

from __future__ import annotations

import numpy as np

__all__ = ["mag_error", "mag_of_error"]

_GAMMA = 0.039  # the Rubin error model's gamma (physics.md)


def mag_error(mag: np.ndarray, m5: np.ndarray) -> np.ndarray:
    """Rubin photometric error (physics.md): sigma^2 = (0.04 - g) x + g x^2."""
    g = _GAMMA
    x = 10.0 ** (0.4 * (mag - m5))
    return np.sqrt(np.maximum((0.04 - g) * x + g * x * x, 1e-8))


def mag_of_error(error_mag: float, m5: float) -> float:
    """The magnitude whose :func:`mag_error` at depth ``m5`` is ``error_mag`` (its inverse)."""
    g = _GAMMA
    b = 0.04 - g
    x = (-b + np.sqrt(b * b + 4.0 * g * error_mag**2)) / (2.0 * g)
    return float(m5 + 2.5 * np.log10(x))
