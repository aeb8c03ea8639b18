"""What every real-protocol observatory has in common: the simulated night it runs on.

:class:`HardwareNight` wraps a :class:`~steer.instruments.sim.SimulatedObservatory`
(which keeps the clock, the weather and the hidden light curves) for a driver
whose actions run on real devices (INDI, Alpaca). It gives the driver:

* delegation of everything it does not define to the simulation (catalog,
  feasibility, clock...);
* the sky to serve to the device simulators: every catalog target at its true
  magnitude at mid-exposure, dimmed by the clouds in its direction, plus
  constant reference stars around the chosen target;
* the mount's own limits (declination range, hour angle), checked before
  anything is sent;
* :meth:`replay` for a resumed night (the exposure is not taken again).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from steer.errors import UnsafeActionError
from steer.instruments.telescope import Action, Measurement

__all__ = ["HardwareNight"]


class HardwareNight:
    """Base of the INDI and Alpaca observatories (see the module docstring).

    Args:
        sim_observatory: The night to run.
        n_field_stars: Constant reference stars served around each target.
        field_mag_range: Their magnitude range.
        field_radius_arcmin: Largest distance of a reference star from the target.
        dec_limits_deg: The mount's declination range.
        hour_angle_limit_h: The mount's hour-angle limit (absolute, hours).
    """

    def __init__(self, sim_observatory: Any, n_field_stars: int = 12,
                 field_mag_range: tuple[float, float] = (14.5, 17.5),
                 field_radius_arcmin: float = 4.0,
                 dec_limits_deg: tuple[float, float] = (-85.0, 85.0),
                 hour_angle_limit_h: float = 6.0) -> None:
        self._sim = sim_observatory
        self.n_field_stars = int(n_field_stars)
        self.field_mag_range = (float(field_mag_range[0]), float(field_mag_range[1]))
        self.field_radius_arcmin = float(field_radius_arcmin)
        self.dec_limits_deg = (float(dec_limits_deg[0]), float(dec_limits_deg[1]))
        self.hour_angle_limit_h = float(hour_angle_limit_h)
        self.photometry_log: list[dict[str, Any]] = []
        """Per exposure: served truth vs measured (for benchmarks; never given to policies)."""

    # ------------------------------------------------------------ delegation
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_sim":
            raise AttributeError(name)
        return getattr(self._sim, name)

    @property
    def mjd(self) -> float:
        """The simulated clock (UTC MJD)."""
        return float(self._sim.mjd)

    # ------------------------------------------------------------ the served sky
    def field_stars(self, target_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Constant reference stars around a target: (`R` ra_deg, `R` dec_deg, `R` mag)."""
        cat = self._sim.catalog
        rng = np.random.default_rng([int(self._sim.seed), int(target_index), 7919])
        ra0, dec0 = float(cat.ra_deg[target_index]), float(cat.dec_deg[target_index])
        r = rng.uniform(min(1.0, 0.5 * self.field_radius_arcmin), self.field_radius_arcmin,
                        self.n_field_stars) / 60.0
        ang = (rng.permutation(self.n_field_stars) + rng.uniform(0.1, 0.9, self.n_field_stars)) \
            * 2.0 * np.pi / max(self.n_field_stars, 1)
        ra = ra0 + r * np.cos(ang) / math.cos(math.radians(dec0))
        dec = dec0 + r * np.sin(ang)
        mag = rng.uniform(*self.field_mag_range, self.n_field_stars)
        return ra, dec, mag

    def served_sky(self, target_index: int, mjd: float) -> tuple[list[tuple[str, float, float,
                                                                             float]],
                                                                  dict[str, Any]]:
        """The sky at ``mjd`` as the device simulators should draw it.

        Returns:
            ``(stars, served)``: ``(id, ra_deg, dec_deg, mag)`` rows (every target at
            its true, cloud-dimmed magnitude, then the reference stars around
            ``target_index``, dimmed alike), and what was served for the target
            (``true_mag``, ``served_mag``, ``transparency``, ``field``: the
            reference stars' undimmed catalog positions and magnitudes; the
            night's ``seeing_fwhm_arcsec`` and ``sky_mag_arcsec2`` there, for
            simulators that can be set to them).
        """
        sim = self._sim
        n = len(sim.catalog)
        alt, az = sim.targets_altaz(mjd)
        eta = np.clip(np.asarray(sim.weather.transparency(alt, az, mjd), float), 1e-3, 1.0)
        true_mag = np.asarray(sim.truth.mag(np.arange(n), np.full(n, mjd)), float)
        served = true_mag - 2.5 * np.log10(eta)
        stars = [(str(sim.catalog.target_id[j]), float(sim.catalog.ra_deg[j]),
                  float(sim.catalog.dec_deg[j]), float(served[j])) for j in range(n)]
        fra, fdec, fmag = self.field_stars(target_index)
        dim = -2.5 * math.log10(float(eta[target_index]))
        stars += [(f"F{target_index}_{k}", float(r), float(d), float(m) + dim)
                  for k, (r, d, m) in enumerate(zip(fra, fdec, fmag, strict=True))]
        night = sim.conditions_at(target_index, mjd)
        return stars, {"true_mag": float(true_mag[target_index]),
                       "served_mag": float(served[target_index]),
                       "transparency": float(eta[target_index]), "field": (fra, fdec, fmag),
                       "seeing_fwhm_arcsec": night["seeing_fwhm_arcsec"],
                       "sky_mag_arcsec2": night["sky_mag_arcsec2"]}

    # ------------------------------------------------------------ limits
    def check_mount_limits(self, action: Action) -> None:
        """The mount's declination range and hour-angle limit; raises before anything is sent.

        Raises:
            UnsafeActionError: outside a limit.
        """
        i = int(action.target_index)
        cat = self._sim.catalog
        dec = float(cat.dec_deg[i])
        lo, hi = self.dec_limits_deg
        label = f"target {str(cat.target_id[i])!r} (index {i})"
        if not lo <= dec <= hi:
            raise UnsafeActionError(f"{label} at dec {dec:.2f} deg is outside the mount's "
                                    f"declination range [{lo}, {hi}] deg")
        lst = float(self._sim.almanac.lst_deg(self._sim.mjd))
        ha_h = ((lst - float(cat.ra_deg[i]) + 180.0) % 360.0 - 180.0) / 15.0
        if abs(ha_h) > self.hour_angle_limit_h:
            raise UnsafeActionError(f"{label} is at hour angle {ha_h:+.2f} h, beyond the mount's "
                                    f"limit of +-{self.hour_angle_limit_h} h")

    def check_filter(self, wheel: Any, target_index: int) -> None:
        """The filter wheel (if any, once its names are known) must hold the target's band;
        raises before anything is sent.

        Raises:
            UnsafeActionError: the band is not in the wheel.
        """
        names = wheel.names() if wheel is not None else []
        band = str(self._sim.catalog.band[int(target_index)])
        if names and band not in names:
            raise UnsafeActionError(f"the filter wheel holds {names}, not the target's band "
                                    f"{band!r}", "observe another target, or load the filter")

    def mount_limits(self) -> dict[str, Any]:
        """The mount limits, for :meth:`describe`."""
        return {"dec_limits_deg": list(self.dec_limits_deg),
                "hour_angle_limit_h": self.hour_angle_limit_h}

    def measured(self, action: Action, m: Measurement, served: dict[str, Any], phot: Any,
                 wall_s: dict[str, float], extra: dict[str, float] | None = None
                 ) -> Measurement:
        """The measurement a policy sees: the frame's, with the simulated night's timing.

        Args:
            action: The action observed.
            m: What the simulated night recorded for it (clock, overheads, conditions).
            served: What :meth:`served_sky` served for the target.
            phot: The frame's photometry (:class:`steer.instruments.photometry.Photometry`).
            wall_s: Wall seconds by stage: ``point``, ``expose``, ``transfer``, ``photometry``.
            extra: Further measured conditions (weather station readings...).

        Returns:
            The measurement, with measured seeing, transparency, zero point and
            wall timings among its conditions; the served truth goes only to
            :attr:`photometry_log`.
        """
        i, t_exp = int(action.target_index), float(action.exptime_s)
        cond = dict(m.conditions)
        cond.update(seeing_fwhm_arcsec=phot.fwhm_arcsec, transparency=phot.transparency,
                    zeropoint_mag=phot.zeropoint_mag, n_ref_stars=float(phot.n_ref),
                    target_x_px=phot.x_px, target_y_px=phot.y_px,
                    background_adu=phot.background_adu, wall_point_s=wall_s["point"],
                    wall_expose_s=wall_s["expose"], wall_photometry_s=wall_s["photometry"],
                    **(extra or {}))
        overheads = dict(m.overheads_s)
        overheads["transfer"] = wall_s["transfer"]
        self.photometry_log.append({
            "target_index": i, "mjd_mid": m.mjd_mid, "exptime_s": t_exp,
            "true_mag": served["true_mag"], "served_mag": served["served_mag"],
            "sim_transparency": served["transparency"], "value_mag": phot.value_mag,
            "sim_fwhm_arcsec": served["seeing_fwhm_arcsec"],
            "served_fwhm_arcsec": served.get("served_fwhm_arcsec", float("nan")),
            "error_mag": phot.error_mag, "saturated": phot.saturated,
            "transparency": phot.transparency, "fwhm_arcsec": phot.fwhm_arcsec,
            "offset_px": math.hypot(phot.x_px - phot.expected_x_px,
                                    phot.y_px - phot.expected_y_px),
            **{f"wall_{k}_s": v for k, v in wall_s.items()}})
        return Measurement(value_mag=phot.value_mag, error_mag=phot.error_mag,
                           mjd_mid=m.mjd_mid, exptime_s=t_exp, conditions=cond,
                           overheads_s=overheads, saturated=phot.saturated)

    def replay(self, action: Action, recorded: Measurement) -> Measurement:
        """Advance the simulated night as ``execute`` did for ``recorded``; send nothing.

        Used when an interrupted night is resumed from its journal: the
        exposure is not taken again.
        """
        self._sim.execute(action)
        return recorded
