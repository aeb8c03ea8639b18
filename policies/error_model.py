"""The photometric error model ``bo`` predicts a visit's error with: the simulator's (physics.md).

:func:`steer.instruments.sim.sky.mag_error` (Ivezic et al. 2019, eq. 5) with a floor of
1e-4 mag, and its inverse.
"""

from __future__ import annotations

import numpy as np

from steer.instruments.sim.sky import GAMMA_ERR
from steer.instruments.sim.sky import mag_error as _rubin_error

__all__ = ["mag_error", "mag_of_error"]


def mag_error(mag: np.ndarray, m5: np.ndarray) -> np.ndarray:
    """The predicted one-sigma error (mag) at depth ``m5``, never below 1e-4 mag."""
    return np.maximum(_rubin_error(mag, m5), 1e-4)


def mag_of_error(error_mag: float, m5: float) -> float:
    """The magnitude whose :func:`mag_error` at depth ``m5`` is ``error_mag`` (its inverse)."""
    g = GAMMA_ERR
    b = 0.04 - g
    x = (-b + np.sqrt(b * b + 4.0 * g * error_mag**2)) / (2.0 * g)
    return float(m5 + 2.5 * np.log10(x))
