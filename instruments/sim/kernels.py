"""Fast per-target evaluation for the observatory: geometry, moonlit sky and m5.

The same physics as :mod:`~steer.instruments.sim.geometry` and
:mod:`~steer.instruments.sim.sky`, rearranged for speed: per-target constants are
precomputed once per night, the hour angle's sine and cosine come from the angle-sum
identities (no trigonometry on 1,000 angles), the Moon separation is a dot product of
unit vectors, and the m5 formula is evaluated in logarithms. A vectorised path (all
targets, each step) and a scalar path (one target, each exposure, plain ``math``)
implement the same formulas; the tests check both against the public functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from steer.instruments.sim.presets import ObservatoryConfig
from steer.instruments.sim.sky import EFFECTIVE_WAVELENGTH_NM, MOON_COLOUR_MAG, band_values

__all__ = ["TargetKernel", "Geometry"]

_LN10 = math.log(10.0)
_DEG = 180.0 / math.pi
# K&S eq. 1: B[nL] = 34.08 exp(20.7233 - 0.92104 V) and 0.92104 = 0.4 ln 10, so the V-band
# flux 10^(-0.4 V) of a surface brightness B is B / (34.08 e^20.7233).
_NL_TO_FLUX = 1.0 / (34.08 * math.exp(20.7233))
_KS_RAYLEIGH = 10.0**5.36
_HORIZON_AIRMASS = 37.92  # Kasten & Young at altitude 0


@dataclass
class Geometry:
    """Geometry of targets at one time (arrays, or floats for one target).

    Attributes:
        alt_deg: Altitude, degrees.
        az_deg: Azimuth, degrees North through East, in [0, 360).
        sin_alt: Sine of the altitude.
        airmass: Kasten & Young air mass (inf below the horizon).
        cos_moon_sep: Cosine of the Moon separation.
        moon_sep_deg: Moon separation, degrees.
        moon_alt_deg: Moon altitude, degrees.
        moon_phase_angle_deg: Lunar phase angle, degrees (0 full, 180 new).
    """

    alt_deg: Any
    az_deg: Any
    sin_alt: Any
    airmass: Any
    cos_moon_sep: Any
    moon_sep_deg: Any
    moon_alt_deg: float
    moon_phase_angle_deg: float


def _moon_unit(moon_alt_deg: float, moon_az_deg: float) -> tuple[float, float, float]:
    """(east, north, up) unit vector of the Moon."""
    ma, mz = math.radians(moon_alt_deg), math.radians(moon_az_deg)
    return math.cos(ma) * math.sin(mz), math.cos(ma) * math.cos(mz), math.sin(ma)


def _ks_moon_terms(moon_alt_deg: float, moon_phase_angle_deg: float) -> tuple[float, float]:
    """K&S scalars: ``I*`` (eq. 20) and the Moon's airmass ``X(Z_moon)`` (eq. 3)."""
    alpha = abs(moon_phase_angle_deg)
    i_star = 10.0 ** (-0.4 * (3.84 + 0.026 * alpha + 4e-9 * alpha**4))
    sm = math.sin(math.radians(moon_alt_deg))
    return i_star, 1.0 / math.sqrt(1.0 - 0.96 * (1.0 - sm * sm))


