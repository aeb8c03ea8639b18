"""The reference model's incremental updates agree with factorising from scratch."""

from __future__ import annotations

import numpy as np

from steer.envs.reference import ReferenceModel


def _model(rng: np.random.Generator, n: int) -> ReferenceModel:
    grid = np.linspace(60000.0, 60000.4, 48)
    return ReferenceModel(rng.uniform(0.0, 0.5, n), rng.uniform(0.01, 2.0, n), grid)


def test_rank_one_updates_match_a_full_factorisation() -> None:
    rng = np.random.default_rng(3)
    m = _model(rng, 40)
    hist_e = rng.uniform(0.002, 0.2, 200)
    hist_e[::17] = np.nan  # lost measurements teach nothing
    hist_e[::23] = 0.0
    m.add_many(rng.integers(0, 40, 200), rng.uniform(59970.0, 60000.0, 200), hist_e)
    for i in range(40):
        if m.observations(i)[0].size:
            assert np.isclose(m.ipv[i], m.ipv_with(i, *map(list, m.observations(i))),
                              rtol=1e-12, atol=0.0)
    worst = 0.0
    for _ in range(1500):
        i = int(rng.integers(40))
        before = m.ipv[i]
        gain = m.add(i, float(rng.uniform(60000.0, 60000.4)),
                     float(rng.choice([0.001, 0.01, 0.1, 0.5])))
        t, r = m.observations(i)
        ref = m.ipv_with(i, list(t), list(r))
        worst = max(worst, abs(ref - m.ipv[i]) / ref)
        assert gain == max(before - m.ipv[i], 0.0) and gain >= 0.0
    assert worst < 1e-7  # up to ~100 observations of 1 mmag: cond(K) ~ 1e8
    assert m.add(0, 60000.1, float("nan")) == 0.0


def test_add_many_keeps_the_order_and_squares_like_add() -> None:
    rng = np.random.default_rng(5)
    a = _model(rng, 10)
    b = ReferenceModel(np.sqrt(a.s2), a.ell, a.grid)
    idx = rng.integers(0, 10, 60)
    t = rng.uniform(59990.0, 60000.0, 60)
    e = rng.uniform(0.005, 0.2, 60)
    a.add_many(idx, t, e)
    for i, tt, ee in zip(idx, t, e, strict=True):
        b._t[int(i)].append(float(tt))
        b._r[int(i)].append(float(ee) ** 2)
    for i in range(10):
        assert list(a.observations(i)[0]) == b._t[i]
        assert list(a.observations(i)[1]) == b._r[i]
