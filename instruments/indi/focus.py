"""``IndiFocusCamera``: move a real INDI focuser, expose the CCD, measure star FWHM.

The INDI CCD simulator snoops the focuser simulator: its stars' width follows
the focuser position (INDI 1.9.9: best focus at 36700 steps, ~3.5" there, ~16"
a few thousand steps away). One :meth:`IndiFocusCamera.measure`:

1. moves ``ABS_FOCUS_POSITION`` and waits for the driver's Ok (read back);
2. exposes a short frame of a constant field of bright stars served through
   the ``gsc`` state file (the same format :class:`IndiObservatory` writes);
3. projects the served stars into the frame (FITS header geometry), refines
   their centroids and fits their FWHM (photutils ``fit_fwhm``);
4. returns the median FWHM in arcsec with the wall time of each phase.

Every INDI call runs under a timeout; every failure is an
:class:`~steer.errors.InstrumentError`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steer.errors import ConfigError, InstrumentError
from steer.instruments import photometry
from steer.instruments.hardware import checked_focus_target
from steer.instruments.indi.client import IndiClient
from steer.instruments.indi.devices import (
    CCD,
    FOCUSER,
    TELESCOPE,
    connect_with_retries,
    set_up_simulators,
)
from steer.instruments.indi.hardware import IndiMount
from steer.instruments.indi.server import resolve_server
from steer.instruments.sim._offline import configure_astropy_offline

__all__ = ["FocusMeasurement", "IndiFocusCamera", "SIM_BEST_FOCUS_STEPS"]

log = logging.getLogger(__name__)

SIM_BEST_FOCUS_STEPS = 36700
"""Where ``indi_simulator_focus`` (INDI 1.9.9) puts best focus."""


@dataclass
class FocusMeasurement:
    """One focus exposure.

    Attributes:
        position_steps: Focuser position read back after the move.
        fwhm_arcsec: Median FWHM of the measured stars (NaN if none could be fitted).
        fwhm_px: The same in pixels.
        n_stars: Stars whose FWHM fit succeeded.
        wall_s: Wall seconds by phase: ``move``, ``expose`` (incl. transfer), ``measure``.
        detail: Per-star FWHMs (arcsec).
    """

    position_steps: float
    fwhm_arcsec: float
    fwhm_px: float
    n_stars: int
    wall_s: dict[str, float]
    detail: dict[str, Any] = field(default_factory=dict)


class IndiFocusCamera:
    """An INDI focuser and CCD used as a focus sensor.

    Args:
        host: Server address.
        port: Server port (``None`` with ``start_server=True`` picks a free one).
        run_dir: Run folder of a server (``server.json`` gives port and gsc state).
        start_server: Start a private server (in ``run_dir`` or a temporary folder),
            stopped by :meth:`close`.
        gsc_state_path: The ``gsc`` state file (default: the server's).
        timeout_s: Seconds any INDI call may take (plus the exposure time).
        move_timeout_s: Seconds a focuser move may take.
        exptime_s: Simulated exposure per frame.
        exptime_scale: ``SIM_TIME_FACTOR`` (wall seconds per simulated second).
        ccd_size_px: Square frame size.
        ccd_noise_adu: ``SIM_NOISE``.
        star_mags: Raw CCD-simulator magnitudes of the field stars (served as is).
        field_ra_deg, field_dec_deg: J2000 centre of the field (the mount is SYNCed there).
        field_radius_arcmin: The stars sit on a ring of this radius around the centre
            (plus one at the centre).
        fit_shape_px: Box (odd) for the per-star Gaussian FWHM fit: must hold a
            defocused star.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 run_dir: str | None = None, start_server: bool = False,
                 gsc_state_path: str | None = None, timeout_s: float = 10.0,
                 move_timeout_s: float = 30.0, exptime_s: float = 1.0,
                 exptime_scale: float = 0.01, ccd_size_px: int = 512,
                 ccd_noise_adu: float = 10.0,
                 star_mags: tuple[float, ...] = (7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0),
                 field_ra_deg: float = 180.0, field_dec_deg: float = 30.0,
                 field_radius_arcmin: float = 3.0, fit_shape_px: int = 31) -> None:
        if not 0.01 <= float(exptime_scale) <= 100.0:
            raise ConfigError(f"exptime_scale = {exptime_scale} is outside [0.01, 100]",
                              "the CCD simulator's SIM_TIME_FACTOR range")
        if int(fit_shape_px) < 5 or int(fit_shape_px) % 2 == 0:
            raise ConfigError(f"fit_shape_px = {fit_shape_px} must be odd and >= 5", "e.g. 31")
        self.timeout_s = float(timeout_s)
        self.move_timeout_s = float(move_timeout_s)
        self.exptime_s = float(exptime_s)
        self.exptime_scale = float(exptime_scale)
        self.ccd_size_px = int(ccd_size_px)
        self.ccd_noise_adu = float(ccd_noise_adu)
        self.star_mags = tuple(float(m) for m in star_mags)
        self.fit_shape_px = int(fit_shape_px)
        n = len(self.star_mags)
        if n < 1:
            raise ConfigError("star_mags is empty", "serve at least one star")
        ang = np.arange(n - 1) * 2.0 * np.pi / max(n - 1, 1)
        r = float(field_radius_arcmin) / 60.0
        cosd = math.cos(math.radians(field_dec_deg))
        self.star_ra_deg = np.concatenate([[field_ra_deg], field_ra_deg + r * np.cos(ang) / cosd])
        self.star_dec_deg = np.concatenate([[field_dec_deg], field_dec_deg + r * np.sin(ang)])
        self.field = (float(field_ra_deg), float(field_dec_deg))
        configure_astropy_offline()  # JNow conversion without a network
        self.server, port, self.gsc_state_path = resolve_server(
            "IndiFocusCamera", run_dir, port, start_server, gsc_state_path, prefix="steer-indi-focus-")
        self.client = IndiClient(host, port, timeout_s=self.timeout_s)
        self._ready = False
        self.limits_steps: tuple[float, float] | None = None
        """The focuser's own ``ABS_FOCUS_POSITION`` range (read at setup)."""

    # ------------------------------------------------------------ setup
    def ensure_ready(self, retries: int = 2) -> None:
        """Connect and set the devices up (with ``retries`` reconnections)."""
        if self._ready and self.client.alive:
            return
        self._ready = False
        connect_with_retries(self.client, self._setup_devices, retries, "INDI focuser/CCD",
                             "is indiserver running with the focuser simulator?")
        self._ready = True

    def _setup_devices(self) -> None:
        set_up_simulators(self.client, self.timeout_s, self.move_timeout_s, self.ccd_size_px,
                          self.ccd_noise_adu, self.exptime_scale)
        lim = self._focuser_limits()
        self.limits_steps = lim
        self._write_state()
        self._point()

    def _focuser_limits(self) -> tuple[float, float]:
        """The focuser's travel: 0 to ``FOCUS_MAX`` (unbounded if the driver has none)."""
        c = self.client
        mx = (c.numbers(FOCUSER, "FOCUS_MAX").get("FOCUS_MAX_VALUE")
              if c.vector(FOCUSER, "FOCUS_MAX") is not None else None)
        return 0.0, float(mx) if mx is not None and mx > 0 else float("inf")

    def _write_state(self) -> None:
        stars = [[f"FOC{k}", round(float(r), 7), round(float(d), 7), m] for k, (r, d, m) in
                 enumerate(zip(self.star_ra_deg, self.star_dec_deg, self.star_mags, strict=True))]
        tmp = self.gsc_state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stars": stars, "ccd_a": 0.0, "ccd_b": 1.0}), encoding="utf-8")
        os.replace(tmp, self.gsc_state_path)

    def _point(self) -> None:
        """Track and SYNC the mount onto the field (JNow), checking the read-back."""
        IndiMount(lambda: self.client, TELESCOPE, sync=True, timeout_s=self.timeout_s,
                  tolerance_arcsec=5.0).slew(*self.field)

    # ------------------------------------------------------------ focuser and camera
    @property
    def position_steps(self) -> float:
        """The focuser's current position (read from the server)."""
        self.ensure_ready()
        pos = self.client.numbers(FOCUSER, "ABS_FOCUS_POSITION").get("FOCUS_ABSOLUTE_POSITION")
        if pos is None:
            raise InstrumentError("the focuser reports no FOCUS_ABSOLUTE_POSITION")
        return float(pos)

    def move(self, position_steps: float) -> float:
        """Move the focuser to ``position_steps`` (rounded); return wall seconds.

        Raises:
            InstrumentError: outside the focuser's range, Alert, or no Ok in time.
        """
        self.ensure_ready()
        target = checked_focus_target(position_steps, self.limits_steps)
        t0 = time.perf_counter()
        c = self.client
        pos = c.numbers(FOCUSER, "ABS_FOCUS_POSITION").get("FOCUS_ABSOLUTE_POSITION")
        if pos is None or abs(pos - target) > 0.5:
            c.set_and_wait(FOCUSER, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target},
                           done=lambda vs: abs(float(vs.values.get(
                               "FOCUS_ABSOLUTE_POSITION", "nan")) - target) <= 0.5,
                           timeout_s=self.move_timeout_s)
        return time.perf_counter() - t0

    def expose(self) -> tuple[bytes, float]:
        """One frame of ``exptime_s`` simulated seconds: (FITS bytes, wall seconds)."""
        self.ensure_ready()
        c = self.client
        t0 = time.perf_counter()
        blob0 = c.vector(CCD, "CCD1")
        seq0 = blob0.seq if blob0 is not None else 0
        c.send(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": self.exptime_s})

        def done() -> bool:
            b, e = c.vector(CCD, "CCD1"), c.vector(CCD, "CCD_EXPOSURE")
            return (b is not None and b.seq > seq0) or (e is not None and e.state == "Alert")

        c.wait_for(done, self.exptime_s * self.exptime_scale + self.timeout_s, "the CCD image")
        blob = c.vector(CCD, "CCD1")
        if blob is None or blob.seq <= seq0 or not isinstance(blob.values.get("CCD1"), bytes):
            exp = c.vector(CCD, "CCD_EXPOSURE")
            raise InstrumentError(f"exposure failed: {exp.message if exp else 'no CCD'}",
                                  "check the CCD driver")
        return blob.values["CCD1"], time.perf_counter() - t0

    def fwhm_of_frame(self, data: np.ndarray, header: Any) -> tuple[float, float, int, list]:
        """Median FWHM of the served stars in a frame: (arcsec, px, n fitted, per-star arcsec)."""
        geom = photometry.geometry_from_header(header, data.shape)
        geom = photometry._orientation(data, geom, self.star_ra_deg,  # noqa: SLF001
                                       self.star_dec_deg)
        x, y = photometry.project(geom, self.star_ra_deg, self.star_dec_deg)
        return photometry.star_fwhm(data, x, y, geom.scale_arcsec_per_px, self.fit_shape_px)

    def measure(self, position_steps: float) -> FocusMeasurement:
        """Move, expose, measure: the median star FWHM at ``position_steps``.

        Raises:
            InstrumentError: any INDI failure or timeout (the link is re-checked next call).
        """
        try:
            self.ensure_ready()
            wall_move = self.move(position_steps)
            blob, wall_expose = self.expose()
            t0 = time.perf_counter()
            data, header = photometry.read_fits(blob)
            fwhm_as, fwhm_px, n, per_star = self.fwhm_of_frame(data, header)
            wall_measure = time.perf_counter() - t0
            pos = self.position_steps
        except InstrumentError:
            self._ready = self._ready and self.client.alive
            raise
        return FocusMeasurement(position_steps=pos, fwhm_arcsec=fwhm_as, fwhm_px=fwhm_px,
                                n_stars=n, wall_s={"move": wall_move, "expose": wall_expose,
                                                   "measure": wall_measure},
                                detail={"fwhm_per_star_arcsec": per_star})

    def close(self) -> None:
        """Disconnect; stop the server if this object started it."""
        try:
            self.client.close()
        finally:
            if self.server is not None:
                self.server.remove()  # stops it; removes a temporary folder made for it
                self.server = None

    def __enter__(self) -> IndiFocusCamera:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
