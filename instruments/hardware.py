"""One small contract for telescope hardware, whatever protocol drives it.

A mount, a camera, a focuser, a filter wheel and a weather/safety station, each a
runtime-checkable :class:`typing.Protocol` (as bluesky's protocols and
ophyd-async's simulated devices are). INDI (:mod:`steer.instruments.indi.hardware`)
and ASCOM Alpaca (:mod:`steer.instruments.alpaca.devices`) implement them, so
the observatory wrappers and everything above them (environments, policies,
the loop) never know which protocol moves the telescope.

Every call either returns within the device's timeout or raises
:class:`~steer.errors.InstrumentError` (:class:`~steer.errors.InstrumentTimeoutError`
when the device did not answer in time); none returns a half-done state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Frame", "Mount", "Camera", "Focuser", "FilterWheel", "SafetyMonitor", "Weather",
           "jnow_from_j2000", "j2000_from_jnow", "checked_focus_target"]


@dataclass
class Frame:
    """One exposure as it came off a camera.

    Attributes:
        data: `H x W` image in ADU, rows are y, columns are x.
        exptime_s: Exposure time the camera used.
        header: FITS-like keywords (the frame centre, scale, pier side...), when the
            camera provides them.
        wcs: An ``astropy.wcs.WCS`` of the frame when known (from the FITS header
            or the camera geometry), else ``None``.
        full_well_adu: Saturation level of the camera.
        timings_s: Wall seconds by phase (``expose``, ``transfer``).
    """

    data: NDArray[np.float64]
    exptime_s: float
    header: dict[str, Any] = field(default_factory=dict)
    wcs: Any = None
    full_well_adu: float = 65535.0
    timings_s: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Mount(Protocol):
    """A telescope mount that points at J2000 positions and tracks."""

    def position(self) -> tuple[float, float]:
        """Current pointing ``(ra_deg, dec_deg)``, J2000."""
        ...

    def slew(self, ra_deg: float, dec_deg: float) -> float:
        """Point at a J2000 position (tracking on) and wait until settled; return wall seconds.

        Raises:
            InstrumentError: the mount refused, failed or did not arrive in time.
        """
        ...

    def park(self) -> None:
        """Park the mount (end of night, unsafe weather)."""
        ...


@runtime_checkable
class Camera(Protocol):
    """A camera that takes one exposure at a time."""

    def expose(self, exptime_s: float) -> Frame:
        """Expose for ``exptime_s`` (shutter open), read out and return the frame."""
        ...


@runtime_checkable
class Focuser(Protocol):
    """An absolute focuser."""

    def position(self) -> int:
        """Current position in steps."""
        ...

    def move(self, position: int) -> float:
        """Move to ``position`` steps and wait; return wall seconds."""
        ...


@runtime_checkable
class FilterWheel(Protocol):
    """A filter wheel whose slots are named (``g``, ``r``... or the maker's names)."""

    def names(self) -> list[str]:
        """The filter in each slot."""
        ...

    def current(self) -> str:
        """The filter in the beam."""
        ...

    def select(self, name: str) -> float:
        """Put filter ``name`` in the beam and wait; return wall seconds.

        Raises:
            InstrumentError: no such filter, or the wheel did not arrive in time.
        """
        ...


@runtime_checkable
class SafetyMonitor(Protocol):
    """Says whether it is safe to open and observe (rain, wind, clouds, Sun)."""

    def verdict(self) -> bool:
        """What the monitor says now.

        Raises:
            InstrumentError: it did not answer (the caller may reconnect, then
                must treat the sky as unsafe).
        """
        ...

    def is_safe(self) -> bool:
        """True when observing may go on; a device that does not answer is unsafe."""
        ...


@runtime_checkable
class Weather(Protocol):
    """A weather station (ObservingConditions, an INDI weather device)."""

    def conditions(self) -> dict[str, float]:
        """What it measures now, units in the keys (``cloud_cover_frac``,
        ``seeing_fwhm_arcsec``, ``sky_mag_arcsec2``, ``wind_speed_m_s``, ...)."""
        ...


def jnow_from_j2000(ra_deg: float, dec_deg: float, when: Any = None) -> tuple[float, float]:
    """Apparent geocentric RA/Dec of date (INDI's JNow, TETE) of an ICRS/J2000 position.

    Args:
        ra_deg, dec_deg: J2000 position, degrees.
        when: ``astropy.time.Time`` (default now: the simulators use the system clock).

    Returns:
        ``(ra_hours, dec_deg)`` of date, as ``EQUATORIAL_EOD_COORD`` expects.
    """
    import astropy.units as u
    from astropy.coordinates import TETE, SkyCoord
    from astropy.time import Time

    t = Time.now() if when is None else when
    c = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs").transform_to(
        TETE(obstime=t))
    return float(c.ra.hour), float(c.dec.deg)


def j2000_from_jnow(ra_hours: float, dec_deg: float) -> tuple[float, float]:
    """ICRS/J2000 ``(ra_deg, dec_deg)`` of an apparent position of date (now)."""
    import astropy.units as u
    from astropy.coordinates import TETE, SkyCoord
    from astropy.time import Time

    c = SkyCoord(ra=ra_hours * u.hourangle, dec=dec_deg * u.deg,
                 frame=TETE(obstime=Time.now())).transform_to("icrs")
    return float(c.ra.deg), float(c.dec.deg)


def checked_focus_target(position_steps: float,
                         limits_steps: tuple[float, float] | None) -> float:
    """A focuser target rounded to whole steps, checked against the travel before any move.

    Raises:
        InstrumentError: not finite, or outside ``limits_steps``.
    """
    from steer.errors import InstrumentError

    target = float(round(float(position_steps))) if np.isfinite(position_steps) else float("nan")
    lo, hi = limits_steps or (0.0, float("inf"))
    if not (np.isfinite(target) and lo <= target <= hi):
        raise InstrumentError(f"focuser position {position_steps} is outside the "
                              f"focuser's range [{lo:g}, {hi:g}]")
    return target
