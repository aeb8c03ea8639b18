"""Seeing, sky brightness with moonlight, five-sigma depth and photometric errors.

Vectorised over targets. Formulas and constants (physics.md):

* FWHM_eff: rubin_scheduler ``seeing_model.py``.
* Scattered moonlight: Krisciunas & Schaefer (1991, PASP 103, 1033; "K&S").
* m5: Ivezic et al. (2019, ApJ 873, 111), eq. 6, plus the cloud term ``2.5 log10(eta)``.
* Errors: Ivezic et al. (2019) eq. 5, ``sigma^2 = (0.04 - g) x + g x^2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from steer.errors import ConfigError

if TYPE_CHECKING:
    from steer.instruments.sim.presets import ObservatoryConfig

__all__ = [
    "EFFECTIVE_WAVELENGTH_NM",
    "MOON_COLOUR_MAG",
    "GAMMA_ERR",
    "band_values",
    "fwhm_eff_arcsec",
    "moonlight_nanolamberts",
    "nanolamberts_to_mag_arcsec2",
    "sky_brightness_mag_arcsec2",
    "m5_mag",
    "mag_error",
    "noisy_mag",
    "noisy_mag_scalar",
]

#: Effective wavelengths of the Rubin bands in nm (rubin_scheduler ``seeing_model.py``).
EFFECTIVE_WAVELENGTH_NM: dict[str, float] = {
    "u": 367.0, "g": 482.0, "r": 622.0, "i": 755.0, "z": 869.0, "y": 971.0,
}

#: Colour of scattered moonlight relative to V, ``m_band - V`` (AB). Moonlight is reflected
#: sunlight: these are the Sun's colours from its absolute AB magnitudes (Willmer 2018,
#: ApJS 236, 47: V 4.80, u 6.39, g 5.11, r 4.65, i 4.53, z 4.50; y taken equal to z).
#: The band's own extinction coefficient replaces K&S's V-band one, which carries most
#: of the wavelength dependence of the scattering. Approximate (no extra Rayleigh blueing).
MOON_COLOUR_MAG: dict[str, float] = {
    "u": 1.59, "g": 0.31, "r": -0.15, "i": -0.27, "z": -0.30, "y": -0.30,
}

#: Magnitudes per unit of natural-log flux, 2.5 / ln(10) = 1.0857 (sigma_m = 1.0857 / SNR).
MAG_PER_LN_FLUX = 2.5 / math.log(10.0)

#: Rubin's gamma of the photometric error model (Ivezic et al. 2019 Table 2: 0.038-0.039).
GAMMA_ERR = 0.039


def band_values(table: Mapping[str, float], band: ArrayLike | str) -> NDArray[np.float64]:
    """Look up a per-band constant for a band name or an array of band names.

    Args:
        table: Mapping band -> value.
        band: A band name or an array of band names.

    Returns:
        The value(s), shaped like ``band``.

    Raises:
        ConfigError: If a band is not in ``table``.
    """
    if isinstance(band, str):
        try:
            return np.asarray(float(table[band]))
        except KeyError:
            raise ConfigError(f"unknown band {band!r}", hint=f"valid: {sorted(table)}") from None
    bands = np.asarray(band)
    uniq, inverse = np.unique(bands, return_inverse=True)
    try:
        lookup = np.array([float(table[str(b)]) for b in uniq])
    except KeyError as err:
        raise ConfigError(f"unknown band {err.args[0]!r}", hint=f"valid: {sorted(table)}") from None
    return lookup[inverse].reshape(bands.shape)


def fwhm_eff_arcsec(
    zenith_fwhm_500nm_arcsec: ArrayLike,
    airmass: ArrayLike,
    band: ArrayLike | str,
    fwhm_sys_arcsec: float,
) -> NDArray[np.float64]:
    """Effective FWHM of the delivered PSF (for the m5 formula).

    ``FWHM_eff = 1.16 sqrt(FWHM_sys^2 + 1.04 FWHM_atm^2)`` with both terms scaled by
    ``X^0.6`` and the atmospheric one by ``(500 nm / lambda_eff)^0.3``
    (rubin_scheduler ``seeing_model.py``).

    Args:
        zenith_fwhm_500nm_arcsec: Atmospheric seeing FWHM at zenith and 500 nm, arcsec.
        airmass: Air mass(es).
        band: Band name(s), see :data:`EFFECTIVE_WAVELENGTH_NM`.
        fwhm_sys_arcsec: Zenith FWHM of the system (telescope, optics, camera), arcsec.

    Returns:
        FWHM_eff in arcsec, broadcast over the inputs.
    """
    lam = band_values(EFFECTIVE_WAVELENGTH_NM, band)
    x06 = np.power(np.asarray(airmass, dtype=float), 0.6)
    atm = np.asarray(zenith_fwhm_500nm_arcsec, dtype=float) * (500.0 / lam) ** 0.3 * x06
    sys = float(fwhm_sys_arcsec) * x06
    return 1.16 * np.sqrt(sys * sys + 1.04 * atm * atm)


def _ks_airmass(zenith_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """K&S eq. 3: ``X = (1 - 0.96 sin^2 Z)^-1/2`` (finite at the horizon)."""
    s = np.sin(np.radians(zenith_deg))
    return 1.0 / np.sqrt(1.0 - 0.96 * s * s)


def moonlight_nanolamberts(
    moon_alt_deg: ArrayLike,
    moon_phase_angle_deg: ArrayLike,
    moon_sep_deg: ArrayLike,
    target_alt_deg: ArrayLike,
    k_ext: ArrayLike,
) -> NDArray[np.float64]:
    """Scattered moonlight surface brightness, Krisciunas & Schaefer (1991).

    ``B = f(rho) I* 10^(-0.4 k X(Z_moon)) (1 - 10^(-0.4 k X(Z)))`` with
    ``I* = 10^(-0.4 (3.84 + 0.026|a| + 4e-9 a^4))`` (eq. 20) and
    ``f(rho) = 10^5.36 (1.06 + cos^2 rho) + 10^(6.15 - rho/40)`` (eq. 21).

    Args:
        moon_alt_deg: Moon altitude(s), degrees; no moonlight when <= 0.
        moon_phase_angle_deg: Lunar phase angle ``a``, degrees (0 full, 180 new).
        moon_sep_deg: Moon-target separation ``rho``, degrees.
        target_alt_deg: Target altitude(s), degrees.
        k_ext: Extinction coefficient(s), mag/airmass (K&S use V; pass the band's).

    Returns:
        Moonlight in nanolamberts (0 where the Moon is down).
    """
    moon_alt = np.asarray(moon_alt_deg, dtype=float)
    alpha = np.abs(np.asarray(moon_phase_angle_deg, dtype=float))
    rho = np.clip(np.asarray(moon_sep_deg, dtype=float), 0.0, 180.0)
    k = np.asarray(k_ext, dtype=float)
    i_star = 10.0 ** (-0.4 * (3.84 + 0.026 * alpha + 4e-9 * alpha**4))
    cos_rho = np.cos(np.radians(rho))
    f_rho = 10.0**5.36 * (1.06 + cos_rho * cos_rho) + 10.0 ** (6.15 - rho / 40.0)
    x_moon = _ks_airmass(90.0 - np.clip(moon_alt, 0.0, 90.0))
    x_target = _ks_airmass(90.0 - np.clip(np.asarray(target_alt_deg, dtype=float), 0.0, 90.0))
    b = f_rho * i_star * 10.0 ** (-0.4 * k * x_moon) * (1.0 - 10.0 ** (-0.4 * k * x_target))
    return np.where(moon_alt > 0.0, b, 0.0)


def nanolamberts_to_mag_arcsec2(b_nl: ArrayLike) -> NDArray[np.float64]:
    """Convert surface brightness in nanolamberts to V mag/arcsec^2 (K&S eq. 1 inverted)."""
    b = np.maximum(np.asarray(b_nl, dtype=float), 1e-30)
    return (20.7233 - np.log(b / 34.08)) / 0.92104


def _sky_mag(
    dark_mag: NDArray[np.float64],
    k: NDArray[np.float64],
    moon_colour: NDArray[np.float64],
    moon_alt_deg: ArrayLike,
    moon_phase_angle_deg: ArrayLike,
    moon_sep_deg: ArrayLike,
    target_alt_deg: ArrayLike,
) -> NDArray[np.float64]:
    """Sky brightness from per-target numeric constants (fast path for the observatory)."""
    b_nl = moonlight_nanolamberts(moon_alt_deg, moon_phase_angle_deg, moon_sep_deg,
                                  target_alt_deg, k)
    moon_mag = nanolamberts_to_mag_arcsec2(b_nl) + moon_colour
    moon_flux = np.where(b_nl > 0.0, 10.0 ** (-0.4 * moon_mag), 0.0)
    return -2.5 * np.log10(10.0 ** (-0.4 * dark_mag) + moon_flux)


def sky_brightness_mag_arcsec2(
    band: ArrayLike | str,
    config: ObservatoryConfig,
    moon_alt_deg: ArrayLike,
    moon_phase_angle_deg: ArrayLike,
    moon_sep_deg: ArrayLike,
    target_alt_deg: ArrayLike,
) -> NDArray[np.float64]:
    """Sky surface brightness at a target: dark sky plus scattered moonlight.

    The K&S moonlight (V band, nanolamberts) is computed with the band's extinction
    coefficient, converted to mag/arcsec^2, shifted by the solar colour of the band
    (:data:`MOON_COLOUR_MAG`) and added in flux to the band's dark zenith sky. The dark
    sky does not vary with airmass or twilight here.

    Args:
        band: Band name(s).
        config: Gives ``dark_sky_mag_arcsec2`` and ``k_ext``.
        moon_alt_deg: Moon altitude, degrees (no moonlight when <= 0).
        moon_phase_angle_deg: Lunar phase angle, degrees (0 full, 180 new).
        moon_sep_deg: Moon-target separation(s), degrees.
        target_alt_deg: Target altitude(s), degrees.

    Returns:
        Sky brightness in AB mag/arcsec^2 (smaller is brighter).
    """
    return _sky_mag(
        band_values(config.dark_sky_mag_arcsec2, band),
        band_values(config.k_ext, band),
        band_values(MOON_COLOUR_MAG, band),
        moon_alt_deg, moon_phase_angle_deg, moon_sep_deg, target_alt_deg,
    )


def _m5(
    c_m: ArrayLike, k: ArrayLike, sky_mag_arcsec2: ArrayLike, fwhm_eff_arcsec: ArrayLike,
    exptime_s: ArrayLike, airmass: ArrayLike, transparency: ArrayLike,
) -> NDArray[np.float64]:
    """m5 from numeric constants (fast path)."""
    return (
        np.asarray(c_m, dtype=float)
        + 0.5 * (np.asarray(sky_mag_arcsec2, dtype=float) - 21.0)
        + 2.5 * np.log10(0.7 / np.asarray(fwhm_eff_arcsec, dtype=float))
        + 1.25 * np.log10(np.asarray(exptime_s, dtype=float) / 30.0)
        - np.asarray(k, dtype=float) * (np.asarray(airmass, dtype=float) - 1.0)
        + 2.5 * np.log10(np.asarray(transparency, dtype=float))
    )


def m5_mag(
    band: ArrayLike | str,
    config: ObservatoryConfig,
    sky_mag_arcsec2: ArrayLike,
    fwhm_eff_arcsec: ArrayLike,
    exptime_s: ArrayLike,
    airmass: ArrayLike,
    transparency: ArrayLike,
) -> NDArray[np.float64]:
    """Five-sigma point-source depth (physics.md, Ivezic et al. 2019 eq. 6).

    ``m5 = C_m + 0.5 (m_sky - 21) + 2.5 log10(0.7/FWHM_eff) + 1.25 log10(t/30)
    - k (X - 1) + 2.5 log10(eta)``

    Args:
        band: Band name(s).
        config: Gives ``c_m`` and ``k_ext``.
        sky_mag_arcsec2: Sky brightness, mag/arcsec^2.
        fwhm_eff_arcsec: Effective FWHM, arcsec.
        exptime_s: Exposure time(s), seconds.
        airmass: Air mass(es).
        transparency: Cloud transmission ``eta`` in (0, 1].

    Returns:
        m5 in AB magnitudes.
    """
    return _m5(band_values(config.c_m, band), band_values(config.k_ext, band),
               sky_mag_arcsec2, fwhm_eff_arcsec, exptime_s, airmass, transparency)


def mag_error(mag: ArrayLike, m5_mag: ArrayLike, gamma: float = GAMMA_ERR) -> NDArray[np.float64]:
    """Random photometric error (Ivezic et al. 2019 eq. 5).

    ``sigma^2 = (0.04 - gamma) x + gamma x^2`` with ``x = 10^(0.4 (m - m5))``;
    0.2 mag at ``m = m5`` (SNR 5).

    Args:
        mag: Source magnitude(s).
        m5_mag: Five-sigma depth(s).
        gamma: Band parameter (0.038-0.039 for Rubin).

    Returns:
        One-sigma error in magnitudes.
    """
    x = 10.0 ** (0.4 * (np.asarray(mag, dtype=float) - np.asarray(m5_mag, dtype=float)))
    return np.sqrt((0.04 - gamma) * x + gamma * x * x)


def noisy_mag(
    rng: np.random.Generator, true_mag: ArrayLike, error_mag: ArrayLike
) -> NDArray[np.float64]:
    """Draw measured magnitudes: the flux is normal around the true flux (physics.md).

    ``f_obs = f_true (1 + e sigma_m / 1.0857)``, ``e ~ N(0, 1)``, i.e. the flux error is
    ``f_true / SNR`` with ``SNR = 1.0857 / sigma_m``. For small errors the magnitude
    residual is normal with standard deviation ``sigma_m``.

    Args:
        rng: The measurement-noise generator.
        true_mag: True magnitude(s).
        error_mag: One-sigma error(s) in magnitudes.

    Returns:
        Measured magnitude(s); NaN where the drawn flux is not positive (no detection).
    """
    true = np.asarray(true_mag, dtype=float)
    sig = np.asarray(error_mag, dtype=float)
    e = rng.standard_normal(np.broadcast_shapes(true.shape, sig.shape))
    ratio = 1.0 + e * sig / MAG_PER_LN_FLUX
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ratio > 0.0, true - 2.5 * np.log10(np.maximum(ratio, 1e-300)), np.nan)


def noisy_mag_scalar(rng: np.random.Generator, true_mag: float, error_mag: float) -> float:
    """Scalar :func:`noisy_mag` (same draw from ``rng``, without numpy call overheads)."""
    ratio = 1.0 + rng.standard_normal() * error_mag / MAG_PER_LN_FLUX
    return true_mag - 2.5 * math.log10(ratio) if ratio > 0.0 else float("nan")
