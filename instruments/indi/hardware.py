"""INDI devices behind steer's hardware contract (:mod:`steer.instruments.hardware`).

:class:`IndiMount`, :class:`IndiCamera` and :class:`IndiFocuser` satisfy the
same ``Mount``, ``Camera`` and ``Focuser`` protocols as the Alpaca devices, over
one :class:`~steer.instruments.indi.client.IndiClient`. Device names come from
the configuration (:class:`IndiDeviceNames`; the defaults are the INDI
simulators'), the properties are the INDI standard ones
(``EQUATORIAL_EOD_COORD``, ``ON_COORD_SET``, ``TELESCOPE_TRACK_STATE``,
``TELESCOPE_PARK``, ``CCD_EXPOSURE``/``CCD1``, ``ABS_FOCUS_POSITION``), so a
real mount, camera and focuser driver answers them too.

The client is passed as a callable: after a server restart the observatory
holds a new client and the devices follow it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from steer.errors import ConfigError, InstrumentError
from steer.instruments.hardware import Frame, j2000_from_jnow, jnow_from_j2000

__all__ = ["IndiDeviceNames", "IndiMount", "IndiCamera", "IndiFocuser", "IndiFilterWheel",
           "frame_wcs_from_header"]


@dataclass(frozen=True)
class IndiDeviceNames:
    """The INDI device names of the mount, the camera and the focuser."""

    telescope: str = "Telescope Simulator"
    ccd: str = "CCD Simulator"
    focuser: str = "Focuser Simulator"
    filter: str = "CCD Simulator"
    """The filter wheel (the CCD simulator carries its own); no wheel: the filter
    is left as it is."""

    @classmethod
    def from_options(cls, devices: dict[str, str] | None) -> IndiDeviceNames:
        """From ``[env.instrument_options] devices = {telescope = "...", ...}``.

        Raises:
            ConfigError: an unknown kind or an empty name.
        """
        devices = dict(devices or {})
        kinds = ("telescope", "ccd", "focuser", "filter")
        unknown = sorted(set(devices) - set(kinds))
        if unknown:
            raise ConfigError(f"unknown INDI device kind(s) {unknown}", f"use {', '.join(kinds)}")
        for k, v in devices.items():
            if not isinstance(v, str) or not v.strip():
                raise ConfigError(f"devices.{k} = {v!r} is not a device name",
                                  "the name indiserver lists, e.g. 'Telescope Simulator'")
        return cls(**devices)

    def all(self) -> tuple[str, str, str]:
        """The three names, for connecting."""
        return (self.telescope, self.ccd, self.focuser)


def frame_wcs_from_header(header: Any) -> Any:
    """The frame's ``astropy.wcs.WCS`` when the driver wrote a celestial one, else ``None``."""
    if header is None or "CTYPE1" not in header or "RA---" not in str(header["CTYPE1"]):
        return None
    from astropy.wcs import WCS

    try:
        w = WCS(header, naxis=2)
    except Exception:  # noqa: BLE001  (an unreadable WCS: fall back to the header geometry)
        return None
    return w if w.has_celestial else None


