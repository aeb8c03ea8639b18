"""SimulatedObservatory: protocol, safety checks, time accounting, noise, consistency."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from steer.errors import UnsafeActionError
from steer.instruments.sim import (
    Almanac,
    Catalog,
    SimulatedObservatory,
    airmass,
    altaz_deg,
    angular_sep_deg,
    fwhm_eff_arcsec,
    get_preset,
    m5_mag,
    mag_error,
    sky_brightness_mag_arcsec2,
    with_overrides,
)
from steer.instruments.telescope import Action
from steer.protocols import Instrument

SMALL = get_preset("small-robotic")
DATE = "2026-12-20"  # waxing gibbous Moon up in the evening


@pytest.fixture(scope="module")
def almanac() -> Almanac:
    return Almanac.for_night(DATE, SMALL.site_lat_deg, SMALL.site_lon_deg, SMALL.site_height_m)


@pytest.fixture(scope="module")
def catalog(almanac: Almanac) -> Catalog:
    return Catalog.synthetic(400, np.random.default_rng(2), almanac, SMALL.site_lat_deg)


def _obs(almanac: Almanac, catalog: Catalog, seed: int = 1, cloudiness: float = 0.1,
         config=SMALL) -> SimulatedObservatory:
    return SimulatedObservatory(config, catalog, DATE, seed=seed, cloudiness=cloudiness,
                                almanac=almanac)


def _state(obs: SimulatedObservatory) -> tuple:
    return (obs.mjd, obs.alt_deg, obs.az_deg, obs.filter_band, obs.n_exposures,
            str(obs._noise_rng.bit_generator.state))


def _greedy(obs: SimulatedObservatory, n: int) -> list:
    out = []
    for _ in range(n):
        ok = np.flatnonzero(obs.feasible_mask())
        if ok.size == 0:
            obs.wait(300.0)
            continue
        i = int(ok[np.argmin(obs.overhead_s()[ok])])
        out.append(obs.execute(Action(target_index=i, exptime_s=30.0)))
    return out


def test_satisfies_instrument_protocol_and_starts_parked(almanac, catalog) -> None:
    obs = _obs(almanac, catalog)
    assert isinstance(obs, Instrument)
    assert obs.mjd == obs.night_start_mjd == almanac.night_start_mjd
    assert (obs.alt_deg, obs.az_deg, obs.filter_band) == (80.0, 180.0, "r")
    assert not obs.night_over
    d = obs.describe()
    assert d["preset"] == "small-robotic" and d["limits"]["alt_min_deg"] == 20.0
    assert d["site"]["lat_deg"] == SMALL.site_lat_deg and d["n_targets"] == 400
    json.dumps(d)
    (m,) = _greedy(obs, 1)
    json.dumps(m.to_dict())
    obs.close()


def test_weather_truth_history_do_not_depend_on_the_policy(almanac, catalog) -> None:
    a, b = _obs(almanac, catalog, seed=5), _obs(almanac, catalog, seed=5)
    _greedy(a, 15)
    b.wait(3600.0)
    _greedy(b, 3)
    t = np.linspace(a.night_start_mjd, a.night_end_mjd, 40)
    assert np.array_equal(a.weather.zenith_seeing_arcsec(t), b.weather.zenith_seeing_arcsec(t))
    assert np.array_equal(a.weather.cloud_fraction(t), b.weather.cloud_fraction(t))
    assert np.array_equal(a.truth.mag(np.arange(400), t[5]), b.truth.mag(np.arange(400), t[5]))
    assert np.array_equal(a.history["mag"], b.history["mag"])
    c = _obs(almanac, catalog, seed=6)
    assert not np.array_equal(a.weather.grid_zenith_seeing_arcsec,
                              c.weather.grid_zenith_seeing_arcsec)
    assert not np.array_equal(a.truth.kind, c.truth.kind)


def test_check_refuses_below_altitude_limit_and_changes_nothing(almanac, catalog) -> None:
    obs = _obs(almanac, catalog)
    alt, _ = obs.targets_altaz()
    i = int(np.flatnonzero(alt < SMALL.alt_min_deg)[0])
    before = _state(obs)
    action = Action(target_index=i, exptime_s=30.0, target_id=str(catalog.target_id[i]))
    with pytest.raises(UnsafeActionError) as info:
        obs.check(action)
    text = str(info.value)
    assert catalog.target_id[i] in text and f"{alt[i]:.2f}" in text and "20.0" in text
    assert "below the altitude limit" in text
    with pytest.raises(UnsafeActionError):
        obs.execute(action)
    assert _state(obs) == before
    assert not obs.feasible_mask()[i]


def test_check_refuses_bad_requests(almanac, catalog) -> None:
    obs = _obs(almanac, catalog)
    i = int(np.flatnonzero(obs.feasible_mask())[0])
    obs.check(Action(i, 30.0))  # fine
    for action, needle in [
        (Action(400, 30.0), "out of range"),
        (Action(-1, 30.0), "out of range"),
        (Action(i, 0.0), "exptime_s=0.0"),
        (Action(i, 601.0), "exptime_s=601.0"),
        (Action(i, float("nan")), "exptime_s=nan"),
        (Action(i, 30.0, target_id="nope"), "does not match"),
    ]:
        with pytest.raises(UnsafeActionError, match=needle):
            obs.check(action)
    obs.mjd = obs.night_end_mjd
    assert obs.night_over and not obs.feasible_mask().any()
    with pytest.raises(UnsafeActionError, match="night is over"):
        obs.check(Action(i, 30.0))


def test_check_refuses_airmass_zenith_and_moon(almanac) -> None:
    from steer.instruments.sim import radec_from_altaz_deg

    t0 = almanac.night_start_mjd
    lst = float(almanac.lst_deg(t0))
    moon_alt, moon_az = almanac.moon_altaz_deg(t0)
    assert moon_alt > 25.0  # the Moon is up at dusk on this date
    # A target 5 deg above the Moon (true-of-date coordinates; J2000 differs by < 0.4 deg).
    near_ra, near_dec = radec_from_altaz_deg(moon_alt + 5.0, moon_az, lst, SMALL.site_lat_deg)
    cat = Catalog(
        target_id=["zenith", "low", "moon"],
        ra_deg=[lst % 360.0, (lst + 60.0) % 360.0, float(near_ra)],
        dec_deg=[SMALL.site_lat_deg, SMALL.site_lat_deg, float(near_dec)],
        mag=[17.0, 17.0, 17.0], band=["r", "r", "r"], priority=[1.0, 1.0, 1.0])
    obs = SimulatedObservatory(with_overrides(SMALL, airmass_max=1.5), cat, DATE, seed=0,
                               cloudiness=0.0, almanac=almanac)
    alt, _ = obs.targets_altaz()
    assert alt[0] > 86.5 and 20.0 < alt[1] < 40.0
    with pytest.raises(UnsafeActionError, match="above the altitude limit 86.5"):
        obs.check(Action(0, 30.0))
    with pytest.raises(UnsafeActionError, match="above the airmass limit 1.5"):
        obs.check(Action(1, 30.0))
    obs = SimulatedObservatory(SMALL, cat, DATE, seed=0, cloudiness=0.0, almanac=almanac)
    assert obs.moon_sep_deg()[2] < 6.0 and obs.airmass()[2] < 2.0
    with pytest.raises(UnsafeActionError, match="from the Moon, closer than the limit 30.0"):
        obs.check(Action(2, 30.0))
    assert not obs.feasible_mask()[[0, 2]].any()


def test_dome_closed_refuses_and_wait_advances(almanac, catalog) -> None:
    obs = _obs(almanac, catalog, cloudiness=1.0)
    t = np.linspace(obs.night_start_mjd, obs.night_end_mjd, 300)
    closed = t[obs.weather.cloud_fraction(t) > SMALL.dome_close_cloud_fraction]
    assert closed.size
    obs.mjd = float(closed[0])
    assert not obs.feasible_mask().any()
    with pytest.raises(UnsafeActionError, match="dome is closed"):
        obs.check(Action(0, 30.0))
    before = obs.mjd
    assert obs.wait(600.0) == pytest.approx(before + 600.0 / 86400.0)
    with pytest.raises(UnsafeActionError):
        obs.wait(0.0)


def test_execute_advances_time_by_the_sum_of_overheads(almanac, catalog) -> None:
    obs = _obs(almanac, catalog)
    for meas in range(6):
        ok = np.flatnonzero(obs.feasible_mask())
        i = int(ok[(7 * meas) % ok.size])
        t0, band_before = obs.mjd, obs.filter_band
        predicted = obs.overhead_s(i)
        m = obs.execute(Action(i, 20.0))
        assert set(m.overheads_s) == {"slew", "settle", "filter", "exposure", "readout"}
        assert (obs.mjd - t0) * 86400.0 == pytest.approx(sum(m.overheads_s.values()), abs=1e-4)
        assert m.elapsed_s == pytest.approx(sum(m.overheads_s.values()))
        assert m.overheads_s["slew"] + m.overheads_s["settle"] + m.overheads_s["filter"] == \
            pytest.approx(predicted)
        assert m.overheads_s["readout"] == SMALL.readout_s + SMALL.shutter_s
        changed = catalog.band[i] != band_before
        assert m.overheads_s["filter"] == (SMALL.filter_change_s if changed else 0.0)
        assert obs.filter_band == catalog.band[i]
        assert t0 < m.mjd_mid < obs.mjd
    # Re-observing the same target right away: tiny slew, no filter change.
    again = obs.execute(Action(i, 20.0))
    assert again.overheads_s["filter"] == 0.0 and again.overheads_s["slew"] < 2.0


def test_conditions_and_m5_agree_with_the_public_physics(almanac, catalog) -> None:
    obs = _obs(almanac, catalog)
    moon_alt = almanac.moon_altaz_deg(obs.mjd)[0]
    assert moon_alt > 0.0  # exercise the moonlit branch
    for t in (obs.mjd, obs.night_end_mjd - 0.01):
        alt, az = obs.targets_altaz(t)
        ra, dec = almanac.to_date_coords(catalog.ra_deg, catalog.dec_deg)
        alt2, az2 = altaz_deg(ra, dec, almanac.lst_deg(t), SMALL.site_lat_deg)
        assert np.allclose(alt, alt2, atol=1e-9)
        assert np.allclose(obs.airmass(t), airmass(alt2), rtol=1e-12)
        malt, maz = almanac.moon_altaz_deg(t)
        sep = angular_sep_deg(az2, alt2, maz, malt)
        assert np.allclose(obs.moon_sep_deg(t), sep, atol=1e-6)
        up = alt2 > 5.0
        x = airmass(alt2[up])
        sky = sky_brightness_mag_arcsec2(catalog.band[up], SMALL, malt,
                                         almanac.moon_phase_angle_deg(t), sep[up], alt2[up])
        fwhm = fwhm_eff_arcsec(0.9, x, catalog.band[up], SMALL.fwhm_sys_arcsec)
        ref = m5_mag(catalog.band[up], SMALL, sky, fwhm, 45.0, x, 0.8)
        assert np.allclose(obs.predicted_m5(45.0, 0.9, 0.8, mjd=t)[up], ref, atol=1e-4)
    meas = _greedy(obs, 5)
    for m in meas:
        c = m.conditions
        assert {"seeing_fwhm_arcsec", "zenith_seeing_arcsec", "transparency", "airmass",
                "alt_deg", "az_deg", "moon_sep_deg", "sky_mag_arcsec2", "m5_mag",
                "band"} <= set(c)
        fwhm = fwhm_eff_arcsec(c["zenith_seeing_arcsec"], c["airmass"], c["band"],
                               SMALL.fwhm_sys_arcsec)
        assert c["seeing_fwhm_arcsec"] == pytest.approx(float(fwhm), rel=1e-9)
        ref = m5_mag(c["band"], SMALL, c["sky_mag_arcsec2"], fwhm, 30.0, c["airmass"],
                     c["transparency"])
        assert c["m5_mag"] == pytest.approx(float(ref), abs=1e-9)
        assert 0.0 < c["transparency"] <= 1.0


def test_measurement_noise_matches_mag_error(almanac, catalog) -> None:
    obs = _obs(almanac, catalog, seed=3, cloudiness=0.0)
    pulls, n_exec = [], 0
    while len(pulls) < 300 and not obs.night_over:
        ok = np.flatnonzero(obs.feasible_mask() & (catalog.mag < 18.5) & (catalog.band == "r"))
        i = int(ok[n_exec % ok.size])
        n_exec += 1
        m = obs.execute(Action(i, 20.0))
        if m.saturated:
            assert np.isnan(m.value_mag)
            continue
        true = float(obs.truth.mag(i, m.mjd_mid))
        assert m.error_mag == pytest.approx(float(mag_error(true, m.conditions["m5_mag"])))
        if not np.isfinite(m.value_mag):  # drawn flux <= 0: only at low SNR (faint transient)
            assert m.error_mag > 0.25
        elif m.error_mag < 0.1:  # flux-normal noise is mag-normal when the error is small
            pulls.append((m.value_mag - true) / m.error_mag)
    pulls = np.asarray(pulls)
    assert pulls.size >= 300
    assert abs(pulls.mean()) < 0.2
    assert np.std(pulls) == pytest.approx(1.0, abs=0.12)


def test_bright_target_saturates(almanac) -> None:
    lst = float(almanac.lst_deg(almanac.night_start_mjd))
    cat = Catalog(target_id=["bright"], ra_deg=[(lst + 20.0) % 360.0], dec_deg=[-20.0],
                  mag=[8.0], band=["r"], priority=[1.0])
    obs = SimulatedObservatory(SMALL, cat, DATE, seed=0, cloudiness=0.0, almanac=almanac)
    m = obs.execute(Action(0, 30.0))
    assert m.saturated and np.isnan(m.value_mag) and np.isnan(m.error_mag)


def test_feasible_mask_agrees_with_check(almanac, catalog) -> None:
    obs = _obs(almanac, catalog)
    _greedy(obs, 3)
    ok = obs.feasible_mask()
    assert ok.any() and (~ok).any()
    for i in range(len(catalog)):
        if ok[i]:
            obs.check(Action(i, 30.0))
        else:
            with pytest.raises(UnsafeActionError):
                obs.check(Action(i, 30.0))


def test_step_cost_is_small() -> None:
    """1,000 targets: feasible_mask + overhead_s + predicted_m5 + execute per visit."""
    cfg = get_preset("rubin-like")
    alm = Almanac.for_night("2026-12-01", cfg.site_lat_deg, cfg.site_lon_deg, cfg.site_height_m)
    cat = Catalog.synthetic(1000, np.random.default_rng(0), alm, cfg.site_lat_deg)
    obs = SimulatedObservatory(cfg, cat, "2026-12-01", seed=0, almanac=alm)
    t0 = time.perf_counter()
    n = 0
    while n < 200:
        ok = obs.feasible_mask()
        score = np.where(ok, obs.predicted_m5(30.0, 0.8, 1.0) - obs.overhead_s() / 30.0, -np.inf)
        obs.execute(Action(int(np.argmax(score)), 30.0))
        n += 1
    per_visit_s = (time.perf_counter() - t0) / n
    assert per_visit_s < 2e-3  # measured ~0.4 ms; generous for a shared machine
