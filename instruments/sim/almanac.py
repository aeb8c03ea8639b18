"""Sun, Moon and sidereal time for one night, computed once with astropy, then interpolated.

physics.md: per-step astropy transforms are far too slow for simulation at scale, so
the Sun and Moon are computed on a coarse grid (5 min by default) once per night and
interpolated; local sidereal time is astropy's apparent sidereal time at the start of
the night advanced at the sidereal rate; catalog coordinates are converted once per
night to true-of-date (TETE) so that :func:`~steer.instruments.sim.geometry.altaz_deg`
matches astropy's ``AltAz`` to better than an arcsecond.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import ArrayLike, NDArray

from steer.errors import ConfigError
from steer.instruments.sim._offline import configure_astropy_offline
from steer.instruments.sim.geometry import radec_from_altaz_deg

__all__ = ["Almanac", "SIDEREAL_DEG_PER_DAY"]

#: Earth rotation angle rate per UT day: 360 * 1.00273781191135448 deg (IERS
#: Conventions 2010, eq. 5.15); the difference between UTC and UT1 rates is negligible.
SIDEREAL_DEG_PER_DAY = 360.0 * 1.00273781191135448

_MJD_UNIX_EPOCH = 40587.0  # MJD of 1970-01-01T00:00 UTC.


@contextmanager
def _quiet_astropy() -> Iterator[None]:
    """Silence astropy's degraded-accuracy warnings for nights past the bundled IERS table."""
    from astropy.utils.exceptions import AstropyWarning
    from erfa import ErfaWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        warnings.simplefilter("ignore", ErfaWarning)
        yield