class IndiMount:
    """An INDI telescope: tracking on, SYNC (simulators) or slew to J2000 positions.

    Args:
        client: Returns the current :class:`~steer.instruments.indi.client.IndiClient`.
        name: Device name.
        sync: SYNC instead of slewing (instant; for simulators).
        timeout_s: Seconds a SYNC or a property change may take.
        slew_timeout_s: Seconds a slew may take.
        tolerance_arcsec: Read-back tolerance.
    """

    def __init__(self, client: Callable[[], Any], name: str, sync: bool = False,
                 timeout_s: float = 10.0, slew_timeout_s: float = 90.0,
                 tolerance_arcsec: float = 5.0) -> None:
        self._client, self.name = client, name
        self.sync, self.timeout_s = bool(sync), float(timeout_s)
        self.slew_timeout_s, self.tolerance_arcsec = float(slew_timeout_s), float(tolerance_arcsec)

    def position(self) -> tuple[float, float]:
        """Current pointing ``(ra_deg, dec_deg)``, J2000 (from the mount's JNow)."""
        vs = self._client().numbers(self.name, "EQUATORIAL_EOD_COORD")
        return j2000_from_jnow(vs["RA"], vs["DEC"])

    def slew(self, ra_deg: float, dec_deg: float) -> float:
        """Point at a J2000 position (JNow on the wire), tracking; return wall seconds."""
        c, n = self._client(), self.name
        t0 = time.perf_counter()
        ra_h, dec = jnow_from_j2000(ra_deg, dec_deg)
        tol_deg = self.tolerance_arcsec / 3600.0

        def arrived(vs: Any) -> bool:
            try:
                r, d = float(vs.values["RA"]) * 15.0, float(vs.values["DEC"])
            except (KeyError, ValueError):
                return False
            dra = (r - ra_h * 15.0 + 180.0) % 360.0 - 180.0
            return math.hypot(dra * math.cos(math.radians(dec)), d - dec) <= tol_deg

        # track first: an idle mount's RA of date drifts 15"/s and fails the read-back
        if not c.switch_on(n, "TELESCOPE_TRACK_STATE", "TRACK_ON"):
            c.set_and_wait(n, "TELESCOPE_TRACK_STATE", {"TRACK_ON": "On", "TRACK_OFF": "Off"},
                           ok_states=("Ok", "Busy"))
        mode = "SYNC" if self.sync else "TRACK"
        if not c.switch_on(n, "ON_COORD_SET", mode):
            c.set_and_wait(n, "ON_COORD_SET",
                           {"SYNC": "Off", "TRACK": "Off", "SLEW": "Off", mode: "On"})
        c.set_and_wait(n, "EQUATORIAL_EOD_COORD", {"RA": ra_h, "DEC": dec}, done=arrived,
                       timeout_s=self.timeout_s if self.sync else self.slew_timeout_s)
        return time.perf_counter() - t0

    def park(self) -> None:
        """Park the mount."""
        self._client().set_and_wait(self.name, "TELESCOPE_PARK", {"PARK": "On", "UNPARK": "Off"},
                                    timeout_s=self.slew_timeout_s)


