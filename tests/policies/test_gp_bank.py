"""The cached light-curve GP bank: the posterior of some targets is those rows of all of them."""

import torch

from steer.policies.gp_bank import TimeSeriesGPBank


def _bank():
    b = TimeSeriesGPBank(10, torch.linspace(0.0, 0.2, 12), 0.25, [0.03, 0.1], 40)
    for i, t, y in ((3, 0.01, 0.1), (3, 0.05, -0.1), (7, 0.02, 0.3)):
        b.add(i, t, y, 0.01)
    b.refactor_all()
    return b


def test_posterior_of_some_targets_equals_their_rows_of_all():
    b = _bank()
    t_star = 0.05 + 0.01 * torch.arange(30, dtype=torch.float64).reshape(10, 3)
    full = b.posterior(t_star)
    rows = torch.tensor([3, 5, 7])
    part = b.posterior(t_star[rows], rows)
    assert all(torch.equal(f[:, rows], p) for f, p in zip(full, part, strict=True))
    assert full[1][0, 3, 0] < full[1][0, 5, 0]  # the observed target is better known


def test_posterior_of_no_target_has_empty_shapes():
    """A night with nothing feasible (dome closed) asks for none."""
    out = _bank().posterior(torch.zeros((0, 3), dtype=torch.float64),
                            torch.zeros(0, dtype=torch.long))
    assert [tuple(o.shape) for o in out] == [(2, 0, 12, 3), (2, 0, 3), (2, 0, 3)]


def _bma_variance(bins: int) -> float:
    """Model-averaged variance, at a time between its two visits, of a star whose two agree."""
    amps = torch.tensor([1e-4 * 10 ** (k / 6) for k in range(25)], dtype=torch.float64)
    prior = torch.distributions.Gamma(torch.tensor(2.0, dtype=torch.float64),
                                      torch.tensor(20.0, dtype=torch.float64)).log_prob(amps)
    b = TimeSeriesGPBank(30, torch.linspace(0.0, 0.2, 12), 0.25, [0.03, 0.25, 1.0], 40,
                         amplitude_bins=bins)
    rng = torch.Generator().manual_seed(0)
    for i in range(1, 30):  # a population of variables sets the empirical-Bayes prior
        for t in (0.0, 0.05, 0.1, 0.15):
            b.add(i, t, float(0.3 * torch.randn(1, generator=rng, dtype=torch.float64)), 1e-4)
    b.add(0, 0.0, 0.001, 1e-4)
    b.add(0, 2.0, -0.001, 1e-4)  # two days apart, equal within their errors
    b.fit_time_scales(amps, prior)
    b.refactor_all()
    _, var, mean = b.posterior(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([0]))
    w = b.weights[0][:, None, None]
    m = (w * mean).sum(0)
    return float(((w * (var + mean**2)).sum(0) - m**2).squeeze())


def test_integrating_the_amplitude_keeps_a_star_with_two_agreeing_visits_uncertain():
    """The most probable amplitude calls it constant; the amplitude's posterior does not."""
    map_var, marginal_var = _bma_variance(1), _bma_variance(3)
    assert marginal_var > 3 * map_var


def _model_posterior(b, i, j, t_star):
    """The bank's model written out: target i's data padded to cap with pad observations."""
    import numpy as np

    obs = b.obs[i][-b.max_obs:]
    k_pad = b._cap - len(obs)
    x = np.array([o[0] for o in obs] + [b.pad_t] * k_pad)
    y = np.array([o[1] for o in obs] + [0.0] * k_pad)
    v = np.array([o[2] for o in obs] + [b.pad_var] * k_pad)
    s, ell = float(b.outputscale[j * b.n + i]), float(b.ell[j * b.n + i])

    def k(p, q):
        return b.c + s * np.exp(-0.5 * (p[:, None] - q[None, :]) ** 2 / ell**2)

    kxx = k(x, x) + np.diag(v)
    ts, grid = np.asarray(t_star, float), b.grid.numpy()
    ks = k(x, ts)
    cov = k(grid, ts) - k(grid, x) @ np.linalg.solve(kxx, ks)
    var = b.c + s - np.sum(ks * np.linalg.solve(kxx, ks), 0)
    return cov, var, ks.T @ np.linalg.solve(kxx, y)


