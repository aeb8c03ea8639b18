"""Weather: seeded determinism, seeing statistics, patchy clouds, dome, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from steer.errors import ConfigError
from steer.instruments.sim import Weather, ar1_series

START, END = 61375.02, 61375.36  # ~8 h


def _weather(seed: int, cloudiness: float = 0.3) -> Weather:
    return Weather(START, END, np.random.default_rng(seed), cloudiness)


def test_same_seed_same_weather_different_seed_different() -> None:
    a, b, c = _weather(1), _weather(1), _weather(2)
    t = np.linspace(START, END, 50)
    alt, az = np.full(50, 50.0), np.linspace(0.0, 360.0, 50)
    assert np.array_equal(a.zenith_seeing_arcsec(t), b.zenith_seeing_arcsec(t))
    assert np.array_equal(a.transparency(alt, az, START + 0.1), b.transparency(alt, az, START + 0.1))
    assert np.array_equal(a.cloud_fraction(t), b.cloud_fraction(t))
    assert not np.allclose(a.zenith_seeing_arcsec(t), c.zenith_seeing_arcsec(t))


def test_ar1_series_autocorrelation() -> None:
    phi = np.exp(-1.0 / 30.0)
    x = ar1_series(np.random.default_rng(0), 200_000, phi)
    assert np.std(x) == pytest.approx(1.0, abs=0.05)
    acf30 = np.corrcoef(x[:-30], x[30:])[0, 1]
    assert acf30 == pytest.approx(np.exp(-1.0), abs=0.05)


def test_seeing_median_and_correlation_time() -> None:
    """Median ~0.8"; correlated over ~30 min: lag-30-min autocorrelation ~ 1/e."""
    lag_acf, lag_far, medians = [], [], []
    for seed in range(30):
        w = _weather(seed, 0.0)
        ln_s = np.log(w.grid_zenith_seeing_arcsec)
        ln_s = ln_s - ln_s.mean()
        medians.append(np.median(w.grid_zenith_seeing_arcsec))
        lag_acf.append(np.mean(ln_s[:-30] * ln_s[30:]) / np.var(ln_s))
        lag_far.append(np.mean(ln_s[:-240] * ln_s[240:]) / np.var(ln_s))
    assert np.median(medians) == pytest.approx(0.8, rel=0.15)
    assert 0.2 < np.mean(lag_acf) < 0.5  # e^-1 = 0.37, biased low by the finite night
    assert np.mean(lag_far) < 0.15  # 4 h apart: nearly independent
    assert np.all(w.grid_zenith_seeing_arcsec > 0.0)


def test_patchy_clouds_differ_across_the_sky_and_drift() -> None:
    w = _weather(3, 0.4)
    rng = np.random.default_rng(0)
    alt, az = rng.uniform(20.0, 90.0, 2000), rng.uniform(0.0, 360.0, 2000)
    t = START + 0.15
    eta = w.transparency(alt, az, t)
    assert np.all((eta > 0.0) & (eta <= 1.0))
    assert eta.max() - eta.min() > 0.2  # some directions clear, some cloudy
    later = w.transparency(alt, az, t + 1.0 / 24.0)
    assert np.max(np.abs(later - eta)) > 0.1  # clouds move within an hour
    assert w.transparency_one(float(alt[5]), float(az[5]), t) == pytest.approx(eta[5], rel=1e-12)


def test_clear_night_is_photometric_and_overcast_closes_the_dome() -> None:
    t = np.linspace(START, END, 200)
    clear = _weather(4, 0.0)
    assert np.all(clear.cloud_fraction(t) == 0.0)
    assert all(clear.dome_open(x) for x in t[::20])
    assert np.all(clear.transparency(np.full(10, 45.0), np.arange(10) * 36.0, START + 0.1) > 0.97)
    overcast = _weather(4, 1.0)
    assert np.mean(overcast.cloud_fraction(t) > 0.3) > 0.8


def test_dome_closes_exactly_when_cloud_fraction_exceeds_threshold() -> None:
    w = _weather(5, 0.5)
    t = np.linspace(START, END, 400)
    frac = w.cloud_fraction(t)
    is_open = np.array([w.dome_open(x) for x in t])
    assert np.array_equal(is_open, frac <= 0.3)
    assert is_open.any() and (~is_open).any()  # this seed has both


def test_cloudiness_out_of_range_raises() -> None:
    with pytest.raises(ConfigError, match="cloudiness"):
        _weather(0, 1.5)


def test_transparency_costs_well_under_a_millisecond_for_1000_targets() -> None:
    w = _weather(6, 1.0)  # the most blobs
    rng = np.random.default_rng(1)
    alt, az = rng.uniform(20.0, 90.0, 1000), rng.uniform(0.0, 360.0, 1000)
    best = np.inf
    for k in range(30):
        t0 = time.perf_counter()
        w.transparency(alt, az, START + 0.1 + k * 1e-3)
        best = min(best, time.perf_counter() - t0)
    assert best < 1e-3


def test_ar1_series_is_scipy_lfilter_op_for_op() -> None:
    """The plain recursion replaced ``scipy.signal.lfilter`` (1 s of imports): same bits."""
    import numpy as np
    from scipy.signal import lfilter

    from steer.instruments.sim.weather import ar1_series

    for seed, n, phi in ((0, 700, 0.97), (1, 5000, 0.5), (2, 1, 0.9)):
        ours = ar1_series(np.random.default_rng(seed), n, phi)
        rng = np.random.default_rng(seed)
        x0, e = rng.standard_normal(), rng.standard_normal(n)
        ref, _ = lfilter([np.sqrt(1.0 - phi * phi)], [1.0, -phi], e, zi=[phi * x0])
        assert np.array_equal(ours, ref)


def test_cloud_fraction_grid_is_the_cloudy_share_of_the_sky_points() -> None:
    """The 2-min grid (built in place, blob by blob) counts what extinction_mag says."""
    from steer.instruments.sim.weather import (
        _CLOUD_DM_MAG,
        _CLOUD_GRID_ALT_MIN_DEG,
        _fibonacci_sky_points,
    )

    alt, az = _fibonacci_sky_points(600, _CLOUD_GRID_ALT_MIN_DEG)
    for seed, c in ((3, 0.3), (4, 0.7)):
        w = _weather(seed, c)
        for j in np.linspace(0, w.cloud_grid_mjd.size - 1, 25).astype(int):
            dm = w.extinction_mag(alt, az, float(w.cloud_grid_mjd[j]))
            assert abs(np.mean(dm > _CLOUD_DM_MAG) - w.grid_cloud_fraction[j]) <= 1.0 / alt.size
        assert 0.0 < np.mean(w.grid_cloud_fraction) < 1.0
