"""What one more frame tells about when a transient peaks (``bo``'s ``transient_peaks``)."""

from __future__ import annotations

import numpy as np

from steer.policies.period_value import PeriodPosterior

_TAU_RISE_D, _TAU_FALL_D, _HOST_DM = 2.5, 25.0, 3.0


def _outburst(times_d: np.ndarray, peak_d: float) -> np.ndarray:
    """Magnitude offsets of a Bazin outburst peaking at ``peak_d`` over a host 3 mag fainter
    (the simulator's transients; rise and fall times off the hypotheses' grid)."""
    t0 = peak_d - _TAU_RISE_D * np.log(_TAU_FALL_D / _TAU_RISE_D - 1.0)

    def shape(t: np.ndarray | float) -> np.ndarray:
        return np.exp(-(t - t0) / _TAU_FALL_D) / (1.0 + np.exp(-(t - t0) / _TAU_RISE_D))

    host = 10 ** (-0.4 * _HOST_DM)
    return -2.5 * np.log10(host + (1.0 - host) * shape(times_d) / shape(peak_d))


def _posterior() -> PeriodPosterior:
    """Four targets: an outburst seen rising (peak 2 days after tonight), one seen over and
    after its peak (8 days ago), a constant star, a periodic one (0.43 d)."""
    rng = np.random.default_rng(3)
    post = PeriodPosterior(4, 40.0, transient_span_d=(-30.0, 0.3))
    rising = np.array([-6.1, -4.0, -2.9, -1.1, -0.05])
    past = np.array([-12.0, -10.0, -9.1, -8.0, -7.0, -5.0, -3.0, -1.0])
    spread = np.array([-20.0, -15.0, -11.0, -10.0, -7.0, -5.0, -2.0, -1.0])
    x = 2 * np.pi * spread / 0.43
    curves = [(rising, _outburst(rising, 2.0)), (past, _outburst(past, -8.0)),
              (spread, np.zeros(len(spread))), (spread, -0.3 * (np.sin(x) + 0.5 * np.sin(2 * x)))]
    for i, (t, y) in enumerate(curves):
        for ti, yi in zip(t, y + rng.normal(0.0, 0.02, len(t)), strict=True):
            post.add(i, float(ti), float(yi), 0.02**2)
    return post


def _peak_d(post: PeriodPosterior, i: int) -> float:
    o = {key: arr[i] for key, arr in post.outburst.items()}
    k = int(np.argmax(post.w[i, post.m + 1:]))
    return float(o["t0"][k] + o["tr"][k] * np.log(o["tf"][k] / o["tr"][k] - 1.0))


def test_the_data_say_what_kind_a_target_is_and_when_an_outburst_peaks():
    post = _posterior()
    info = post.information(np.arange(4), np.full((4, 2), 0.1), np.full((4, 2), 0.02**2))
    kinds = [post.summary(i, 0.0)["variability"] for i in range(4)]
    assert kinds[0]["transient"] > 0.9 and kinds[1]["transient"] > 0.9
    assert kinds[2]["constant"] > 0.9 and kinds[3]["periodic"] > 0.99
    assert abs(_peak_d(post, 1) - -8.0) < 2.0  # the shapes' grid is coarse: near, not exact
    assert 0.0 < _peak_d(post, 0) < 4.0  # not yet seen: after the last point, near the truth
    # a frame of the rising one tells when it turns over; of the constant one, next to nothing
    assert info[0, 0] > 0.1 and info[2, 0] < 0.01
    assert post.summary(0, 60000.0)["peak_mjd"] > 60000.0


def test_without_transients_it_is_version_8s_posterior():
    """No outburst hypotheses: a constant or periodic star only, as before (the rising
    outburst is then called periodic or constant, and its weights sum to one)."""
    rng = np.random.default_rng(3)
    post = PeriodPosterior(1, 40.0)
    t = np.array([-6.1, -4.0, -2.9, -1.1, -0.05])
    for ti, yi in zip(t, _outburst(t, 2.0) + rng.normal(0.0, 0.02, len(t)), strict=True):
        post.add(0, float(ti), float(yi), 0.02**2)
    post.information(np.arange(1), np.full((1, 1), 0.1), np.full((1, 1), 4e-4))
    assert post.w.shape == (1, post.m + 1) and abs(post.w[0].sum() - 1.0) < 1e-9
    assert set(post.summary(0, 0.0)["variability"]) == {"constant", "periodic"}


def test_a_bad_option_is_refused_in_one_line():
    import pytest

    from steer.errors import ConfigError
    from steer.policies import make_policy

    for key in ("transient_peaks", "refine_periods"):
        with pytest.raises(ConfigError, match=f"{key} = 'yes' is not true or false"):
            make_policy("bo", **{key: "yes"})
    assert make_policy("bo", refine_periods=True).version == "8+refine"
    assert make_policy("bo", transient_peaks=True, refine_periods=True).version == "8+refine+peaks"
