"""Presets: lookup, overrides, validation and the documented constants."""

from __future__ import annotations

import math

import pytest

from steer.errors import ConfigError
from steer.instruments.sim import BANDS, PRESETS, ObservatoryConfig, get_preset, with_overrides


def test_get_preset_returns_both_presets_and_default_is_small_robotic() -> None:
    assert set(PRESETS) == {"rubin-like", "small-robotic"}
    assert get_preset().name == "small-robotic"
    assert get_preset("rubin-like").filter_change_s == 120.0


def test_get_preset_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        get_preset("hubble")
    text = str(info.value)
    assert "'hubble'" in text and "rubin-like" in text and "small-robotic" in text


def test_with_overrides_copies_and_rejects_unknown_fields() -> None:
    base = get_preset("rubin-like")
    new = with_overrides(base, airmass_max=1.6, readout_s=8.0)
    assert (new.airmass_max, new.readout_s) == (1.6, 8.0)
    assert base.airmass_max == 2.0  # original untouched
    with pytest.raises(ConfigError, match="airmass_limit"):
        with_overrides(base, airmass_limit=1.6)


def test_with_overrides_validates_values() -> None:
    with pytest.raises(ConfigError, match="alt_min_deg"):
        with_overrides(get_preset(), alt_min_deg=90.0)
    with pytest.raises(ConfigError, match="c_m lacks bands"):
        with_overrides(get_preset(), c_m={"r": 24.0})


def test_rubin_constants_match_physics_md() -> None:
    c = get_preset("rubin-like")
    assert (c.readout_s, c.shutter_s, c.settle_s) == (2.0, 1.0, 3.0)
    assert (c.slew_az_deg_per_s, c.slew_alt_deg_per_s) == (7.0, 3.5)
    assert (c.slew_az_acc_deg_per_s2, c.slew_alt_acc_deg_per_s2) == (7.0, 3.5)
    assert c.dome_az_deg_per_s == 1.5 and c.fwhm_sys_arcsec == 0.40
    assert [c.c_m[b] for b in BANDS] == [22.97, 24.58, 24.60, 24.54, 24.37, 23.84]
    assert [c.k_ext[b] for b in BANDS] == [0.470, 0.213, 0.126, 0.096, 0.068, 0.171]
    assert [c.dark_sky_mag_arcsec2[b] for b in BANDS] == [23.05, 22.25, 21.20, 20.46, 19.61,
                                                         18.60]
    assert (c.alt_min_deg, c.alt_max_deg, c.airmass_max) == (20.0, 86.5, 2.0)


def test_small_robotic_zero_points_scaled_by_collecting_area() -> None:
    rubin, small = get_preset("rubin-like"), get_preset("small-robotic")
    expected = 1.25 * math.log10((1.0 / 6.423) ** 2)
    assert expected == pytest.approx(-2.02, abs=0.005)
    for b in BANDS:
        assert small.c_m[b] - rubin.c_m[b] == pytest.approx(expected, abs=1e-3)
    assert small.slew_az_deg_per_s == small.slew_alt_deg_per_s == 2.0
    assert 10.0 <= small.readout_s <= 27.0  # physics.md range for 1-m robotic telescopes


def test_config_is_frozen() -> None:
    c = get_preset()
    with pytest.raises(AttributeError):
        c.readout_s = 1.0  # type: ignore[misc]
    assert isinstance(c, ObservatoryConfig)
