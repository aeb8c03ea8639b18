"""``IndiObservatory``: the simulated observatory's night, executed on a real INDI server.

The :class:`~steer.instruments.sim.SimulatedObservatory` keeps the clock, the
weather and the hidden light curves; the INDI mount and CCD do the work. One
:meth:`IndiObservatory.execute`:

1. checks the action against the simulation's limits and the mount's (nothing
   is sent when refused);
2. writes the sky the ``gsc`` script serves: every catalog target at its true
   magnitude at mid-exposure, dimmed by the clouds in its direction, plus
   constant field stars around the chosen target;
3. SYNCs (or slews) the mount to the target's JNow position and checks the
   read-back position;
4. exposes the CCD (the simulated exposure time, compressed in wall time by
   the simulator's time factor) and receives the FITS BLOB;
5. measures the target against the field stars (:mod:`.photometry`);
6. advances the simulated clock by the simulated overheads (only now, so a
   failed attempt leaves the night untouched and a retry cannot duplicate it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any

import numpy as np

from steer.errors import ConfigError, InstrumentError
from steer.instruments import photometry
from steer.instruments.hardware import jnow_from_j2000
from steer.instruments.hardware_night import HardwareNight
from steer.instruments.indi.client import IndiClient
from steer.instruments.indi.devices import connect_with_retries, set_up_simulators
from steer.instruments.indi.hardware import (
    IndiCamera,
    IndiDeviceNames,
    IndiFilterWheel,
    IndiFocuser,
    IndiMount,
)
from steer.instruments.indi.server import resolve_server
from steer.instruments.telescope import Action, Measurement

__all__ = ["IndiObservatory", "jnow_from_j2000"]  # jnow_from_j2000: re-exported

log = logging.getLogger(__name__)

_CAL_MAGS = (6.5, 7.5, 8.5, 9.5, 10.5)  # raw CCD-simulator magnitudes of the calibration stars
_CAL_EXPTIME_S = 2.0


class IndiObservatory(HardwareNight):
    """A SimulatedObservatory whose actions run on an INDI mount and CCD.

    Every attribute not defined here is the wrapped simulation's (clock,
    catalog, weather, feasibility...).

    Args:
        sim_observatory: The night to run (keeps clock, sky and truth).
        host: INDI server address (loopback).
        port: Server port; ``None`` reads ``run_dir/server.json``.
        run_dir: Run folder of a server started by ``steer indi-sim start``
            (port and ``gsc`` state file are read from it).
        start_server: Start a private server in ``run_dir`` (or a temporary
            folder) and stop it on :meth:`close`.
        gsc_state_path: JSON sky state the server's ``gsc`` reads (default:
            from ``run_dir``).
        timeout_s: Seconds any INDI call may take (plus the exposure).
        sync_instead_of_slew: SYNC the mount (instant) instead of slewing.
        slew_timeout_s: Seconds a real slew may take.
        exptime_scale: Wall seconds per simulated exposure second
            (``SIM_TIME_FACTOR``, >= 0.01).
        max_retries: Reconnection attempts when the link is down at the start
            of an action (exposures are never retried here: the loop does it
            and journals each attempt).
        zeropoint_mag: Magnitude giving 1 ADU per simulated second.
        n_field_stars: Constant reference stars served around each target.
        field_mag_range: Their magnitude range.
        ccd_size_px: Square frame size.
        ccd_noise_adu: ``SIM_NOISE`` (uniform read noise amplitude).
        focus_position: Focuser position (36700 is the simulator's best focus).
        dec_limits_deg: The mount's declination range.
        hour_angle_limit_h: The mount's hour-angle limit (absolute, hours).
        pointing_tolerance_arcsec: Read-back tolerance after SYNC/slew.
        server_restarts: How many times a server this driver started is
            restarted (back-off 1, 2, 4... s) when it dies or hangs; a server
            it did not start is only waited for (the loop's retries).
        devices: INDI device names by kind (``telescope``, ``ccd``, ``focuser``);
            the defaults are the INDI simulators'.
    """

    @staticmethod
    def check_options(options: dict[str, Any]) -> None:
        """Refuse, before the night starts, options that cannot say where the server's
        ``gsc`` reads the served sky (a ``port`` alone)."""
        if not options.get("start_server") and options.get("run_dir") is None \
                and options.get("gsc_state_path") is None:
            raise ConfigError("[env.instrument_options] of 'indi' name no run_dir, "
                              "gsc_state_path or start_server: the simulators' sky has no path",
                              "pass run_dir (the folder `steer indi-sim start --run-dir` used), "
                              "or start_server = true")

    def __init__(self, sim_observatory: Any, host: str = "127.0.0.1", port: int | None = None,
                 run_dir: str | None = None, start_server: bool = False,
                 gsc_state_path: str | None = None, timeout_s: float = 10.0,
                 sync_instead_of_slew: bool = True, slew_timeout_s: float = 90.0,
                 exptime_scale: float = 0.01, max_retries: int = 2, zeropoint_mag: float = 24.0,
                 n_field_stars: int = 12, field_mag_range: tuple[float, float] = (14.5, 17.5),
                 ccd_size_px: int = 512, ccd_noise_adu: float = 10.0,
                 focus_position: int = 36700, dec_limits_deg: tuple[float, float] = (-85.0, 85.0),
                 hour_angle_limit_h: float = 6.0, pointing_tolerance_arcsec: float = 5.0,
                 server_restarts: int = 3, devices: dict[str, str] | None = None) -> None:
        if not 0.01 <= float(exptime_scale) <= 100.0:
            raise ConfigError(f"exptime_scale = {exptime_scale} is outside [0.01, 100]",
                              "the CCD simulator's SIM_TIME_FACTOR range")
        super().__init__(sim_observatory, n_field_stars=n_field_stars,
                         field_mag_range=field_mag_range,
                         field_radius_arcmin=0.8 * 0.5 * int(ccd_size_px) * 1.19 / 60.0,
                         dec_limits_deg=dec_limits_deg, hour_angle_limit_h=hour_angle_limit_h)
        self.timeout_s = float(timeout_s)
        self.sync_instead_of_slew = bool(sync_instead_of_slew)
        self.slew_timeout_s = float(slew_timeout_s)
        self.exptime_scale = float(exptime_scale)
        self.max_retries = int(max_retries)
        self.zeropoint_mag = float(zeropoint_mag)
        self.ccd_size_px = int(ccd_size_px)
        self.ccd_noise_adu = float(ccd_noise_adu)
        self.focus_position = int(focus_position)
        self.pointing_tolerance_arcsec = float(pointing_tolerance_arcsec)
        self.server, port, self.gsc_state_path = resolve_server(
            "IndiObservatory", run_dir, port, start_server, gsc_state_path, prefix="steer-indi-")
        self.names = IndiDeviceNames.from_options(devices)
        self.client = IndiClient(host, port, timeout_s=self.timeout_s)
        # the devices read self.client when called: they follow it across restarts
        self.mount = IndiMount(lambda: self.client, self.names.telescope,
                               sync=self.sync_instead_of_slew, timeout_s=self.timeout_s,
                               slew_timeout_s=self.slew_timeout_s,
                               tolerance_arcsec=self.pointing_tolerance_arcsec)
        self.camera = IndiCamera(lambda: self.client, self.names.ccd,
                                 exptime_scale=self.exptime_scale, timeout_s=self.timeout_s)
        self.focuser = IndiFocuser(lambda: self.client, self.names.focuser,
                                   timeout_s=self.slew_timeout_s)
        self.filterwheel: IndiFilterWheel | None = IndiFilterWheel(
            lambda: self.client, self.names.filter, timeout_s=self.timeout_s)
        self.server_restarts = int(server_restarts)
        self.server_restarts_left = self.server_restarts
        self.restart_log: list[dict[str, float]] = []  # restarts of the server steer started
        self._ccd_transform: tuple[float, float] | None = None  # served = a + b * mag
        self._ready = False
        self.last_image: tuple[np.ndarray, Any] | None = None

    def __repr__(self) -> str:
        return f"IndiObservatory({self._sim!r}, {self.client.host}:{self.client.port})"

    def describe(self) -> dict[str, Any]:
        """The simulation's description plus the INDI link and mount limits."""
        out = dict(self._sim.describe())
        out.update(kind="indi-observatory", indi={
            "host": self.client.host, "port": self.client.port, "timeout_s": self.timeout_s,
            "sync_instead_of_slew": self.sync_instead_of_slew,
            "exptime_scale": self.exptime_scale,
            "mount_limits": self.mount_limits()})
        return out

    # ------------------------------------------------------------ setup
    def _ensure_ready(self) -> None:
        """Connect (with up to ``max_retries`` reconnections) and set the devices up."""
        if self._ready and self.client.alive:
            return
        self._ready = False
        try:
            connect_with_retries(self.client, self._setup_devices, self.max_retries, "INDI",
                                 "is indiserver running? steer indi-sim status",
                                 devices=self.names.all())
        except InstrumentError:
            if self.server is None or self.server_restarts_left <= 0:
                raise  # a server steer did not start: the loop's retries wait for it
            # the server steer started is dead or hung: restart it (bounded, with back-off)
            self.server_restarts_left -= 1
            n = self.server_restarts - self.server_restarts_left
            log.warning("INDI server not answering: restarting it (%d of %d)", n,
                        self.server_restarts)
            t0, detected_unix = time.perf_counter(), time.time()
            self.server.restart(backoff_s=float(2 ** (n - 1)))
            self.client.close()
            self.client = IndiClient(self.client.host, self.server.port or self.client.port,
                                     timeout_s=self.timeout_s)
            connect_with_retries(self.client, self._setup_devices, self.max_retries, "INDI",
                                 "the restarted indiserver does not answer",
                                 devices=self.names.all())
            self.restart_log.append({"restart": n, "wall_s": time.perf_counter() - t0,
                                     "detected_unix": detected_unix})
        self._ready = True

    def _setup_devices(self) -> None:
        c = self.client
        cfg = self._sim.config
        set_up_simulators(c, self.timeout_s, self.slew_timeout_s, self.ccd_size_px,
                          self.ccd_noise_adu, self.exptime_scale,
                          site=(cfg.site_lat_deg, cfg.site_lon_deg, cfg.site_height_m),
                          names=self.names.all())
        if self.focuser.position() != self.focus_position:
            self.focuser.move(self.focus_position)
        if self.filterwheel is not None and not self.filterwheel.present():
            self.filterwheel = None
        elif self.filterwheel is not None and self.names.filter == "CCD Simulator":
            wheel = self.filterwheel.names()  # the simulator's wheel: load the survey's bands
            bands = list(dict.fromkeys(str(b) for b in self._sim.config.k_ext))
            if wheel[:len(bands)] != bands and len(wheel) >= len(bands):
                self.filterwheel.set_names(bands + wheel[len(bands):])
        if self._ccd_transform is None:
            self._calibrate()

    def _calibrate(self) -> None:
        """Measure the CCD simulator's flux scale on a ladder of stars (one short frame).

        The simulator compresses magnitudes (flux ~ 10**(-0.4*k*m), k != 1); the fit
        gives the linear map ``served = a + b * mag`` the ``gsc`` script applies so
        that image fluxes follow ``10**(-0.4 * (mag - zeropoint_mag))`` ADU/s.
        """
        ra0, dec0 = self.mount.position()
        dec0 = float(np.clip(dec0, -80.0, 80.0))
        ang = np.linspace(0.0, 2.0 * np.pi, len(_CAL_MAGS), endpoint=False)
        ras = ra0 + 2.0 / 60.0 * np.cos(ang) / math.cos(math.radians(dec0))
        decs = dec0 + 2.0 / 60.0 * np.sin(ang)
        self._write_state([(f"CAL{i}", r, d, m) for i, (r, d, m) in
                           enumerate(zip(ras, decs, _CAL_MAGS, strict=True))], (0.0, 1.0))
        self.mount.slew(ra0, dec0)
        frame = self.camera.expose(_CAL_EXPTIME_S)
        data, header = frame.data, frame.header
        geom = photometry.geometry_from_header(header, data.shape)
        x, y = photometry.project(geom, ras, decs)
        ph = photometry._aperture_fluxes(data, x, y, 8.0)  # noqa: SLF001
        flux = ph["flux"] / _CAL_EXPTIME_S
        ok = flux > 0
        if ok.sum() < 3:
            raise InstrumentError("CCD calibration failed: calibration stars not found",
                                  "is the gsc script on the server's PATH?")
        beta, alpha = np.polyfit(np.asarray(_CAL_MAGS)[ok], np.log10(flux[ok]), 1)
        b = -0.4 / beta
        a = (0.4 * self.zeropoint_mag - alpha) / beta
        self._ccd_transform = (float(a), float(b))
        log.info("CCD flux scale: k=%.3f, served = %.3f + %.3f mag", -beta / 0.4, a, b)

    # ------------------------------------------------------------ sky feed
    def _write_state(self, stars: list[tuple[str, float, float, float]],
                     transform: tuple[float, float] | None = None) -> None:
        a, b = transform or self._ccd_transform or (0.0, 1.0)
        tmp = self.gsc_state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stars": [[s, round(r, 7), round(d, 7), round(m, 4)]
                                             for s, r, d, m in stars],
                                   "ccd_a": a, "ccd_b": b}), encoding="utf-8")
        os.replace(tmp, self.gsc_state_path)  # atomic: gsc never reads half a file

    def _sky(self, target_index: int, mjd: float) -> dict[str, Any]:
        """Write the sky at ``mjd`` for the ``gsc`` script; return what was served."""
        stars, served = self.served_sky(target_index, mjd)
        self._write_state(stars)
        return served

    # ------------------------------------------------------------ Instrument protocol
    def check(self, action: Action) -> None:
        """The simulation's limits, then the mount's; raises before anything is sent.

        Raises:
            UnsafeActionError: outside a limit (nothing was sent to the server).
        """
        self._sim.check(action)
        self.check_mount_limits(action)

    def execute(self, action: Action) -> Measurement:
        """Observe ``action`` on the INDI devices; advance the simulated clock on success.

        Raises:
            UnsafeActionError: as :meth:`check` (nothing sent).
            InstrumentError: the server failed, died or hung (InstrumentTimeoutError);
                the simulated night is unchanged, the action can be sent again.
        """
        self.check(action)
        sim = self._sim
        i, t_exp = int(action.target_index), float(action.exptime_s)
        t_mid = sim.mjd + (float(sim.overhead_s(i)) + 0.5 * t_exp) / 86400.0
        self._ensure_ready()
        band = str(sim.catalog.band[i])
        if self.filterwheel is not None and not self.filterwheel.names():
            self._ready = False  # the wheel's device is gone (driver stopped): set up again
            raise InstrumentError(f"the filter wheel {self.names.filter!r} reports no filters",
                                  "is its driver running? steer indi-sim status")
        self.check_filter(self.filterwheel, i)
        try:
            wall_filter = self.filterwheel.select(band) if self.filterwheel is not None else 0.0
            served = self._sky(i, t_mid)
            wall_point = self.mount.slew(float(sim.catalog.ra_deg[i]),
                                         float(sim.catalog.dec_deg[i]))
            frame = self.camera.expose(t_exp)
            t0 = time.perf_counter()
            data, header = frame.data, frame.header
            self.last_image = (data, header)  # kept for diagnosis even if photometry fails
            fra, fdec, fmag = served["field"]
            phot = photometry.measure(
                data, header, float(sim.catalog.ra_deg[i]), float(sim.catalog.dec_deg[i]),
                fra, fdec, fmag, t_exp, zp_clear_mag=self.zeropoint_mag, wcs=frame.wcs)
            wall_phot = time.perf_counter() - t0
        except InstrumentError:
            self._ready = False  # set the devices up again first: a driver may have restarted
            raise
        m = sim.execute(action)  # the simulated clock, pointing and filter advance only now
        wall = {"point": wall_point, "filter": wall_filter, "expose": frame.timings_s["expose"],
                "transfer": frame.timings_s["transfer"], "photometry": wall_phot}
        return self.measured(action, m, served, phot, wall)

    def close(self) -> None:
        """Disconnect; stop the server if this wrapper started it."""
        try:
            self.client.close()
        finally:
            if self.server is not None:
                self.server.remove()  # stops it; removes a temporary folder made for it
                self.server = None
