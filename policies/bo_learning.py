"""``bo``'s learning side: what a measurement teaches its models.

A frame adds its magnitude to the target's light-curve GP (and, with
``period_weight``, to its period posterior), its transparency to the
conditions GP; a saturated frame marks that exposure and longer ones as
useless for the target; a faint one (SNR < 3) caps how bright the target is
predicted for ``faint_memory_d`` days.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from steer.instruments.telescope import Action, Measurement
from steer.policies.conditions_gp import condition_point
from steer.policies.error_model import mag_of_error

__all__ = ["BOLearning"]

_FAINT_ERROR_MAG = 0.36  # a frame with a larger error (SNR < 3), or no magnitude, is faint


class BOLearning:
    """What :class:`~steer.policies.bo.BOPolicy` learns from each measurement (a mixin:
    the state it updates is made by the policy's ``_reset``)."""

    # the state the policy's ``_reset`` makes (declared for the type checker)
    bank: Any
    period: Any
    cond: list[tuple[float, float, float, float]]
    cat_mag: np.ndarray
    saturated_from_s: np.ndarray
    faint_mag: np.ndarray
    faint_mjd: np.ndarray
    t_ref: float
    faint_memory_d: float
    posterior_mode: str
    decisions: int
    fit_s: float

    def _note_faint(self, i: int, m: Measurement) -> None:
        """Remember what a faint frame of target ``i`` implies; a good frame forgets it."""
        err = float(m.error_mag) if m.error_mag is not None else np.nan
        if np.isfinite(m.value_mag) and np.isfinite(err) and 0 < err <= _FAINT_ERROR_MAG:
            self.faint_mjd[i] = -np.inf
            return
        m5 = float(m.conditions.get("m5_mag", np.nan))
        if not np.isfinite(m5):  # no depth known: nothing to infer
            return
        self.faint_mag[i] = mag_of_error(err, m5) if np.isfinite(err) and err > 0 else m5
        self.faint_mjd[i] = float(m.mjd_mid)

    def _ingest(self, action: Action, measurement: Measurement | None, reward: float) -> None:
        self.decisions += 1
        if measurement is None:
            return
        m = measurement
        c = m.conditions
        i = action.target_index
        if "transparency" in c and "alt_deg" in c and "az_deg" in c:
            self.cond.append(condition_point(c["alt_deg"], c["az_deg"],
                                             (m.mjd_mid - self.t_ref) * 24.0, c["transparency"]))
        if m.saturated:
            self.saturated_from_s[i] = min(self.saturated_from_s[i], float(m.exptime_s))
        elif self.faint_memory_d > 0:
            self._note_faint(i, m)
        if np.isfinite(m.value_mag) and np.isfinite(m.error_mag) and m.error_mag > 0:
            self.bank.add(i, m.mjd_mid - self.t_ref, m.value_mag - self.cat_mag[i],
                          m.error_mag**2)
            if self.period is not None:
                self.period.add(i, m.mjd_mid - self.t_ref, m.value_mag - self.cat_mag[i],
                                m.error_mag**2)
            if self.posterior_mode == "cached":
                t0 = time.perf_counter()
                self.bank.refactor(i)
                self.fit_s = time.perf_counter() - t0
            else:
                self._fit(refit=False)  # type: ignore[attr-defined]