def test_factors_sized_per_target_keep_the_padded_model_through_bucket_moves():
    """Targets sit in buckets by their own count (not the most observed one's), the one
    padding slot stands exactly for the model's cap - n padding observations, and a target
    that outgrows its bucket moves without changing anyone's posterior."""
    import numpy as np

    rng = np.random.default_rng(3)
    b = TimeSeriesGPBank(6, torch.linspace(0.0, 0.2, 12), 0.25, [0.03, 0.3], 40)
    b.outputscale = torch.tensor(rng.uniform(0.01, 0.3, 12), dtype=torch.float64)
    for i, n in enumerate((0, 1, 3, 4, 7, 12)):
        for t in np.sort(rng.uniform(-3, 0.1, n)):
            b.add(i, float(t), float(rng.normal(0, 0.2)), float(rng.uniform(1e-4, 4e-3)))
    b.refactor_all()
    assert b._cap == 20
    assert b._factors.size_of.tolist() == [4, 4, 4, 8, 8, 16]
    uniform = 2 * 6 * (20 * 20 + 20 * 12 + 2 * 20) * 8  # every target padded to cap
    assert b.cached_bytes() < 0.6 * uniform
    t_star = torch.tensor(rng.uniform(0.0, 0.2, (6, 3)), dtype=torch.float64)

    def check():
        cov, var, mean = b.posterior(t_star)
        for j in range(2):
            for i in range(6):
                ref = _model_posterior(b, i, j, t_star[i].numpy())
                for got, want in zip((cov[j, i], var[j, i], mean[j, i]), ref, strict=True):
                    assert np.allclose(got.numpy(), want, rtol=1e-8, atol=1e-10)

    check()
    for i, t in ((2, 0.12), (2, 0.13), (0, 0.14), (3, 0.15)):  # 3 -> 5 moves 4 -> 8, ...
        b.add(i, t, 0.05, 1e-3)
        b.refactor(i)
    assert b._factors.size_of.tolist() == [4, 4, 8, 8, 8, 16]
    check()
    some = torch.tensor([5, 2, 0])
    part = b.posterior(t_star[some], some)
    assert all(torch.allclose(p, f[:, some]) for p, f in zip(part, b.posterior(t_star),
                                                              strict=True))


def test_time_scale_fit_on_targets_grouped_by_count_is_the_padded_models():
    """Each target fitted at its own width (one padding slot of variance pad_var / m for
    the model's m pads) scores time scales and amplitudes as the fully padded model does."""
    amps = torch.tensor([1e-4 * 10 ** (k / 6) for k in range(25)], dtype=torch.float64)
    prior = torch.distributions.Gamma(torch.tensor(2.0, dtype=torch.float64),
                                      torch.tensor(20.0, dtype=torch.float64)).log_prob(amps)
    fits = []
    for grouped in (False, True):
        rng = torch.Generator().manual_seed(3)  # the same data for both
        b = TimeSeriesGPBank(40, torch.linspace(0.0, 0.2, 12), 0.25, [0.03, 0.25, 1.0], 40,
                             amplitude_bins=2)
        for i in range(40):  # 0 to 13 observations, a slow or a fast light curve
            n = int(torch.randint(0, 14, (1,), generator=rng))
            t = torch.sort(torch.rand(n, generator=rng, dtype=torch.float64) * 3.0).values
            y = 0.3 * torch.sin(t / (0.05 if i % 2 else 1.5))
            for tk, yk in zip(t.tolist(), y.tolist(), strict=True):
                b.add(i, tk, yk + 0.01 * float(torch.randn(1, generator=rng)), 1e-4)
        if not grouped:  # the padded model itself: every target n_max wide, one batch
            b._fit_batches = lambda chunk, b=b: iter([(torch.arange(b.n), *b.tensors())])
        b.fit_time_scales(amps, prior, chunk=4)
        fits.append(b)
    padded, grouped = fits
    assert len({padded.count(i) for i in range(40)}) > 8  # many widths were fitted
    torch.testing.assert_close(grouped.weights, padded.weights, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grouped.outputscale, padded.outputscale, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(grouped.ell_prior, padded.ell_prior, rtol=1e-9, atol=1e-12)
    fast = grouped.scale_weights(1)
    assert fast[0] > 0.5  # the fast light curve prefers the shortest time scale
