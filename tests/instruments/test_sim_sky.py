"""Sky: FWHM_eff, moonlit sky, the m5 table and the photometric error model."""

from __future__ import annotations

import numpy as np
import pytest

from steer.errors import ConfigError
from steer.instruments.sim import (
    BANDS,
    fwhm_eff_arcsec,
    get_preset,
    m5_mag,
    mag_error,
    moonlight_nanolamberts,
    noisy_mag,
    sky_brightness_mag_arcsec2,
    with_overrides,
)

RUBIN = get_preset("rubin-like")
BAND_ARRAY = np.array(BANDS)
#: physics.md: "Zenith 30 s m5 is about 23.8 / 24.8 / 24.4 / 23.9 / 23.3 / 22.5" (u..y).
M5_TABLE = np.array([23.8, 24.8, 24.4, 23.9, 23.3, 22.5])


def _dark(config):
    return np.array([config.dark_sky_mag_arcsec2[b] for b in BANDS])


def test_m5_formula_reproduces_the_table_with_its_own_parameters() -> None:
    """Which inputs reproduce physics.md's m5 table?

    The table is Table 2 of Ivezic et al. (2019, ApJ 873, 111), computed with that
    table's own C_m (23.09 24.42 24.44 24.32 24.16 23.73), sky (22.99 22.26 21.20 20.48
    19.60 18.61) and theta_eff (0.92 0.87 0.83 0.80 0.78 0.76"). With those, our
    ``m5_mag`` gives 23.79 24.81 24.35 23.92 23.34 22.45: the paper's values to 0.015 mag.
    Neither FWHM_eff = 0.7" nor FWHM_eff from 0.7" atmospheric seeing reproduces it with
    physics.md's C_m (rubin_scheduler sys_eng_vals, throughputs v1.9): see the next test.
    """
    paper = with_overrides(
        RUBIN,
        c_m=dict(zip(BANDS, [23.09, 24.42, 24.44, 24.32, 24.16, 23.73], strict=True)),
        k_ext=dict(zip(BANDS, [0.491, 0.213, 0.126, 0.096, 0.069, 0.170], strict=True)),
        dark_sky_mag_arcsec2=dict(zip(BANDS, [22.99, 22.26, 21.20, 20.48, 19.60, 18.61],
                                      strict=True)),
    )
    theta_eff = np.array([0.92, 0.87, 0.83, 0.80, 0.78, 0.76])
    m5 = m5_mag(BAND_ARRAY, paper, _dark(paper), theta_eff, 30.0, 1.0, 1.0)
    # The paper's two-decimal table to 0.015 mag; physics.md rounds it to 0.1 mag (22.45
    # -> 22.5), hence 0.05 + 0.005 against physics.md's values.
    assert np.max(np.abs(m5 - [23.78, 24.81, 24.35, 23.92, 23.34, 22.45])) < 0.015
    assert np.max(np.abs(m5 - M5_TABLE)) < 0.055


def test_m5_rubin_like_preset_at_zenith_dark_30s() -> None:
    """The rubin-like preset (v1.9 C_m) with FWHM_eff of a 0.7" atmosphere.

    FWHM_eff = 1.02 0.96 0.90 0.87 0.84 0.82" gives m5 = 23.59 24.87 24.42 24.04 23.48
    22.47: within 0.05 of the table in r and y only; u is 0.21 shallower, i and z 0.14
    and 0.18 deeper, because the preset's C_m are the newer throughputs while the table
    is the 2019 paper's (with FWHM_eff = 0.7 it is worse: 24.00 25.21 24.70 24.27 23.68
    22.64). Asserted: the computed values, and the table to 0.25 mag.
    """
    fwhm = fwhm_eff_arcsec(0.7, 1.0, BAND_ARRAY, RUBIN.fwhm_sys_arcsec)
    assert np.allclose(fwhm, [1.020, 0.957, 0.904, 0.866, 0.841, 0.822], atol=2e-3)
    m5 = m5_mag(BAND_ARRAY, RUBIN, _dark(RUBIN), fwhm, 30.0, 1.0, 1.0)
    assert np.allclose(m5, [23.586, 24.865, 24.423, 24.038, 23.476, 22.466], atol=2e-3)
    assert np.max(np.abs(m5 - M5_TABLE)) < 0.25
    m5_07 = m5_mag(BAND_ARRAY, RUBIN, _dark(RUBIN), 0.7, 30.0, 1.0, 1.0)
    assert np.max(np.abs(m5_07 - M5_TABLE)) > np.max(np.abs(m5 - M5_TABLE))


