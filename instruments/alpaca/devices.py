"""ASCOM Alpaca devices over ``alpyca``, behind steer's hardware contract.

:class:`AlpacaMount`, :class:`AlpacaCamera`, :class:`AlpacaFocuser`,
:class:`AlpacaSafetyMonitor` and :class:`AlpacaWeather` satisfy the protocols
of :mod:`steer.instruments.hardware`. Every HTTP call has a timeout (a hung
server raises :class:`~steer.errors.InstrumentTimeoutError`); a dead server,
a refused connection or an Alpaca error raises
:class:`~steer.errors.InstrumentError` naming the device and the call.
Every command sent is appended to :attr:`AlpacaLink.commands` (name and wall
time), so a test or an audit can count what reached the hardware.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import requests

from steer.errors import InstrumentError, InstrumentTimeoutError
from steer.instruments.hardware import Frame, j2000_from_jnow, jnow_from_j2000

__all__ = ["AlpacaLink", "AlpacaMount", "AlpacaCamera", "AlpacaFocuser", "AlpacaFilterWheel",
           "AlpacaSafetyMonitor", "AlpacaWeather"]


class _TimeoutSession(requests.Session):
    """A session whose every request has ``timeout_s`` (alpyca's default is 5 s)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = float(timeout_s)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["timeout"] = self.timeout_s
        return super().request(*args, **kwargs)


class AlpacaLink:
    """The address and timeout every device of one Alpaca server shares.

    Args:
        address: ``host:port`` of the Alpaca server.
        timeout_s: Seconds any HTTP call may take.
    """

    def __init__(self, address: str, timeout_s: float = 5.0) -> None:
        self.address = address
        self.timeout_s = float(timeout_s)
        self.commands: list[tuple[str, float]] = []
        """``(device.command, unix time)`` of every command (PUT) sent."""

    def device(self, cls: Any, number: int) -> Any:
        """An alpyca device of class ``cls`` with this link's timeout."""
        dev = cls(self.address, int(number))
        dev.rqs = _TimeoutSession(self.timeout_s)
        return dev

    @contextlib.contextmanager
    def call(self, what: str, command: bool = False) -> Iterator[None]:
        """Translate what alpyca and requests raise into steer's instrument errors."""
        if command:
            self.commands.append((what, time.time()))
        try:
            yield
        except requests.exceptions.Timeout as exc:
            raise InstrumentTimeoutError(
                f"Alpaca {what} on {self.address}: no answer in {self.timeout_s:g} s",
                "is the Alpaca server hung? steer alpaca-sim status") from exc
        except requests.exceptions.RequestException as exc:
            raise InstrumentError(f"Alpaca {what} on {self.address} failed: "
                                  f"{type(exc).__name__}",
                                  "is the Alpaca server running? steer alpaca-sim status") from exc
        except Exception as exc:  # alpyca raises its own exception classes, not one root
            if type(exc).__module__.startswith("alpaca"):
                raise InstrumentError(f"Alpaca {what} refused: {exc}",
                                      "see the device's state and the server log") from exc
            raise

    def wait(self, what: str, done: Any, timeout_s: float, poll_s: float = 0.05) -> None:
        """Poll ``done()`` until true, at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.call(what):
                if done():
                    return
            if time.monotonic() > deadline:
                raise InstrumentTimeoutError(f"Alpaca {what}: not done after {timeout_s:g} s",
                                             "check the device")
            time.sleep(poll_s)


class AlpacaMount:
    """An Alpaca telescope: unparked and tracking on connect; slews to J2000 positions.

    Args:
        link: The server link.
        number: Device number.
        slew_timeout_s: Seconds a slew may take.
        tolerance_arcsec: Read-back tolerance after a slew.
    """

    def __init__(self, link: AlpacaLink, number: int = 0, slew_timeout_s: float = 120.0,
                 tolerance_arcsec: float = 5.0) -> None:
        from alpaca.telescope import Telescope

        self.link = link
        self.dev = link.device(Telescope, number)
        self.slew_timeout_s = float(slew_timeout_s)
        self.tolerance_arcsec = float(tolerance_arcsec)
        self._jnow = False

    def connect(self) -> None:
        """Connect, unpark if parked, start tracking; learn the mount's equatorial system."""
        d = self.dev
        with self.link.call("telescope connect", command=True):
            d.Connected = True
        with self.link.call("telescope state"):
            parked = bool(d.AtPark)
            self._jnow = int(d.EquatorialSystem) == 1  # 1: topocentric (JNow); 2: J2000
        if parked:
            with self.link.call("telescope unpark", command=True):
                d.Unpark()
        with self.link.call("telescope tracking", command=True):
            d.Tracking = True

    def site(self) -> tuple[float, float, float]:
        """``(lat_deg, lon_deg, height_m)`` the mount is set to."""
        with self.link.call("telescope site"):
            return float(self.dev.SiteLatitude), float(self.dev.SiteLongitude), \
                float(self.dev.SiteElevation)

    def focal_length_m(self) -> float:
        """The optics' focal length (metres), for the pixel scale."""
        with self.link.call("telescope focallength"):
            return float(self.dev.FocalLength)

    def position(self) -> tuple[float, float]:
        """Current pointing ``(ra_deg, dec_deg)``, J2000."""
        with self.link.call("telescope position"):
            ra_h, dec = float(self.dev.RightAscension), float(self.dev.Declination)
        if self._jnow:
            return j2000_from_jnow(ra_h, dec)
        return ra_h * 15.0, dec

    def slew(self, ra_deg: float, dec_deg: float) -> float:
        """Slew to a J2000 position, wait until settled and on target; return wall seconds."""
        t0 = time.perf_counter()
        if self._jnow:
            ra_h, dec = jnow_from_j2000(ra_deg, dec_deg)
        else:
            ra_h, dec = (ra_deg % 360.0) / 15.0, dec_deg
        with self.link.call("telescope slew", command=True):
            self.dev.SlewToCoordinatesAsync(ra_h, dec)
        self.link.wait("telescope slew", lambda: not self.dev.Slewing, self.slew_timeout_s)
        ra, de = self.position()
        dra = (ra - ra_deg + 180.0) % 360.0 - 180.0
        off = math.hypot(dra * math.cos(math.radians(dec_deg)), de - dec_deg) * 3600.0
        if off > self.tolerance_arcsec:
            raise InstrumentError(f"the mount stopped {off:.1f}\" from the target "
                                  f"(tolerance {self.tolerance_arcsec}\")", "check the mount")
        return time.perf_counter() - t0

    def park(self) -> None:
        """Park the mount."""
        with self.link.call("telescope park", command=True):
            self.dev.Park()


class AlpacaCamera:
    """An Alpaca camera: one light frame at a time, read as a `H x W` array.

    Args:
        link: The server link.
        number: Device number.
        readout_timeout_s: Seconds beyond the exposure the frame may take to be ready.
    """

    def __init__(self, link: AlpacaLink, number: int = 0, readout_timeout_s: float = 30.0) -> None:
        from alpaca.camera import Camera

        self.link = link
        self.dev = link.device(Camera, number)
        self.readout_timeout_s = float(readout_timeout_s)
        self.full_well_adu = 65535.0
        self.pixel_size_um = 10.0

    def connect(self) -> None:
        """Connect; read the pixel size and the saturation level (full well or MaxADU)."""
        with self.link.call("camera connect", command=True):
            self.dev.Connected = True
        with self.link.call("camera state"):
            max_adu = float(self.dev.MaxADU)
            self.pixel_size_um = float(self.dev.PixelSizeX)
        try:  # a pixel saturates at the full well (in ADU) or the converter's maximum
            with self.link.call("camera full well"):
                well_adu = float(self.dev.FullWellCapacity) / float(self.dev.ElectronsPerADU)
        except InstrumentError:
            well_adu = max_adu
        self.full_well_adu = min(max_adu, well_adu)

    def expose(self, exptime_s: float) -> Frame:
        """Take a light frame of ``exptime_s`` seconds and download it."""
        t0 = time.perf_counter()
        with self.link.call("camera expose", command=True):
            self.dev.StartExposure(float(exptime_s), True)
        self.link.wait("camera image", lambda: self.dev.ImageReady,
                       float(exptime_s) + self.readout_timeout_s)
        t1 = time.perf_counter()
        with self.link.call("camera image download"):
            arr = np.asarray(self.dev.ImageArray, dtype=float)
        t2 = time.perf_counter()
        if arr.ndim != 2:
            raise InstrumentError(f"the camera returned an image of shape {arr.shape}",
                                  "a monochrome sensor is expected")
        # Alpaca's ImageArray is indexed [x][y]: transpose to rows = y
        return Frame(data=np.ascontiguousarray(arr.T), exptime_s=float(exptime_s),
                     full_well_adu=self.full_well_adu,
                     timings_s={"expose": t1 - t0, "transfer": t2 - t1})


class AlpacaFocuser:
    """An absolute Alpaca focuser."""

    def __init__(self, link: AlpacaLink, number: int = 0, move_timeout_s: float = 60.0) -> None:
        from alpaca.focuser import Focuser

        self.link = link
        self.dev = link.device(Focuser, number)
        self.move_timeout_s = float(move_timeout_s)

    def connect(self) -> None:
        """Connect."""
        with self.link.call("focuser connect", command=True):
            self.dev.Connected = True

    def position(self) -> int:
        """Current position in steps."""
        with self.link.call("focuser position"):
            return int(self.dev.Position)

    def move(self, position: int) -> float:
        """Move to ``position`` and wait; return wall seconds."""
        t0 = time.perf_counter()
        with self.link.call("focuser move", command=True):
            self.dev.Move(int(position))
        self.link.wait("focuser move", lambda: not self.dev.IsMoving, self.move_timeout_s)
        return time.perf_counter() - t0


class AlpacaFilterWheel:
    """An Alpaca filter wheel: filters selected by name."""

    def __init__(self, link: AlpacaLink, number: int = 0, move_timeout_s: float = 60.0) -> None:
        from alpaca.filterwheel import FilterWheel

        self.link = link
        self.dev = link.device(FilterWheel, number)
        self.move_timeout_s = float(move_timeout_s)
        self._names: list[str] = []

    def connect(self) -> None:
        """Connect; read the slot names."""
        with self.link.call("filterwheel connect", command=True):
            self.dev.Connected = True
        with self.link.call("filterwheel names"):
            self._names = [str(n) for n in self.dev.Names]

    def names(self) -> list[str]:
        """The filter in each slot."""
        return list(self._names)

    def current(self) -> str:
        """The filter in the beam ("" while the wheel moves)."""
        with self.link.call("filterwheel position"):
            pos = int(self.dev.Position)
        return self._names[pos] if 0 <= pos < len(self._names) else ""

    def select(self, name: str) -> float:
        """Move filter ``name`` into the beam and wait; return wall seconds."""
        if name not in self._names:
            raise InstrumentError(f"the filter wheel has no filter {name!r} "
                                  f"(it holds {self._names})", "check the wheel's names")
        slot = self._names.index(name)
        t0 = time.perf_counter()
        with self.link.call("filterwheel position"):
            if int(self.dev.Position) == slot:
                return 0.0
        with self.link.call("filterwheel select", command=True):
            self.dev.Position = slot
        self.link.wait("filterwheel move", lambda: int(self.dev.Position) == slot,
                       self.move_timeout_s)
        return time.perf_counter() - t0


class AlpacaSafetyMonitor:
    """An Alpaca SafetyMonitor: a monitor that does not answer counts as unsafe."""

    def __init__(self, link: AlpacaLink, number: int = 0) -> None:
        from alpaca.safetymonitor import SafetyMonitor

        self.link = link
        self.dev = link.device(SafetyMonitor, number)

    def connect(self) -> None:
        """Connect."""
        with self.link.call("safetymonitor connect", command=True):
            self.dev.Connected = True

    def verdict(self) -> bool:
        """What the monitor says.

        Raises:
            InstrumentError: it did not answer (InstrumentTimeoutError: in time).
        """
        with self.link.call("safetymonitor issafe"):
            return bool(self.dev.IsSafe)

    def is_safe(self) -> bool:
        """True when the monitor says safe; False when it says unsafe or fails."""
        try:
            return self.verdict()
        except InstrumentError:
            return False


class AlpacaWeather:
    """An Alpaca ObservingConditions device."""

    _FIELDS = (("CloudCover", "cloud_cover_frac", 0.01), ("StarFWHM", "seeing_fwhm_arcsec", 1.0),
               ("SkyQuality", "sky_mag_arcsec2", 1.0), ("WindSpeed", "wind_speed_m_s", 1.0),
               ("Humidity", "humidity_pct", 1.0), ("RainRate", "rain_rate_mm_h", 1.0))

    def __init__(self, link: AlpacaLink, number: int = 0) -> None:
        from alpaca.observingconditions import ObservingConditions

        self.link = link
        self.dev = link.device(ObservingConditions, number)

    def connect(self) -> None:
        """Connect."""
        with self.link.call("observingconditions connect", command=True):
            self.dev.Connected = True

    def conditions(self) -> dict[str, float]:
        """What the station reports (fields it does not implement are left out)."""
        out: dict[str, float] = {}
        for prop, key, scale in self._FIELDS:
            try:
                with self.link.call(f"observingconditions {prop}"):
                    out[key] = float(getattr(self.dev, prop)) * scale
            except InstrumentTimeoutError:
                raise  # a hung station: one timeout, not one per field
            except InstrumentError:
                continue  # a field the station does not implement
        return out
