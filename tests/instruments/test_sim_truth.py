"""Hidden truth: determinism, light-curve shapes, summary statistics, prior history."""

from __future__ import annotations

import numpy as np
import pytest

from steer.instruments.sim import (
    KIND_CONSTANT,
    KIND_PERIODIC,
    KIND_TRANSIENT,
    Catalog,
    SkyTruth,
    mag_error,
)

MID = 61375.2


def _catalog(n: int = 600, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    return Catalog(target_id=[f"T{i:04d}" for i in range(n)], ra_deg=rng.uniform(0, 360, n),
                   dec_deg=rng.uniform(-60, 20, n), mag=rng.uniform(15, 21, n),
                   band=rng.choice(list("gri"), n), priority=np.ones(n))


@pytest.fixture(scope="module")
def truth() -> SkyTruth:
    return SkyTruth.draw(_catalog(), np.random.default_rng(11), MID)


def test_same_seed_same_truth_different_seed_different(truth: SkyTruth) -> None:
    again = SkyTruth.draw(_catalog(), np.random.default_rng(11), MID)
    other = SkyTruth.draw(_catalog(), np.random.default_rng(12), MID)
    assert np.array_equal(truth.kind, again.kind)
    assert np.array_equal(truth.mag(np.arange(600), MID), again.mag(np.arange(600), MID))
    assert not np.array_equal(truth.kind, other.kind)


def test_kind_fractions_and_nan_where_not_applicable(truth: SkyTruth) -> None:
    frac = np.bincount(truth.kind, minlength=3) / len(truth)
    assert frac == pytest.approx([0.5, 0.3, 0.2], abs=0.06)
    per, tra = truth.kind == KIND_PERIODIC, truth.kind == KIND_TRANSIENT
    assert np.all(np.isfinite(truth.period_d[per])) and np.all(np.isnan(truth.period_d[~per]))
    assert np.all(np.isfinite(truth.peak_mjd[tra])) and np.all(np.isnan(truth.peak_mjd[~tra]))
    assert np.all((truth.period_d[per] >= 0.2) & (truth.period_d[per] <= 1.0))
    assert np.all(np.abs(truth.t0_mjd[tra] - MID) <= 15.0)


def test_mag_broadcasts(truth: SkyTruth) -> None:
    grid = truth.mag(np.arange(5)[:, None], MID + np.linspace(0, 1, 7)[None, :])
    assert grid.shape == (5, 7)
    assert truth.mag(3, MID).shape == ()
    assert truth.mag(np.array([1, 2]), MID).shape == (2,)


def test_constants_are_constant(truth: SkyTruth) -> None:
    i = np.flatnonzero(truth.kind == KIND_CONSTANT)[:20]
    m = truth.mag(i[:, None], MID + np.linspace(-3, 3, 50)[None, :])
    assert np.all(m == truth.ref_mag[i][:, None])
    assert np.allclose(truth.variability_std_mag[i], 0.005)
    assert np.all(truth.timescale_d[i] == 1.0)


def test_periodic_period_recovered_by_lomb_scargle_and_shape(truth: SkyTruth) -> None:
    from astropy.timeseries import LombScargle

    for i in np.flatnonzero(truth.kind == KIND_PERIODIC)[:5]:
        period = truth.period_d[i]
        t = MID + np.arange(0.0, 6.0, 5.0 / 1440.0)
        m = truth.mag(i, t)
        freq, power = LombScargle(t, m).autopower(minimum_frequency=0.5,
                                                  maximum_frequency=6.0,
                                                  samples_per_peak=20)
        assert 1.0 / freq[np.argmax(power)] == pytest.approx(period, rel=0.01)
        # Mean magnitude = catalog magnitude; peak-to-peak = amplitude.
        one = truth.mag(i, MID + np.linspace(0.0, period, 2001)[:-1])
        assert one.mean() == pytest.approx(truth.ref_mag[i], abs=1e-6)
        assert one.max() - one.min() == pytest.approx(truth.amplitude_mag[i], rel=1e-3)
        # RR Lyrae-like asymmetry: brightening (mag decreasing) takes < 1/2 of the cycle.
        assert np.mean(np.diff(one) < 0) < 0.45
        assert truth.timescale_d[i] == pytest.approx(period / 4.0)


def test_transient_peaks_at_peak_mjd_with_catalog_magnitude(truth: SkyTruth) -> None:
    for i in np.flatnonzero(truth.kind == KIND_TRANSIENT)[:5]:
        t = truth.t0_mjd[i] + np.arange(-30.0, 60.0, 0.01)
        m = truth.mag(i, t)
        assert np.all(np.isfinite(m))
        assert t[np.argmin(m)] == pytest.approx(truth.peak_mjd[i], abs=0.02)
        assert m.min() == pytest.approx(truth.ref_mag[i], abs=1e-4)
        # Peak lies after t0 by tau_rise * ln(tau_fall/tau_rise - 1) (days, "t0-ish").
        assert 0.0 <= truth.peak_mjd[i] - truth.t0_mjd[i] < 5.0 * np.log(39.0)
        # Long before t0 only the host remains.
        early = truth.mag(i, truth.t0_mjd[i] - 200.0)
        assert early == pytest.approx(truth.host_mag[i], abs=1e-3)
        # Rises faster than it fades.
        assert m[np.argmin(m) - 100] > m[np.argmin(m) + 100]


def test_variability_std_is_numerical_std_over_the_night(truth: SkyTruth) -> None:
    grid = MID + np.arange(-1.25, 1.25 + 1e-9, 10.0 / 1440.0)
    for i in np.flatnonzero(truth.kind != KIND_CONSTANT)[:10]:
        std = truth.mag(i, grid).std()
        assert truth.variability_std_mag[i] == pytest.approx(np.hypot(std, 0.005), rel=1e-9)
    assert np.all(truth.variability_std_mag[truth.kind == KIND_PERIODIC] > 0.05)


def test_history_is_sparse_prior_photometry(truth: SkyTruth) -> None:
    start = MID - 0.2
    hist = truth.history(np.random.default_rng(5), start, m5_typical_mag=21.5, n_nights=30,
                         visits_per_target_mean=4.0)
    again = truth.history(np.random.default_rng(5), start, m5_typical_mag=21.5)
    assert np.array_equal(hist["mag"], again["mag"])
    n = hist["mjd"].size
    assert n == pytest.approx(4.0 * len(truth), rel=0.15)
    assert np.all(np.diff(hist["mjd"]) >= 0.0)
    assert hist["mjd"].min() >= start - 30.0 and hist["mjd"].max() < start
    frac_day = (hist["mjd"] - start) % 1.0
    assert np.all(frac_day <= 0.33)  # within the first 8 h after the night's start
    true = truth.mag(hist["target_index"], hist["mjd"])
    err = hist["error_mag"]
    # Depth 21.5 +- 0.3 mag per visit: errors lie between those of m5 = 20.0 and 23.0.
    assert np.all((err >= mag_error(true, 23.0)) & (err <= mag_error(true, 20.0)))
    bright = err < 0.05
    pulls = (hist["mag"][bright] - true[bright]) / err[bright]
    assert np.std(pulls) == pytest.approx(1.0, abs=0.1)
