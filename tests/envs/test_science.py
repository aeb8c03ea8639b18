"""The truth-based science metrics recover what dense, clean data determine."""

from types import SimpleNamespace

import numpy as np

from steer.envs.science import _fit_peak_mjd, _fit_period_d, science_metrics


def _bazin_mag(t, t0, tr, tf):
    f = 10 * np.exp(-(t - t0) / tf) / (1 + np.exp(-(t - t0) / tr)) + 0.2
    return 20 - 2.5 * np.log10(f)


def test_bazin_peak_recovered_within_a_day_from_good_coverage():
    rng = np.random.default_rng(3)
    errors = []
    for _ in range(10):
        t0, tr, tf = rng.uniform(-5, 5), rng.uniform(1, 4), rng.uniform(10, 30)
        t = np.sort(rng.uniform(-20, 30, 25))
        m = _bazin_mag(t, t0, tr, tf) + rng.normal(0, 0.02, t.size)
        peak = t0 + tr * np.log(tf / tr - 1)
        errors.append(abs(_fit_peak_mjd(t, m, np.full(t.size, 0.02)) - peak))
    assert np.median(errors) < 0.5
    assert np.mean(np.array(errors) < 1.0) >= 0.8


def test_period_recovered_within_one_percent():
    rng = np.random.default_rng(4)
    p = 0.5371
    t = np.sort(np.concatenate([rng.uniform(-30, 0, 15), rng.uniform(0, 0.4, 15)]))
    m = 17 + 0.4 * np.sin(2 * np.pi * t / p) + rng.normal(0, 0.02, t.size)
    assert abs(_fit_period_d(t, m, np.full(t.size, 0.02)) - p) / p < 0.01


def test_more_data_means_lower_reconstruction_error_and_more_characterised():
    grid = np.linspace(0.0, 0.4, 30)
    period = np.array([0.5, 0.3])

    def mag(idx, mjd):
        idx, mjd = np.broadcast_arrays(np.asarray(idx), np.asarray(mjd, float))
        return 17 + 0.5 * np.sin(2 * np.pi * mjd / period[idx])

    truth = SimpleNamespace(kind=np.array([1, 1]), mag=mag, period_d=period,
                            peak_mjd=np.full(2, np.nan))
    catalog = SimpleNamespace(mag=np.array([17.0, 17.0]), priority=np.array([5.0, 5.0]))
    rng = np.random.default_rng(0)

    def data(n_tonight):
        t = np.concatenate([rng.uniform(-30, -1, 12), np.linspace(0, 0.4, n_tonight)])
        idx = np.repeat([0, 1], t.size)
        tt = np.concatenate([t, t])
        return idx, tt, mag(idx, tt) + rng.normal(0, 0.01, tt.size), np.full(tt.size, 0.01)

    sparse = science_metrics(truth, catalog, *data(2), grid)
    dense = science_metrics(truth, catalog, *data(20), grid)
    assert dense["lc_rmse_mag"] < sparse["lc_rmse_mag"]
    assert dense["lc_rmse_mag"] < 0.05
    assert dense["frac_characterised"] == 1.0


def test_characterised_tonight_counts_only_what_the_history_alone_did_not_characterise():
    grid = np.linspace(0.0, 0.4, 30)
    period = np.array([0.5, 0.3, 0.4])

    def mag(idx, mjd):
        idx, mjd = np.broadcast_arrays(np.asarray(idx), np.asarray(mjd, float))
        return 17 + 0.5 * np.sin(2 * np.pi * mjd / period[idx])

    truth = SimpleNamespace(kind=np.array([1, 1, 1]), mag=mag, period_d=period,
                            peak_mjd=np.full(3, np.nan))
    catalog = SimpleNamespace(mag=np.full(3, 17.0), priority=np.array([5.0, 5.0, 1.0]))
    rng = np.random.default_rng(1)
    # target 0: characterised by its history already; 1: only 2 old points, 20 tonight;
    # 2: as 1 but not a priority target
    t_old0, t_new = rng.uniform(-30, -1, 30), np.linspace(0, 0.4, 20)
    parts = [(0, t_old0, False), (0, t_new, True), (1, rng.uniform(-30, -1, 2), False),
             (1, t_new, True), (2, rng.uniform(-30, -1, 2), False), (2, t_new, True)]
    idx = np.concatenate([np.full(t.size, i) for i, t, _ in parts])
    t = np.concatenate([t for _, t, _ in parts])
    tonight = np.concatenate([np.full(t_.size, new) for _, t_, new in parts])
    m = mag(idx, t) + rng.normal(0, 0.01, t.size)
    out = science_metrics(truth, catalog, idx, t, m, np.full(t.size, 0.01), grid,
                          tonight=tonight, hours=4.0)
    assert out["frac_characterised"] == 1.0  # both priority targets, with tonight's data
    assert out["characterised_tonight"] == 1.0  # target 1 only: 0 was already, 2 is no priority
    assert out["characterised_tonight_per_h"] == 0.25
    masks: dict = {}
    again = science_metrics(truth, catalog, idx, t, m, np.full(t.size, 0.01), grid,
                            tonight=tonight, hours=4.0, masks=masks)
    assert again == out  # asking for the per-target masks changes no metric
    assert masks["characterised"].tolist() == [True, True, False]  # 2 is not judged: no priority
    assert masks["new"].tolist() == [False, True, False]
    none_new = science_metrics(truth, catalog, idx, t, m, np.full(t.size, 0.01), grid,
                               tonight=np.zeros(t.size, bool))
    assert none_new["characterised_tonight"] == 0.0  # nothing of it was tonight's