class TargetKernel:
    """Per-target constants of one night and their fast evaluation.

    Args:
        ra_date_deg: `N` true-of-date right ascensions, degrees.
        dec_date_deg: `N` true-of-date declinations, degrees.
        band: `N` band names.
        config: The observatory configuration.
    """

    def __init__(self, ra_date_deg: NDArray, dec_date_deg: NDArray, band: NDArray,
                 config: ObservatoryConfig) -> None:
        lat = math.radians(config.site_lat_deg)
        self.sin_lat, self.cos_lat = math.sin(lat), math.cos(lat)
        ra = np.radians(np.asarray(ra_date_deg, dtype=float))
        dec = np.radians(np.asarray(dec_date_deg, dtype=float))
        self.cos_ra, self.sin_ra = np.cos(ra), np.sin(ra)
        self.cos_dec = np.cos(dec)
        self.sd_sl = np.sin(dec) * self.sin_lat
        self.sd_cl = np.sin(dec) * self.cos_lat
        self.cd_cl = self.cos_dec * self.cos_lat
        self.cd_sl = self.cos_dec * self.sin_lat
        self.c_m = band_values(config.c_m, band)
        self.k = band_values(config.k_ext, band)
        self.dark_flux = 10.0 ** (-0.4 * band_values(config.dark_sky_mag_arcsec2, band))
        self.moon_flux_coef = _NL_TO_FLUX * 10.0 ** (-0.4 * band_values(MOON_COLOUR_MAG, band))
        self.sat30 = band_values(config.saturation_mag_30s, band)
        lam_factor = (500.0 / band_values(EFFECTIVE_WAVELENGTH_NM, band)) ** 0.3
        self.atm_coef = 1.04 * lam_factor**2  # multiplies zenith_seeing^2 in FWHM_eff^2
        self.sys_sq = float(config.fwhm_sys_arcsec) ** 2
        # m5 constant: C_m - 10.5 (from 0.5 (m_sky - 21)) + 2.5 log10(0.7 / 1.16) + k.
        self.m5_const = self.c_m - 10.5 + 2.5 * math.log10(0.7 / 1.16) + self.k

    # ---------------------------------------------------------------- all targets
    def altaz(self, lst_deg: float) -> tuple[NDArray, ...]:
        """Alt, az (degrees) and horizon-frame unit vector (east, north, up) of all targets."""
        lst = math.radians(lst_deg)
        cl, sl = math.cos(lst), math.sin(lst)
        cos_ha = cl * self.cos_ra + sl * self.sin_ra  # cos(lst - ra)
        sin_ha = sl * self.cos_ra - cl * self.sin_ra  # sin(lst - ra)
        up = np.clip(self.sd_sl + self.cd_cl * cos_ha, -1.0, 1.0)
        east = -self.cos_dec * sin_ha
        north = self.sd_cl - self.cd_sl * cos_ha
        alt = np.arcsin(up) * _DEG
        az = np.arctan2(east, north) * _DEG  # (-180, 180]
        az += 360.0 * (az < 0.0)
        return alt, az, east, north, up

    def geometry(self, lst_deg: float, moon_alt_deg: float, moon_az_deg: float,
                 moon_phase_angle_deg: float) -> Geometry:
        """Alt/az, air mass and Moon separation of all targets at one sidereal time."""
        alt, az, east, north, up = self.altaz(lst_deg)
        me, mn, mu = _moon_unit(moon_alt_deg, moon_az_deg)
        cos_sep = np.clip(east * me + north * mn + up * mu, -1.0, 1.0)
        safe = np.maximum(alt, 0.0)
        x = 1.0 / (np.maximum(up, 0.0) + 0.50572 * np.exp(-1.6364 * np.log(safe + 6.07995)))
        x[alt < 0.0] = np.inf
        return Geometry(alt_deg=alt, az_deg=az, sin_alt=up, airmass=x, cos_moon_sep=cos_sep,
                        moon_sep_deg=np.arccos(cos_sep) * _DEG,
                        moon_alt_deg=float(moon_alt_deg),
                        moon_phase_angle_deg=float(moon_phase_angle_deg))

    def sky_flux(self, g: Geometry) -> NDArray:
        """Sky flux per arcsec^2 (10^(-0.4 mag)) of all targets: dark sky + K&S moonlight."""
        if g.moon_alt_deg <= 0.0:
            return self.dark_flux
        i_star, x_moon = _ks_moon_terms(g.moon_alt_deg, g.moon_phase_angle_deg)
        f_rho = _KS_RAYLEIGH * (1.06 + g.cos_moon_sep**2) + np.exp(
            _LN10 * (6.15 - g.moon_sep_deg / 40.0))
        zt = np.maximum(g.sin_alt, 0.0)
        x_t = 1.0 / np.sqrt(0.04 + 0.96 * zt * zt)  # = (1 - 0.96 sin^2 Z)^-1/2
        ck = -0.4 * _LN10 * self.k
        b_nl = (f_rho * i_star) * np.exp(ck * x_moon) * (1.0 - np.exp(ck * x_t))
        return self.dark_flux + b_nl * self.moon_flux_coef

    def m5(self, g: Geometry, exptime_s: Any, zenith_seeing_arcsec: Any,
           transparency: Any) -> NDArray:
        """Five-sigma depth of all targets (air mass clipped at the horizon value)."""
        x = np.minimum(g.airmass, _HORIZON_AIRMASS)
        s = np.asarray(zenith_seeing_arcsec, dtype=float)
        q = self.sys_sq + self.atm_coef * (s * s)  # FWHM_eff^2 = 1.16^2 X^1.2 q
        return (self.m5_const - 1.25 * np.log10(self.sky_flux(g) * q) - 1.5 * np.log10(x)
                - self.k * x + 1.25 * np.log10(np.asarray(exptime_s, dtype=float) / 30.0)
                + 2.5 * np.log10(transparency))

    # ------------------------------------------------------------------ one target
    def altaz_one(self, lst_deg: float, i: int) -> tuple[float, float, float, float, float]:
        """:meth:`altaz` for target ``i`` with Python floats."""
        lst = math.radians(lst_deg)
        cl, sl = math.cos(lst), math.sin(lst)
        cra, sra = float(self.cos_ra[i]), float(self.sin_ra[i])
        cos_ha, sin_ha = cl * cra + sl * sra, sl * cra - cl * sra
        up = min(1.0, max(-1.0, float(self.sd_sl[i]) + float(self.cd_cl[i]) * cos_ha))
        east = -float(self.cos_dec[i]) * sin_ha
        north = float(self.sd_cl[i]) - float(self.cd_sl[i]) * cos_ha
        az = math.atan2(east, north) * _DEG
        return math.asin(up) * _DEG, az + 360.0 if az < 0.0 else az, east, north, up

    def geometry_one(self, lst_deg: float, moon_alt_deg: float, moon_az_deg: float,
                     moon_phase_angle_deg: float, i: int) -> Geometry:
        """:meth:`geometry` for target ``i`` with Python floats."""
        alt, az, east, north, up = self.altaz_one(lst_deg, i)
        me, mn, mu = _moon_unit(moon_alt_deg, moon_az_deg)
        cos_sep = min(1.0, max(-1.0, east * me + north * mn + up * mu))
        x = math.inf if alt < 0.0 else 1.0 / (up + 0.50572 * (alt + 6.07995) ** -1.6364)
        return Geometry(alt_deg=alt, az_deg=az, sin_alt=up, airmass=x, cos_moon_sep=cos_sep,
                        moon_sep_deg=math.acos(cos_sep) * _DEG,
                        moon_alt_deg=float(moon_alt_deg),
                        moon_phase_angle_deg=float(moon_phase_angle_deg))

    def m5_one(self, g: Geometry, exptime_s: float, zenith_seeing_arcsec: float,
               transparency: float, i: int) -> tuple[float, float, float]:
        """Depth of target ``i``: ``(m5_mag, sky_mag_arcsec2, fwhm_eff_arcsec)``."""
        flux = float(self.dark_flux[i])
        if g.moon_alt_deg > 0.0:
            i_star, x_moon = _ks_moon_terms(g.moon_alt_deg, g.moon_phase_angle_deg)
            f_rho = (_KS_RAYLEIGH * (1.06 + g.cos_moon_sep**2)
                     + 10.0 ** (6.15 - g.moon_sep_deg / 40.0))
            zt = max(g.sin_alt, 0.0)
            x_t = 1.0 / math.sqrt(0.04 + 0.96 * zt * zt)
            ck = -0.4 * _LN10 * float(self.k[i])
            b_nl = f_rho * i_star * math.exp(ck * x_moon) * (1.0 - math.exp(ck * x_t))
            flux += b_nl * float(self.moon_flux_coef[i])
        sky_mag = -2.5 * math.log10(flux)
        x = min(g.airmass, _HORIZON_AIRMASS)
        fwhm = 1.16 * math.sqrt(x**1.2 * (self.sys_sq + float(self.atm_coef[i])
                                          * zenith_seeing_arcsec**2))
        m5 = (float(self.c_m[i]) + 0.5 * (sky_mag - 21.0) + 2.5 * math.log10(0.7 / fwhm)
              + 1.25 * math.log10(exptime_s / 30.0) - float(self.k[i]) * (x - 1.0)
              + 2.5 * math.log10(transparency))
        return m5, sky_mag, fwhm
