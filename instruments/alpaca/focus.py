"""``AlpacaFocusCamera``: an Alpaca focuser and camera used as a focus sensor.

The Alpaca counterpart of :class:`~steer.instruments.indi.focus.IndiFocusCamera`
(same ``measure``/``move``/``limits_steps`` interface, so
:class:`~steer.envs.indi_autofocus.IndiAutofocusEnv` and the
``bo-continuous``/``vcurve`` policies drive it unchanged): each measurement
moves the focuser, takes one frame and fits the FWHM of a ring of stars.

With ``alpaca-simulators`` the stars are served through the camera's local
star table around where the mount points, and the simulator draws them
``1" * (1 + |position - 10000| / 100)`` wide, at most 5": a V-curve with best
focus at 10000 steps, flat beyond +-400 steps.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from steer.errors import InstrumentError
from steer.instruments import photometry
from steer.instruments.alpaca.devices import AlpacaCamera, AlpacaFocuser, AlpacaLink, AlpacaMount
from steer.instruments.alpaca.observatory import frame_wcs
from steer.instruments.alpaca.server import resolve_alpaca_server, write_sky
from steer.instruments.hardware import checked_focus_target
from steer.instruments.indi.focus import FocusMeasurement

__all__ = ["AlpacaFocusCamera", "ALPACA_SIM_BEST_FOCUS_STEPS"]

ALPACA_SIM_BEST_FOCUS_STEPS = 10000
"""Where alpaca-simulators' camera draws the sharpest stars."""


class AlpacaFocusCamera:
    """Move an Alpaca focuser, expose the camera, measure star FWHM.

    Args:
        host: Server address (loopback).
        port: Server port (``None``: from ``run_dir`` or a server started here).
        run_dir: Run folder of a server started by ``steer alpaca-sim start``.
        start_server: Start a private server (stopped by :meth:`close`).
        timeout_s: Seconds any HTTP call may take.
        exptime_s: Wall seconds per frame.
        camera_size_px: Sensor size of a simulator started here.
        star_mags: Camera magnitudes of the ring of focus stars (simulators).
        field_radius_px: Radius of the ring, pixels.
        fit_shape_px: Box (odd) of the per-star FWHM fit.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 run_dir: str | None = None, start_server: bool = False,
                 timeout_s: float = 10.0, exptime_s: float = 0.5, camera_size_px: int = 256,
                 star_mags: tuple[float, ...] = (12.5,) * 6, field_radius_px: float = 60.0,
                 fit_shape_px: int = 31) -> None:
        self.server, port, self.sky_db_path = resolve_alpaca_server(
            "AlpacaFocusCamera", run_dir, port, start_server, None,
            camera_size_px=int(camera_size_px), slew_rate_deg_s=360.0)
        self.link = AlpacaLink(f"{host}:{int(port)}", float(timeout_s))
        self.mount = AlpacaMount(self.link)
        self.camera = AlpacaCamera(self.link)
        self.focuser = AlpacaFocuser(self.link)
        self.exptime_s = float(exptime_s)
        self.star_mags = tuple(float(m) for m in star_mags)
        self.field_radius_px = float(field_radius_px)
        self.fit_shape_px = int(fit_shape_px)
        self.scale_arcsec_px = 0.258
        self.limits_steps: tuple[float, float] | None = None
        self.field: tuple[float, float] | None = None
        self.star_ra_deg = self.star_dec_deg = np.zeros(0)
        self._ready = False

    def ensure_ready(self) -> None:
        """Connect the devices, read the focuser's travel, serve the ring of stars."""
        if self._ready:
            return
        for dev in (self.mount, self.camera, self.focuser):
            dev.connect()
        with self.link.call("focuser maxstep"):
            self.limits_steps = (0.0, float(self.focuser.dev.MaxStep))
        self.scale_arcsec_px = (self.camera.pixel_size_um * 1e-6 / self.mount.focal_length_m()
                                * 206264.806)
        ra0, dec0 = self.mount.position()
        self.field = (ra0, dec0)
        r_deg = self.field_radius_px * self.scale_arcsec_px / 3600.0
        ang = np.linspace(0.0, 2.0 * np.pi, len(self.star_mags), endpoint=False)
        self.star_ra_deg = ra0 + r_deg * np.cos(ang) / math.cos(math.radians(dec0))
        self.star_dec_deg = dec0 + r_deg * np.sin(ang)
        if self.sky_db_path is not None:
            write_sky(self.sky_db_path, zip(self.star_ra_deg, self.star_dec_deg, self.star_mags,
                                            strict=True))
        self._ready = True

    @property
    def position_steps(self) -> float:
        """The focuser's current position."""
        self.ensure_ready()
        return float(self.focuser.position())

    def move(self, position_steps: float) -> float:
        """Move the focuser to ``position_steps`` (rounded); return wall seconds.

        Raises:
            InstrumentError: outside the focuser's travel, or the move failed.
        """
        self.ensure_ready()
        target = checked_focus_target(position_steps, self.limits_steps)
        if self.focuser.position() == int(target):
            return 0.0
        return self.focuser.move(int(target))

    def measure(self, position_steps: float) -> FocusMeasurement:
        """Move, expose, measure: the median star FWHM at ``position_steps``.

        Raises:
            InstrumentError: any Alpaca failure or timeout (reconnects on the next call).
        """
        try:
            self.ensure_ready()
            wall_move = self.move(position_steps)
            frame = self.camera.expose(self.exptime_s)
            t0 = time.perf_counter()
            h, w = frame.data.shape
            wcs = frame_wcs(*self.field, self.scale_arcsec_px, w, h)
            x, y = wcs.world_to_pixel_values(self.star_ra_deg, self.star_dec_deg)
            fwhm_as, fwhm_px, n, per_star = photometry.star_fwhm(
                frame.data, np.asarray(x), np.asarray(y), self.scale_arcsec_px,
                self.fit_shape_px)
            wall_measure = time.perf_counter() - t0
            pos = float(self.focuser.position())
        except InstrumentError:
            self._ready = False
            raise
        return FocusMeasurement(position_steps=pos, fwhm_arcsec=fwhm_as, fwhm_px=fwhm_px,
                                n_stars=n, wall_s={"move": wall_move,
                                                   "expose": frame.timings_s["expose"]
                                                   + frame.timings_s["transfer"],
                                                   "measure": wall_measure},
                                detail={"fwhm_per_star_arcsec": per_star})

    def close(self) -> None:
        """Stop the server if this object started it."""
        if self.server is not None:
            self.server.remove()
            self.server = None

    def __enter__(self) -> AlpacaFocusCamera:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
