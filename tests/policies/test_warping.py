"""Output warping (Yeo-Johnson): invertible, monotone, its slope right, lambda by likelihood."""

import numpy as np
import pytest

from steer.policies.warping import YeoJohnsonWarp


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_inverse_undoes_forward_and_the_map_is_monotone(lam):
    warp = YeoJohnsonWarp(mean=-3.0, std=2.0, lam=lam)
    y = np.linspace(-40.0, 30.0, 301)
    w = warp.forward(y)
    assert np.all(np.diff(w) > 0)
    assert np.allclose(warp.inverse(w), y, rtol=1e-9, atol=1e-9)
    h = 1e-6
    slope = (warp.forward(y + h) - warp.forward(y - h)) / (2 * h)
    assert np.allclose(warp.derivative(y), slope, rtol=1e-5)


def test_lambda_one_is_the_standardisation():
    warp = YeoJohnsonWarp(mean=1.0, std=4.0, lam=1.0)
    y = np.array([-7.0, 1.0, 9.0])
    assert np.allclose(warp.forward(y), (y - 1.0) / 4.0)


def test_fit_compresses_a_long_tail_of_bad_rewards():
    rng = np.random.default_rng(0)
    rewards = -np.exp(rng.normal(0.0, 1.5, 40))  # -f of a positive, long-tailed response
    warp = YeoJohnsonWarp.fit(rewards)
    assert 1.0 < warp.lam <= 2.0  # lambda > 1 compresses the low tail
    skew = lambda v: np.mean(((v - v.mean()) / v.std()) ** 3)  # noqa: E731
    assert abs(skew(warp.forward(rewards))) < abs(skew(rewards))
    assert YeoJohnsonWarp.fit(np.ones(5)).lam == 1.0  # no spread: the identity