class IndiCamera:
    """An INDI CCD: one exposure, its FITS BLOB decoded into a :class:`Frame`.

    Args:
        client: Returns the current client.
        name: Device name.
        exptime_scale: Wall seconds per requested second (a simulator's time factor).
        timeout_s: Seconds beyond the exposure the BLOB may take.
        full_well_adu: Saturation level.
    """

    def __init__(self, client: Callable[[], Any], name: str, exptime_scale: float = 1.0,
                 timeout_s: float = 10.0, full_well_adu: float = 65000.0) -> None:
        self._client, self.name = client, name
        self.exptime_scale, self.timeout_s = float(exptime_scale), float(timeout_s)
        self.full_well_adu = float(full_well_adu)

    def expose(self, exptime_s: float) -> Frame:
        """Expose, wait for the BLOB, decode the FITS (and its WCS when written)."""
        from steer.instruments.photometry import read_fits

        c, n = self._client(), self.name
        t0 = time.perf_counter()
        blob0 = c.vector(n, "CCD1")
        seq0 = blob0.seq if blob0 is not None else 0
        c.send(n, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": float(exptime_s)})

        def done() -> bool:
            b = c._vectors.get((n, "CCD1"))  # noqa: SLF001  (under the client's lock)
            e = c._vectors.get((n, "CCD_EXPOSURE"))  # noqa: SLF001
            return (b is not None and b.seq > seq0) or (e is not None and e.state == "Alert")

        c.wait_for(done, exptime_s * self.exptime_scale + self.timeout_s, "the CCD image")
        blob = c.vector(n, "CCD1")
        if blob is None or blob.seq <= seq0 or not isinstance(blob.values.get("CCD1"), bytes):
            exp = c.vector(n, "CCD_EXPOSURE")
            raise InstrumentError(f"exposure failed: {exp.message if exp else 'no CCD'}",
                                  "check the CCD driver")
        wall = time.perf_counter() - t0
        data, header = read_fits(blob.values["CCD1"])
        return Frame(data=data, exptime_s=float(exptime_s), header=header,
                     wcs=frame_wcs_from_header(header), full_well_adu=self.full_well_adu,
                     timings_s={"expose": wall,
                                "transfer": max(0.0, wall - exptime_s * self.exptime_scale)})


class IndiFocuser:
    """An absolute INDI focuser."""

    def __init__(self, client: Callable[[], Any], name: str, timeout_s: float = 90.0) -> None:
        self._client, self.name, self.timeout_s = client, name, float(timeout_s)

    def position(self) -> int:
        """Current position in steps."""
        pos = self._client().numbers(self.name, "ABS_FOCUS_POSITION").get(
            "FOCUS_ABSOLUTE_POSITION")
        if pos is None:
            raise InstrumentError(f"{self.name} has no ABS_FOCUS_POSITION", "is it connected?")
        return int(round(float(pos)))

    def move(self, position: int) -> float:
        """Move to ``position`` steps and wait; return wall seconds."""
        t0 = time.perf_counter()
        self._client().set_and_wait(self.name, "ABS_FOCUS_POSITION",
                                    {"FOCUS_ABSOLUTE_POSITION": float(position)},
                                    timeout_s=self.timeout_s)
        return time.perf_counter() - t0


class IndiFilterWheel:
    """An INDI filter wheel (``FILTER_SLOT``, ``FILTER_NAME``; the CCD simulator has one).

    Args:
        client: Returns the current client.
        name: Device name (the CCD simulator's own wheel: the CCD's name).
        timeout_s: Seconds a filter change may take.
    """

    def __init__(self, client: Callable[[], Any], name: str, timeout_s: float = 30.0) -> None:
        self._client, self.name, self.timeout_s = client, name, float(timeout_s)

    def present(self) -> bool:
        """Whether the device has a filter wheel."""
        return self._client().vector(self.name, "FILTER_SLOT") is not None

    def names(self) -> list[str]:
        """The filter in each slot (slot 1 first)."""
        vs = self._client().vector(self.name, "FILTER_NAME")
        if vs is None:
            return []
        slots = sorted(vs.values, key=lambda k: int(k.rsplit("_", 1)[-1]))
        return [str(vs.values[k]).strip() for k in slots]

    def set_names(self, names: list[str]) -> None:
        """Label the slots (a simulator's wheel loaded with the survey's bands)."""
        self._client().set_and_wait(self.name, "FILTER_NAME", {
            f"FILTER_SLOT_NAME_{k + 1}": n for k, n in enumerate(names)})

    def current(self) -> str:
        """The filter in the beam."""
        slot = int(self._client().numbers(self.name, "FILTER_SLOT").get("FILTER_SLOT_VALUE", 0))
        names = self.names()
        return names[slot - 1] if 1 <= slot <= len(names) else ""

    def select(self, name: str) -> float:
        """Move filter ``name`` into the beam and wait; return wall seconds."""
        names = self.names()
        if name not in names:
            raise InstrumentError(f"the filter wheel of {self.name} has no filter {name!r} "
                                  f"(it holds {names})", "check FILTER_NAME")
        slot = names.index(name) + 1
        c = self._client()
        if int(c.numbers(self.name, "FILTER_SLOT").get("FILTER_SLOT_VALUE", 0)) == slot:
            return 0.0
        t0 = time.perf_counter()
        c.set_and_wait(self.name, "FILTER_SLOT", {"FILTER_SLOT_VALUE": float(slot)},
                       timeout_s=self.timeout_s)
        return time.perf_counter() - t0