def test_m5_scalings() -> None:
    base = m5_mag("r", RUBIN, 21.2, 0.9, 30.0, 1.0, 1.0)
    assert m5_mag("r", RUBIN, 21.2, 0.9, 120.0, 1.0, 1.0) - base == pytest.approx(1.25 * np.log10(4))
    assert m5_mag("r", RUBIN, 21.2, 0.9, 30.0, 1.5, 1.0) - base == pytest.approx(-0.126 * 0.5)
    assert m5_mag("r", RUBIN, 21.2, 0.9, 30.0, 1.0, 0.5) - base == pytest.approx(2.5 * np.log10(0.5))
    assert m5_mag("r", RUBIN, 20.2, 0.9, 30.0, 1.0, 1.0) - base == pytest.approx(-0.5)


def test_fwhm_eff_scalings() -> None:
    f1 = fwhm_eff_arcsec(0.8, 1.0, "r", 0.4)
    f2 = fwhm_eff_arcsec(0.8, 2.0, "r", 0.4)
    assert f2 / f1 == pytest.approx(2.0**0.6)  # both terms scale as X^0.6
    assert fwhm_eff_arcsec(0.8, 1.0, "u", 0.4) > fwhm_eff_arcsec(0.8, 1.0, "y", 0.4)
    assert fwhm_eff_arcsec(0.0, 1.0, "r", 0.4) == pytest.approx(1.16 * 0.4)
    with pytest.raises(ConfigError, match="'w'"):
        fwhm_eff_arcsec(0.8, 1.0, "w", 0.4)


def test_moonlight_brighter_near_moon_and_at_full_moon_and_zero_when_down() -> None:
    def sky(moon_alt: float, phase: float, sep: float) -> float:
        return float(sky_brightness_mag_arcsec2("g", RUBIN, moon_alt, phase, sep, 60.0))

    dark = RUBIN.dark_sky_mag_arcsec2["g"]
    assert sky(-5.0, 0.0, 40.0) == pytest.approx(dark, abs=1e-9)  # Moon down: no moonlight
    assert sky(40.0, 0.0, 20.0) < sky(40.0, 0.0, 60.0) < sky(40.0, 0.0, 120.0) < dark
    assert sky(40.0, 0.0, 60.0) < sky(40.0, 90.0, 60.0) < sky(40.0, 150.0, 60.0) < dark
    # Full Moon 60 deg away brightens the g sky by 2-5 mag (K&S fig. 3 / V ~ 18-19.5).
    assert 2.0 < dark - sky(40.0, 0.0, 60.0) < 5.0
    # Red bands (bright airglow) brighten less than blue ones.
    du = RUBIN.dark_sky_mag_arcsec2["u"] - sky_brightness_mag_arcsec2("u", RUBIN, 40, 0, 60, 60)
    dy = RUBIN.dark_sky_mag_arcsec2["y"] - sky_brightness_mag_arcsec2("y", RUBIN, 40, 0, 60, 60)
    assert du > dy > 0.0


def test_krisciunas_schaefer_reference_value() -> None:
    """K&S (1991) model, V band k = 0.172, full Moon at Z = 45, target at Z = 30, rho = 60.

    Hand computation of eqs. 3, 20, 21: f = 3.448e5, I* = 0.0291, B = 1339 nL.
    """
    b = moonlight_nanolamberts(45.0, 0.0, 60.0, 60.0, 0.172)
    assert float(b) == pytest.approx(1339.0, rel=0.01)
    assert float(moonlight_nanolamberts(-1.0, 0.0, 60.0, 60.0, 0.172)) == 0.0


def test_mag_error_rubin_model() -> None:
    assert mag_error(24.0, 24.0) == pytest.approx(0.2)  # sigma^2 = 0.04 at m = m5 (SNR 5)
    x = 10 ** (0.4 * (20.0 - 24.0))
    assert mag_error(20.0, 24.0) == pytest.approx(np.sqrt(0.001 * x + 0.039 * x * x))
    # Faint limit: sigma -> sqrt(gamma) x (2.5 mag below m5: x = 10, sigma ~ 1.98 mag).
    assert mag_error(26.5, 24.0) == pytest.approx(np.sqrt(0.001 * 10 + 0.039 * 100))
    errs = mag_error(np.array([16.0, 18.0, 20.0, 22.0]), 23.0)
    assert np.all(np.diff(errs) > 0)


def test_noisy_mag_pull_distribution() -> None:
    rng = np.random.default_rng(7)
    true = np.full(20000, 18.0)
    err = np.full(20000, 0.03)
    pulls = (noisy_mag(rng, true, err) - true) / err
    assert abs(np.mean(pulls)) < 0.03
    assert np.std(pulls) == pytest.approx(1.0, abs=0.03)
    faint = noisy_mag(rng, np.full(2000, 25.0), np.full(2000, 1.0))
    assert np.isnan(faint).any()  # non-positive flux: no detection