def _unit_vectors(lat_deg: NDArray[np.float64], lon_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return `n x 3` unit vectors for latitude/longitude pairs in degrees."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


class Almanac:
    """Sun, Moon and sidereal time over one night at one site.

    Build with :meth:`for_night`. Every method is vectorised over ``mjd`` (UTC Modified
    Julian Date) and costs microseconds: it interpolates the precomputed grid (angles
    through unit vectors, so azimuth and RA wrap properly).

    Attributes:
        night_date: Local evening date, ``YYYY-MM-DD``.
        lat_deg: Site latitude, degrees.
        lon_deg: Site longitude, degrees east.
        height_m: Site height, metres.
        sun_alt_max_deg: The Sun altitude that bounds the night, degrees.
        night_start_mjd: Dusk: the Sun crosses ``sun_alt_max_deg`` going down (UTC MJD).
        night_end_mjd: Dawn: the Sun crosses it going up (UTC MJD).
        grid_mjd: `n`-dim grid of times, local noon to the next local noon.
        grid_sun_alt_deg: Sun altitude on the grid, degrees.
        grid_moon_alt_deg: Moon altitude (topocentric, no refraction), degrees.
        grid_moon_az_deg: Moon azimuth, degrees North through East.
        grid_moon_illumination: Illuminated fraction of the Moon, 0..1.
        grid_moon_phase_angle_deg: Sun-Moon-Earth angle, degrees (0 full, 180 new).
        lst0_deg: Apparent local sidereal time at ``night_start_mjd``, degrees.
    """

    def __init__(
        self,
        *,
        night_date: str,
        lat_deg: float,
        lon_deg: float,
        height_m: float,
        sun_alt_max_deg: float,
        night_start_mjd: float,
        night_end_mjd: float,
        grid_mjd: NDArray[np.float64],
        grid_sun_alt_deg: NDArray[np.float64],
        grid_moon_alt_deg: NDArray[np.float64],
        grid_moon_az_deg: NDArray[np.float64],
        grid_moon_illumination: NDArray[np.float64],
        grid_moon_phase_angle_deg: NDArray[np.float64],
        lst0_deg: float,
    ) -> None:
        self.night_date = night_date
        self.lat_deg = float(lat_deg)
        self.lon_deg = float(lon_deg)
        self.height_m = float(height_m)
        self.sun_alt_max_deg = float(sun_alt_max_deg)
        self.night_start_mjd = float(night_start_mjd)
        self.night_end_mjd = float(night_end_mjd)
        self.grid_mjd = grid_mjd
        self.grid_sun_alt_deg = grid_sun_alt_deg
        self.grid_moon_alt_deg = grid_moon_alt_deg
        self.grid_moon_az_deg = grid_moon_az_deg
        self.grid_moon_illumination = grid_moon_illumination
        self.grid_moon_phase_angle_deg = grid_moon_phase_angle_deg
        self.lst0_deg = float(lst0_deg)
        self._moon_altaz_vec = _unit_vectors(grid_moon_alt_deg, grid_moon_az_deg)
        ra, dec = radec_from_altaz_deg(
            grid_moon_alt_deg, grid_moon_az_deg, self.lst_deg(grid_mjd), self.lat_deg
        )
        self._moon_radec_vec = _unit_vectors(dec, ra)

    @property
    def night_mid_mjd(self) -> float:
        """Middle of the night (UTC MJD)."""
        return 0.5 * (self.night_start_mjd + self.night_end_mjd)

    @property
    def night_hours(self) -> float:
        """Length of the night in hours."""
        return 24.0 * (self.night_end_mjd - self.night_start_mjd)

    @classmethod
    def for_night(
        cls,
        night_date: str,
        lat_deg: float,
        lon_deg: float,
        height_m: float,
        grid_min: float = 5.0,
        sun_alt_max_deg: float = -12.0,
    ) -> Almanac:
        """Compute the almanac of the night that starts on the evening of ``night_date``.

        The search window runs from local mean noon of ``night_date`` (UTC noon shifted by
        the site longitude) to the next local noon, so the night found is the one whose
        dusk falls on that local date, whatever the site's longitude.

        Args:
            night_date: Local evening date, ``YYYY-MM-DD``.
            lat_deg: Site latitude, degrees.
            lon_deg: Site longitude, degrees east.
            height_m: Site height, metres.
            grid_min: Grid spacing in minutes (the Sun's altitude is interpolated
                linearly, good to ~1 s in time at 5 min).
            sun_alt_max_deg: Night is the Sun below this altitude, degrees.

        Returns:
            The almanac.

        Raises:
            ConfigError: If the date is malformed, or the Sun never goes below
                ``sun_alt_max_deg`` that night at that site.
        """
        configure_astropy_offline()
        import astropy.units as u
        from astropy.coordinates import AltAz, EarthLocation, get_body
        from astropy.time import Time

        try:
            date = _dt.date.fromisoformat(str(night_date))
        except ValueError:
            raise ConfigError(
                f"night_date {night_date!r} is not a date", hint="use YYYY-MM-DD"
            ) from None
        if not grid_min > 0:
            raise ConfigError(f"grid_min={grid_min} must be > 0 minutes")
        utc_noon_mjd = (
            _dt.datetime(date.year, date.month, date.day, 12).replace(tzinfo=_dt.UTC).timestamp()
            / 86400.0 + _MJD_UNIX_EPOCH
        )
        local_noon_mjd = utc_noon_mjd - lon_deg / 360.0
        n_grid = int(np.ceil(24.0 * 60.0 / grid_min)) + 1
        grid = local_noon_mjd + np.arange(n_grid) * (grid_min / 1440.0)

        location = EarthLocation(lat=lat_deg * u.deg, lon=lon_deg * u.deg, height=height_m * u.m)
        with _quiet_astropy():
            times = Time(grid, format="mjd", scale="utc")
            frame = AltAz(obstime=times, location=location, pressure=0.0 * u.hPa)
            sun = get_body("sun", times, location)
            moon = get_body("moon", times, location)
            sun_altaz = sun.transform_to(frame)
            moon_altaz = moon.transform_to(frame)
            elongation = sun.separation(moon).rad
            sun_dist = sun.distance.to_value(u.km)
            moon_dist = moon.distance.to_value(u.km)
        sun_alt = np.asarray(sun_altaz.alt.deg, dtype=float)
        phase_angle = np.degrees(
            np.arctan2(sun_dist * np.sin(elongation), moon_dist - sun_dist * np.cos(elongation))
        )
        illumination = 0.5 * (1.0 + np.cos(np.radians(phase_angle)))

        start_mjd, end_mjd = cls._find_night(grid, sun_alt, sun_alt_max_deg)
        if start_mjd is None:
            raise ConfigError(
                f"the Sun never goes below {sun_alt_max_deg} deg on the night of {date} "
                f"at the site lat={lat_deg} deg, lon={lon_deg} deg "
                f"(minimum {sun_alt.min():.1f} deg)",
                hint="choose another date or site, or raise sun_alt_max_deg",
            )
        with _quiet_astropy():
            lst0 = Time(start_mjd, format="mjd", scale="utc").sidereal_time(
                "apparent", longitude=lon_deg * u.deg
            ).deg
        return cls(
            night_date=date.isoformat(),
            lat_deg=lat_deg,
            lon_deg=lon_deg,
            height_m=height_m,
            sun_alt_max_deg=sun_alt_max_deg,
            night_start_mjd=start_mjd,
            night_end_mjd=end_mjd,
            grid_mjd=grid,
            grid_sun_alt_deg=sun_alt,
            grid_moon_alt_deg=np.asarray(moon_altaz.alt.deg, dtype=float),
            grid_moon_az_deg=np.asarray(moon_altaz.az.deg, dtype=float),
            grid_moon_illumination=illumination,
            grid_moon_phase_angle_deg=phase_angle,
            lst0_deg=float(lst0),
        )

    @staticmethod
    def _find_night(
        grid: NDArray[np.float64], sun_alt: NDArray[np.float64], limit_deg: float
    ) -> tuple[float | None, float]:
        """Dusk and dawn crossings of ``limit_deg``, linearly interpolated on the grid."""
        below = sun_alt < limit_deg
        idx = np.flatnonzero(below)
        if idx.size == 0:
            return None, float("nan")

        def crossing(i: int) -> float:
            # Crossing between grid points i and i+1.
            a0, a1 = sun_alt[i], sun_alt[i + 1]
            frac = (limit_deg - a0) / (a1 - a0)
            return float(grid[i] + frac * (grid[i + 1] - grid[i]))

        first = int(idx[0])
        start = float(grid[0]) if first == 0 else crossing(first - 1)
        above_after = np.flatnonzero(~below[first:])
        if above_after.size == 0:
            end = float(grid[-1])
        else:
            end = crossing(first + int(above_after[0]) - 1)
        return start, end

    # ----------------------------------------------------------------- evaluation
    def _interp(self, mjd: ArrayLike, values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.interp(np.asarray(mjd, dtype=float), self.grid_mjd, values)

    def _interp_direction(
        self, mjd: ArrayLike, vectors: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Interpolate unit vectors; return (latitude-like, longitude-like) in degrees."""
        t = np.asarray(mjd, dtype=float)
        x = np.interp(t, self.grid_mjd, vectors[:, 0])
        y = np.interp(t, self.grid_mjd, vectors[:, 1])
        z = np.interp(t, self.grid_mjd, vectors[:, 2])
        lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
        lon = np.degrees(np.arctan2(y, x)) % 360.0
        return lat, lon

    def sun_alt_deg(self, mjd: ArrayLike) -> NDArray[np.float64]:
        """Sun altitude in degrees at ``mjd`` (UTC MJD)."""
        return self._interp(mjd, self.grid_sun_alt_deg)

    def moon_altaz_deg(self, mjd: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Topocentric Moon ``(alt_deg, az_deg)`` at ``mjd`` (no refraction)."""
        return self._interp_direction(mjd, self._moon_altaz_vec)

    def moon_radec_deg(self, mjd: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Topocentric apparent (true-of-date) Moon ``(ra_deg, dec_deg)`` at ``mjd``.

        Derived from the Moon's alt/az with :meth:`lst_deg`, so it lives in the same
        frame as :meth:`to_date_coords` output and separations are consistent.
        """
        dec, ra = self._interp_direction(mjd, self._moon_radec_vec)
        return ra, dec

    def moon_illumination(self, mjd: ArrayLike) -> NDArray[np.float64]:
        """Illuminated fraction of the Moon's disc, 0 (new) to 1 (full)."""
        return np.clip(self._interp(mjd, self.grid_moon_illumination), 0.0, 1.0)

    def moon_phase_angle_deg(self, mjd: ArrayLike) -> NDArray[np.float64]:
        """Lunar phase angle in degrees: 0 full, 180 new (Krisciunas & Schaefer 1991)."""
        return self._interp(mjd, self.grid_moon_phase_angle_deg)

    def lst_deg(self, mjd: ArrayLike) -> NDArray[np.float64]:
        """Apparent local sidereal time in degrees, in [0, 360)."""
        t = np.asarray(mjd, dtype=float)
        return (self.lst0_deg + SIDEREAL_DEG_PER_DAY * (t - self.night_start_mjd)) % 360.0

    def to_date_coords(
        self, ra_deg: ArrayLike, dec_deg: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Convert ICRS (J2000) coordinates to true-of-date (astropy TETE) at mid-night.

        Precession, nutation (IAU 2006/2000A), light deflection and annual aberration,
        computed with ERFA (the library astropy's TETE frame calls): the star-independent
        terms once per night (``erfa.apci13``), then ``erfa.atciq`` per call (0.1 ms for
        150 targets; the astropy frame transform took 3 ms of a 20 ms environment
        reset). Agrees with ``ICRS.transform_to(TETE(...))`` to 1e-5 mas (tested). Use
        the result with :meth:`lst_deg` in
        :func:`~steer.instruments.sim.geometry.altaz_deg`.

        Args:
            ra_deg: ICRS right ascension(s), degrees.
            dec_deg: ICRS declination(s), degrees.

        Returns:
            ``(ra_deg, dec_deg)`` true-of-date, geocentric apparent.
        """
        import erfa

        if getattr(self, "_astrom", None) is None:
            configure_astropy_offline()
            from astropy.time import Time

            with _quiet_astropy():
                tt = Time(self.night_mid_mjd, format="mjd", scale="utc").tt
            self._astrom = erfa.apci13(tt.jd1, tt.jd2)  # (astrom, equation of the origins)
        astrom, eo = self._astrom
        ra = np.radians(np.atleast_1d(np.asarray(ra_deg, dtype=float)))
        dec = np.radians(np.atleast_1d(np.asarray(dec_deg, dtype=float)))
        ri, di = erfa.atciq(ra, dec, 0.0, 0.0, 0.0, 0.0, astrom)  # CIRS
        out_ra = np.degrees(erfa.anp(ri - eo)) % 360.0  # CIO -> equinox of date
        out_dec = np.degrees(di)
        if np.ndim(ra_deg) == 0:
            return out_ra[0], out_dec[0]
        return out_ra, out_dec

    def __repr__(self) -> str:
        return (
            f"Almanac(night_date={self.night_date!r}, lat_deg={self.lat_deg}, "
            f"lon_deg={self.lon_deg}, night_hours={self.night_hours:.2f})"
        )
