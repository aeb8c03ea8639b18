"""Almanac: night bounds, sidereal time and the Moon against astropy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from steer.errors import ConfigError
from steer.instruments.sim import Almanac, get_preset

RUBIN = get_preset("rubin-like")


@pytest.fixture(scope="module")
def almanac() -> Almanac:
    return Almanac.for_night("2026-12-01", RUBIN.site_lat_deg, RUBIN.site_lon_deg,
                             RUBIN.site_height_m)


def _location():
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    return EarthLocation(lat=RUBIN.site_lat_deg * u.deg, lon=RUBIN.site_lon_deg * u.deg,
                         height=RUBIN.site_height_m * u.m)


def test_offline_astropy_configuration_is_set() -> None:
    from astropy.utils import iers
    from astropy.utils.data import conf

    assert iers.conf.auto_download is False
    assert iers.conf.auto_max_age is None
    assert conf.allow_internet is False


def test_lst_matches_astropy_apparent_sidereal_time(almanac: Almanac) -> None:
    import astropy.units as u
    from astropy.time import Time

    t = np.linspace(almanac.night_start_mjd, almanac.night_end_mjd, 7)
    ref = Time(t, format="mjd", scale="utc").sidereal_time(
        "apparent", longitude=RUBIN.site_lon_deg * u.deg).deg
    diff_arcsec = ((almanac.lst_deg(t) - ref + 180.0) % 360.0 - 180.0) * 3600.0
    assert np.max(np.abs(diff_arcsec)) < 1.0


def test_night_bounds_are_sun_at_minus_12(almanac: Almanac) -> None:
    import astropy.units as u
    from astropy.coordinates import AltAz, get_body
    from astropy.time import Time

    loc = _location()
    times = Time([almanac.night_start_mjd, almanac.night_end_mjd], format="mjd", scale="utc")
    sun = get_body("sun", times, loc).transform_to(
        AltAz(obstime=times, location=loc, pressure=0.0 * u.hPa))
    assert np.allclose(sun.alt.deg, -12.0, atol=0.05)  # ~0.2 min of time
    # Interpolated Sun agrees too, and the night is a plausible length (Chile, December).
    assert almanac.sun_alt_deg(almanac.night_mid_mjd) < -12.0
    assert 7.0 < almanac.night_hours < 9.5


def test_night_is_the_local_evening_of_the_date() -> None:
    """East and west of Greenwich the dusk falls on the evening of the given local date."""
    for lat, lon in ((-31.27, 149.06), (19.82, -155.47), (-30.24, -70.75)):
        alm = Almanac.for_night("2026-12-01", lat, lon, 1000.0, grid_min=10.0)
        local = alm.night_start_mjd + lon / 360.0  # local mean solar time, as MJD
        local_dt = dt.datetime(1858, 11, 17) + dt.timedelta(days=local)
        assert local_dt.date() == dt.date(2026, 12, 1)
        assert 17 <= local_dt.hour <= 23
        assert alm.night_end_mjd > alm.night_start_mjd


def test_moon_matches_astropy(almanac: Almanac) -> None:
    import astropy.units as u
    from astropy.coordinates import AltAz, get_body
    from astropy.time import Time

    loc = _location()
    t = np.linspace(almanac.night_start_mjd, almanac.night_end_mjd, 5) + 1.3e-3  # off-grid
    times = Time(t, format="mjd", scale="utc")
    moon = get_body("moon", times, loc).transform_to(
        AltAz(obstime=times, location=loc, pressure=0.0 * u.hPa))
    alt, az = almanac.moon_altaz_deg(t)
    assert np.max(np.abs(alt - moon.alt.deg)) < 0.05
    daz = (az - moon.az.deg + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(daz * np.cos(np.radians(alt)))) < 0.05
    illum = almanac.moon_illumination(t)
    phase = almanac.moon_phase_angle_deg(t)
    assert np.all((illum >= 0.0) & (illum <= 1.0))
    assert np.allclose(illum, 0.5 * (1.0 + np.cos(np.radians(phase))), atol=1e-3)


def test_moon_phase_full_and_new() -> None:
    """2026-12-24 is a full Moon, 2026-12-09 a new Moon (USNO phases)."""
    full = Almanac.for_night("2026-12-23", RUBIN.site_lat_deg, RUBIN.site_lon_deg,
                             RUBIN.site_height_m, grid_min=15.0)
    new = Almanac.for_night("2026-12-08", RUBIN.site_lat_deg, RUBIN.site_lon_deg,
                            RUBIN.site_height_m, grid_min=15.0)
    assert full.moon_phase_angle_deg(full.night_mid_mjd) < 20.0
    assert full.moon_illumination(full.night_mid_mjd) > 0.95
    assert new.moon_phase_angle_deg(new.night_mid_mjd) > 160.0
    assert new.moon_illumination(new.night_mid_mjd) < 0.05


def test_moon_radec_consistent_with_altaz(almanac: Almanac) -> None:
    from steer.instruments.sim import altaz_deg

    t = almanac.night_mid_mjd + 0.01
    ra, dec = almanac.moon_radec_deg(t)
    alt, az = altaz_deg(ra, dec, almanac.lst_deg(t), almanac.lat_deg)
    malt, maz = almanac.moon_altaz_deg(t)
    # Both are interpolated on the 5-min grid (in different frames): agree to ~0.1".
    assert alt == pytest.approx(malt, abs=1e-3)
    assert (az - maz + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-3)


def test_to_date_coords_precesses_by_about_the_expected_amount(almanac: Almanac) -> None:
    ra, dec = almanac.to_date_coords(np.array([0.0, 90.0]), np.array([0.0, 0.0]))
    # 26.9 years of general precession (50.3"/yr) moves RA at the equinox by ~0.37 deg.
    assert 0.3 < ((ra[0] + 180.0) % 360.0 - 180.0) < 0.45
    assert isinstance(almanac.to_date_coords(10.0, -20.0)[0], float | np.floating)


def test_sun_always_up_raises_naming_date_and_site() -> None:
    with pytest.raises(ConfigError) as info:
        Almanac.for_night("2026-06-21", 70.0, 20.0, 0.0, grid_min=30.0)
    text = str(info.value)
    assert "2026-06-21" in text and "lat=70.0" in text and "lon=20.0" in text


def test_bad_date_raises() -> None:
    with pytest.raises(ConfigError, match="2026-13-01"):
        Almanac.for_night("2026-13-01", -30.0, -70.0, 0.0)
