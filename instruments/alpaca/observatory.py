"""``AlpacaObservatory``: the simulated observatory's night, executed on ASCOM Alpaca devices.

The Alpaca counterpart of :class:`~steer.instruments.indi.IndiObservatory`,
written only against the device protocols of :mod:`steer.instruments.hardware`
(mount, camera, focuser, safety monitor, weather station). One
:meth:`AlpacaObservatory.execute`:

1. checks the action against the simulation's limits, the mount's and the
   safety monitor (an unsafe sky refuses the action: nothing is sent);
2. when the devices are simulators, writes the sky their camera draws (the
   star table behind ``tap_source``): every catalog target at its true,
   cloud-dimmed magnitude at mid-exposure plus constant field stars;
3. puts the target's band in the beam (filter wheel), slews (tracking) to
   the target, dithered by up to 2" from visit to visit, and reads the
   position back;
4. exposes the camera (the simulated exposure time times ``exptime_scale``
   in wall seconds) and downloads the frame;
5. measures the target against the field stars through a WCS built from the
   mount's read-back position and the optics (:mod:`steer.instruments.photometry`);
6. advances the simulated clock (only now: a failed attempt leaves the night
   untouched and can be sent again).

The safety monitor also gates :meth:`feasible_mask`: while it says unsafe
nothing is observable, so the night waits (``wait`` sleeps in wall time) and
no slew is sent.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from steer.errors import ConfigError, InstrumentError, UnsafeActionError
from steer.instruments import photometry
from steer.instruments.alpaca.devices import (
    AlpacaCamera,
    AlpacaFilterWheel,
    AlpacaFocuser,
    AlpacaLink,
    AlpacaMount,
    AlpacaSafetyMonitor,
    AlpacaWeather,
)
from steer.instruments.alpaca.server import resolve_alpaca_server, write_sky
from steer.instruments.hardware_night import HardwareNight
from steer.instruments.telescope import Action, Measurement

__all__ = ["AlpacaObservatory", "frame_wcs"]

log = logging.getLogger(__name__)

_CAL_MAGS = (12.0, 12.75, 13.5, 14.25, 15.0)  # camera magnitudes of the calibration ladder
_CAL_EXPTIME_S = 1.0
_SAFE_CACHE_S = 0.5
_SIM_BEST_FOCUS = 10000  # alpaca-simulators' camera: sharpest stars at this focuser position  # a safety reading is reused this long (feasible_mask is called often)


def frame_wcs(ra_deg: float, dec_deg: float, scale_arcsec_px: float, width_px: int,
              height_px: int) -> Any:
    """The TAN WCS of a north-up frame centred on ``(ra_deg, dec_deg)``.

    The orientation is the Alpaca simulator camera's (both axes flipped, after
    :class:`AlpacaCamera` transposed the ``[x][y]`` array to rows = y).
    """
    from astropy.wcs import WCS

    s = scale_arcsec_px / 3600.0
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra_deg % 360.0, dec_deg]
    w.wcs.crpix = [width_px / 2.0 + 0.5, height_px / 2.0 + 0.5]  # 1-based: the centre
    w.wcs.cd = [[-s, 0.0], [0.0, -s]]
    return w


class AlpacaObservatory(HardwareNight):
    """A SimulatedObservatory whose actions run on Alpaca devices.

    Every attribute not defined here is the wrapped simulation's.

    Args:
        sim_observatory: The night to run (keeps clock, sky and truth).
        host: Alpaca server address (loopback).
        port: Server port; ``None`` reads ``run_dir/server.json``.
        run_dir: Run folder of a server started by ``steer alpaca-sim start``.
        start_server: Start a private ``alpaca-simulators`` server (stopped on :meth:`close`).
        timeout_s: Seconds any HTTP call may take.
        exptime_scale: Wall seconds per simulated exposure second (0.001-100).
        max_retries: Reconnection attempts when the link is down at the start of an action.
        zeropoint_mag: Magnitude giving 1 ADU per simulated second (as the simulation's camera).
        n_field_stars, field_mag_range: Constant reference stars served around each target.
        camera_size_px: Square sensor of a simulator started here.
        slew_rate_deg_s: Slew rate of a simulator started here.
        focus_position: Move the focuser here on connect (``None``: leave it).
        dec_limits_deg, hour_angle_limit_h: The mount's limits.
        pointing_tolerance_arcsec: Read-back tolerance after a slew.
        dither_arcsec: Largest pointing offset from visit to visit.
        server_restarts: Restarts (back-off 1, 2, 4 s) of a server started here that
            died or hung; a server it did not start is only waited for.
        device_numbers: Alpaca device numbers by kind (``telescope``, ``camera``,
            ``focuser``, ``filterwheel``, ``safetymonitor``, ``observingconditions``);
            a kind set to -1 is absent.
    """

    _KINDS = ("telescope", "camera", "focuser", "filterwheel", "safetymonitor",
              "observingconditions")

    def __init__(self, sim_observatory: Any, host: str = "127.0.0.1", port: int | None = None,
                 run_dir: str | None = None, start_server: bool = False,
                 timeout_s: float = 10.0, exptime_scale: float = 0.01, max_retries: int = 2,
                 zeropoint_mag: float = 24.0, n_field_stars: int = 12,
                 field_mag_range: tuple[float, float] = (14.5, 17.5),
                 camera_size_px: int = 512, slew_rate_deg_s: float = 360.0,
                 focus_position: int | None = None,
                 dec_limits_deg: tuple[float, float] = (-85.0, 85.0),
                 hour_angle_limit_h: float = 6.0, pointing_tolerance_arcsec: float = 5.0,
                 dither_arcsec: float = 2.0, server_restarts: int = 3,
                 device_numbers: dict[str, int] | None = None) -> None:
        if not 0.001 <= float(exptime_scale) <= 100.0:
            raise ConfigError(f"exptime_scale = {exptime_scale} is outside [0.001, 100]",
                              "wall seconds per simulated exposure second")
        numbers = {k: 0 for k in self._KINDS}
        unknown = sorted(set(device_numbers or {}) - set(numbers))
        if unknown:
            raise ConfigError(f"unknown Alpaca device kind(s) {unknown}",
                              f"use {', '.join(self._KINDS)}")
        numbers.update({k: int(v) for k, v in (device_numbers or {}).items()})
        self.camera_size_px = int(camera_size_px)
        self.scale_arcsec_px = 0.258  # replaced on connect by pixel size / focal length
        super().__init__(sim_observatory, n_field_stars=n_field_stars,
                         field_mag_range=field_mag_range,
                         field_radius_arcmin=0.8 * 0.5 * self.camera_size_px * 0.258 / 60.0,
                         dec_limits_deg=dec_limits_deg, hour_angle_limit_h=hour_angle_limit_h)
        self.timeout_s = float(timeout_s)
        self.exptime_scale = float(exptime_scale)
        self.max_retries = int(max_retries)
        self.zeropoint_mag = float(zeropoint_mag)
        self.focus_position = focus_position
        self.pointing_tolerance_arcsec = float(pointing_tolerance_arcsec)
        self.dither_arcsec = float(dither_arcsec)
        self.device_numbers = numbers
        cfg = sim_observatory.config
        self.server, port, self.sky_db_path = resolve_alpaca_server(
            "AlpacaObservatory", run_dir, port, start_server, None,
            site=(cfg.site_lat_deg, cfg.site_lon_deg, cfg.site_height_m),
            slew_rate_deg_s=slew_rate_deg_s, camera_size_px=self.camera_size_px)
        self.host = host
        self.port = int(port)
        self.server_restarts = int(server_restarts)
        self.server_restarts_left = self.server_restarts
        self.restart_log: list[dict[str, float]] = []
        self.safety_log: list[dict[str, Any]] = []
        """Every change of the safety monitor's verdict: ``mjd``, ``unix``, ``safe``,
        ``reason`` (empty when the monitor answered; a monitor that does not answer
        after a reconnection is unsafe)."""
        self.link = AlpacaLink(f"{host}:{self.port}", self.timeout_s)
        self._build_devices()
        self._zp_camera: float | None = None  # camera mag giving 1 ADU per wall second
        self._ready = False
        self._safe: tuple[float, bool] | None = None  # (monotonic time, verdict)
        self.last_frame: Any = None

    def __repr__(self) -> str:
        return f"AlpacaObservatory({self._sim!r}, {self.link.address})"

    def describe(self) -> dict[str, Any]:
        """The simulation's description plus the Alpaca link and mount limits."""
        out = dict(self._sim.describe())
        out.update(kind="alpaca-observatory", alpaca={
            "address": self.link.address, "timeout_s": self.timeout_s,
            "exptime_scale": self.exptime_scale, "devices": self.device_numbers,
            "mount_limits": self.mount_limits()})
        return out

    # ------------------------------------------------------------ setup
    def _build_devices(self) -> None:
        n = self.device_numbers
        commands = self.link.commands
        self.link = AlpacaLink(f"{self.host}:{self.port}", self.timeout_s)
        self.link.commands = commands  # one audit trail across reconnections
        self.mount = AlpacaMount(self.link, n["telescope"],
                                 tolerance_arcsec=self.pointing_tolerance_arcsec)
        self.camera = AlpacaCamera(self.link, n["camera"])
        self.focuser = AlpacaFocuser(self.link, n["focuser"]) if n["focuser"] >= 0 else None
        self.filterwheel = (AlpacaFilterWheel(self.link, n["filterwheel"])
                            if n["filterwheel"] >= 0 else None)
        self.safety = (AlpacaSafetyMonitor(self.link, n["safetymonitor"])
                       if n["safetymonitor"] >= 0 else None)
        self.station = (AlpacaWeather(self.link, n["observingconditions"])
                        if n["observingconditions"] >= 0 else None)

    def _connect(self) -> None:
        for dev in (self.mount, self.camera, self.focuser, self.filterwheel, self.safety,
                    self.station):
            if dev is not None:
                dev.connect()
        self.scale_arcsec_px = self.camera.pixel_size_um * 1e-6 / self.mount.focal_length_m() \
            * 206264.806
        if self.focuser is not None and self.focus_position is not None \
                and self.focuser.position() != int(self.focus_position):
            self.focuser.move(int(self.focus_position))
        if self._zp_camera is None and self.sky_db_path is not None:
            self._calibrate()

    def _ensure_ready(self) -> None:
        """Connect (with retries); restart a server started here that is dead or hung."""
        if self._ready:
            return
        try:
            self._connect_with_retries()
        except InstrumentError:
            if self.server is None or self.server_restarts_left <= 0:
                raise
            self.server_restarts_left -= 1
            n = self.server_restarts - self.server_restarts_left
            log.warning("Alpaca server not answering: restarting it (%d of %d)", n,
                        self.server_restarts)
            t0, detected_unix = time.perf_counter(), time.time()
            state = self.server.restart(backoff_s=float(2 ** (n - 1)))
            self.port = int(state.port)
            self._build_devices()
            self._connect_with_retries()
            self.restart_log.append({"restart": n, "wall_s": time.perf_counter() - t0,
                                     "detected_unix": detected_unix})
        self._ready = True

    def _connect_with_retries(self) -> None:
        last: InstrumentError | None = None
        for attempt in range(self.max_retries + 1):
            try:
                self._connect()
                return
            except InstrumentError as exc:
                last = exc
                log.warning("Alpaca connect attempt %d failed: %s", attempt, exc)
                if attempt < self.max_retries:
                    time.sleep(0.5)
        raise InstrumentError(f"Alpaca not ready after {self.max_retries + 1} attempts: {last}",
                              "is the Alpaca server running? steer alpaca-sim status") from last

    def _calibrate(self) -> None:
        """Measure the camera's zero point on a ladder of stars at the current pointing."""
        ra0, dec0 = self.mount.position()
        # a line of stars in declination, away from the pole (the park position is near it)
        step_deg = 0.07 * self.camera_size_px * self.scale_arcsec_px / 3600.0
        sign = -1.0 if dec0 > 0 else 1.0
        decs = dec0 + sign * step_deg * np.arange(1, len(_CAL_MAGS) + 1)
        ras = np.full(len(_CAL_MAGS), ra0)
        write_sky(self.sky_db_path, zip(ras, decs, _CAL_MAGS, strict=True))
        frame = self.camera.expose(_CAL_EXPTIME_S)
        wcs = frame_wcs(ra0, dec0, self.scale_arcsec_px, frame.data.shape[1],
                        frame.data.shape[0])
        x, y = wcs.world_to_pixel_values(ras, decs)
        ph = photometry._aperture_fluxes(frame.data, np.asarray(x), np.asarray(y), 8.0,  # noqa: SLF001
                                      "mean")
        ok = (ph["flux"] > 0) & (ph["peak"] < 0.9 * frame.full_well_adu)
        if ok.sum() < 3:
            raise InstrumentError("camera calibration failed: the ladder stars were not found",
                                  "is tap_source the server's sky.db?")
        mags = np.asarray(_CAL_MAGS)[ok]
        zps = mags + 2.5 * np.log10(ph["flux"][ok] / _CAL_EXPTIME_S)
        slope = np.polyfit(mags, -2.5 * np.log10(ph["flux"][ok]), 1)[0]
        self._zp_camera = float(np.median(zps))
        log.info("Alpaca camera zero point %.3f mag (flux slope %.3f, 1 expected)",
                 self._zp_camera, slope)

    @property
    def truth_known(self) -> bool:
        """Whether the camera sees the simulation's sky (device simulators fed by
        steer), so that metrics against the hidden truth mean something."""
        return self.sky_db_path is not None

    # ------------------------------------------------------------ safety
    def is_safe(self) -> bool:
        """The safety monitor's verdict (no monitor: safe); changes go to :attr:`safety_log`."""
        if self.safety is None:
            return True
        now = time.monotonic()
        if self._safe is not None and now - self._safe[0] < _SAFE_CACHE_S:
            return self._safe[1]
        reason = ""
        try:
            safe = self.safety.verdict()
        except InstrumentError as exc:  # no answer: reconnect (restart a server started here)
            self._ready = False
            try:
                self._ensure_ready()
                safe = self.safety.verdict()
            except InstrumentError as exc2:
                safe, reason = False, f"no answer: {exc2 or exc}"
        last = self.safety_log[-1] if self.safety_log else None
        if last is None or last["safe"] != safe or bool(last["reason"]) != bool(reason):
            self.safety_log.append({"mjd": self.mjd, "unix": time.time(), "safe": safe,
                                    "reason": reason})
            log.log(logging.INFO if safe else logging.WARNING, "safety monitor: %s",
                    "safe" if safe else f"UNSAFE, the night waits {reason}".rstrip())
        self._safe = (now, safe)
        return safe

    def unanswered_s(self, until_mjd: float | None = None) -> float:
        """Seconds of the observing window (to ``until_mjd``, default now) during which
        the devices did not answer (the safety monitor's verdict could not be read, so
        the night waited, observing nothing): time lost to the instrument, not the sky."""
        log_, start = self.safety_log, float(self.night_start_mjd)
        end = float(self.mjd if until_mjd is None else min(until_mjd, self.mjd))
        ends = [e["mjd"] for e in log_[1:]] + [end]
        return float(sum(max(0.0, min(stop, end) - max(e["mjd"], start)) * 86400.0
                         for e, stop in zip(log_, ends, strict=True) if e["reason"]))

    def feasible_mask(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """The simulation's feasibility, all False while the safety monitor says unsafe."""
        mask = np.asarray(self._sim.feasible_mask(*args, **kwargs), bool)
        return mask if self.is_safe() else np.zeros_like(mask)

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of the night pass: ``seconds * exptime_scale`` of wall time."""
        time.sleep(min(float(seconds) * self.exptime_scale, 60.0))
        self._sim.wait(seconds)

    # ------------------------------------------------------------ Instrument protocol
    def check(self, action: Action) -> None:
        """The simulation's limits, the mount's, then the safety monitor; nothing is sent.

        Raises:
            UnsafeActionError: outside a limit, or the safety monitor says unsafe.
        """
        self._sim.check(action)
        self.check_mount_limits(action)
        self.check_filter(self.filterwheel, int(action.target_index))
        if not self.is_safe():
            raise UnsafeActionError("the safety monitor says unsafe: no slew is sent",
                                    "the night waits until it says safe")

    def _serve_seeing(self, fwhm_arcsec: float) -> float:
        """Set the simulated camera's seeing; return the FWHM it was set to.

        alpaca-simulators draws stars ``1" * (1 + |focus - 10000| / 100)`` wide
        (at most 5"): with simulators, steer sets the night's seeing through the
        focuser (1" to 5"; better seeing than 1" cannot be served).
        """
        fwhm = float(np.clip(fwhm_arcsec, 1.0, 5.0))
        target = int(round(_SIM_BEST_FOCUS + 100.0 * (fwhm - 1.0)))
        if self.focuser.position() != target:
            self.focuser.move(target)
        return 1.0 + (target - _SIM_BEST_FOCUS) / 100.0

    def _dither(self, ra_deg: float, dec_deg: float) -> tuple[float, float]:
        """A pointing a few arcseconds off the target, different on every visit."""
        k = len(self.photometry_log)
        d = self.dither_arcsec / 3600.0
        dra = ((k % 5) - 2) / 2.0 * d / max(math.cos(math.radians(dec_deg)), 1e-3)
        return ra_deg + dra, dec_deg + (((k // 5) % 5) - 2) / 2.0 * d

    def execute(self, action: Action) -> Measurement:
        """Observe ``action`` on the Alpaca devices; advance the simulated clock on success.

        Raises:
            UnsafeActionError: as :meth:`check` (nothing sent).
            InstrumentError: a device failed, the server died or hung
                (InstrumentTimeoutError); the night is unchanged and the action can be sent again.
        """
        self.check(action)
        sim = self._sim
        i, t_exp = int(action.target_index), float(action.exptime_s)
        ra, dec = float(sim.catalog.ra_deg[i]), float(sim.catalog.dec_deg[i])
        t_mid = sim.mjd + (float(sim.overhead_s(i)) + 0.5 * t_exp) / 86400.0
        self._ensure_ready()
        self.check_filter(self.filterwheel, i)  # the wheel's names are known once connected
        try:
            wall_filter = (self.filterwheel.select(str(sim.catalog.band[i]))
                           if self.filterwheel is not None else 0.0)
            stars, served = self.served_sky(i, t_mid)
            if self.sky_db_path is not None:  # simulators: serve the sky in camera magnitudes
                shift = self._zp_camera - self.zeropoint_mag + 2.5 * math.log10(self.exptime_scale)
                write_sky(self.sky_db_path, ((r, d, m + shift) for _, r, d, m in stars))
            if self.sky_db_path is not None and self.focuser is not None:
                served["served_fwhm_arcsec"] = self._serve_seeing(served["seeing_fwhm_arcsec"])
            wall_slew = self.mount.slew(*self._dither(ra, dec))
            ra0, dec0 = self.mount.position()
            frame = self.camera.expose(t_exp * self.exptime_scale)
            self.last_frame = frame
            t0 = time.perf_counter()
            wcs = frame_wcs(ra0, dec0, self.scale_arcsec_px, frame.data.shape[1],
                            frame.data.shape[0])
            fra, fdec, fmag = served["field"]
            phot = photometry.measure(frame.data, None, ra, dec, fra, fdec, fmag, t_exp,
                                      zp_clear_mag=self.zeropoint_mag,
                                      full_well_adu=frame.full_well_adu, wcs=wcs,
                                      sky="mean", aperture_fwhm=1.0)
            station = self.station.conditions() if self.station is not None else {}
            wall_phot = time.perf_counter() - t0
        except InstrumentError:
            self._ready = False
            raise
        m = sim.execute(action)
        wall = {"point": wall_slew, "filter": wall_filter,
                "expose": frame.timings_s.get("expose", 0.0),
                "transfer": frame.timings_s.get("transfer", 0.0), "photometry": wall_phot}
        return self.measured(action, m, served, phot, wall,
                             {f"station_{k}": v for k, v in station.items()})

    def close(self) -> None:
        """Stop the server if this wrapper started it."""
        if self.server is not None:
            self.server.remove()
            self.server = None
