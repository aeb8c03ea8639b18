"""The cached, incrementally updated posteriors agree with BoTorch's exact one."""

import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement, UpperConfidenceBound
from botorch.models import SingleTaskGP
from gpytorch.kernels import RBFKernel, ScaleKernel

from steer.policies.engine import CachedExactGP, CandidatePosteriorModel, NystromGP, RBFHyper

torch.set_num_threads(1)


def _data(n=60, n_cand=500, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.sin(6 * x[:, 0]) + torch.cos(4 * x[:, 1]) + 0.05 * torch.randn(n, generator=g,
                                                                              dtype=torch.float64)
    xc = torch.rand(n_cand, d, generator=g, dtype=torch.float64)
    return x, y, xc


def _botorch(x, y, hyper):
    covar = ScaleKernel(RBFKernel(ard_num_dims=x.shape[1]))
    model = SingleTaskGP(x, y.unsqueeze(-1), covar_module=covar, outcome_transform=None)
    covar.base_kernel.lengthscale = hyper.lengthscale
    covar.outputscale = hyper.outputscale
    model.likelihood.noise = hyper.noise
    model.mean_module.constant.data.fill_(hyper.mean)
    return model.to(torch.float64).eval()


@pytest.mark.parametrize("cache_bytes", [0.0, 2e9])
def test_incremental_exact_gp_matches_botorch_posterior(cache_bytes):
    x, y, xc = _data()
    hyper = RBFHyper(torch.tensor([0.2, 0.3]), 1.3, 0.01, mean=0.1)
    gp = CachedExactGP(xc, hyper, chunk=128, cache_bytes=cache_bytes)
    gp.x, gp.y = x[:20], y[:20]
    gp.rebuild()  # batch start, then one observation at a time
    for i in range(20, len(x)):
        gp.add(x[i], float(y[i]))
    with torch.no_grad():
        post = _botorch(x, y, hyper).posterior(xc)
    mean, var = gp.mean_var()
    assert torch.allclose(mean, post.mean[:, 0], rtol=2e-4, atol=1e-7)
    assert torch.allclose(var, post.variance[:, 0], rtol=2e-4, atol=1e-7)
    m2, v2 = mean.clone(), var.clone()
    gp.rebuild()
    assert torch.allclose(gp.mean, m2, atol=1e-8) and torch.allclose(gp.var, v2, atol=1e-8)


def test_observing_a_candidate_uses_the_cached_factor_and_agrees():
    x, y, xc = _data(n=40, n_cand=300)
    hyper = RBFHyper(torch.tensor([0.2, 0.3]), 1.3, 0.01)
    a, b = CachedExactGP(xc, hyper), CachedExactGP(xc, hyper)
    for i in range(len(x)):
        a.add(x[i], float(y[i]))
        b.add(x[i], float(y[i]))
    for j in (5, 17, 5, 250):  # catalog targets observed (one twice)
        a.add(xc[j], 0.3 * j / 250, index=j)
        b.add(xc[j], 0.3 * j / 250)
    assert torch.allclose(a.mean, b.mean, atol=1e-8)
    assert torch.allclose(a.var, b.var, atol=1e-8)


def test_nystrom_gp_is_close_to_exact_with_enough_inducing_points():
    x, y, xc = _data(n=300)
    hyper = RBFHyper(torch.tensor([0.2, 0.3]), 1.3, 0.01)
    g = torch.Generator().manual_seed(5)
    z = torch.rand(150, 2, generator=g, dtype=torch.float64)
    approx, exact = NystromGP(xc, z, hyper, chunk=100), CachedExactGP(xc, hyper)
    for i in range(len(x)):
        approx.add(x[i], float(y[i]))
        exact.add(x[i], float(y[i]))
    batch = NystromGP(xc, z, hyper)
    batch.fit_batch(x, y)
    assert torch.allclose(batch.mean, approx.mean, rtol=2e-4, atol=1e-7)
    assert torch.allclose(batch.var, approx.var, rtol=2e-4, atol=1e-7)
    err = (approx.mean - exact.mean).abs()
    assert float(err.median()) < 0.02
    assert float((approx.var.sqrt() - exact.var.sqrt()).abs().median()) < 0.05


def test_botorch_acquisitions_score_cached_candidates():
    x, y, xc = _data(n=30, n_cand=200)
    hyper = RBFHyper(torch.tensor([0.2, 0.3]), 1.3, 0.01)
    gp = CachedExactGP(xc, hyper)
    for i in range(len(x)):
        gp.add(x[i], float(y[i]))
    model = CandidatePosteriorModel(gp)
    idx = torch.arange(len(xc), dtype=torch.float64).reshape(-1, 1, 1)
    ucb = UpperConfidenceBound(model, beta=4.0)(idx)
    mean, var = gp.mean_var()
    assert torch.allclose(ucb, mean + 2.0 * var.sqrt())
    lei = LogExpectedImprovement(model, best_f=float(y.max()))(idx)
    assert lei.shape == (len(xc),) and torch.isfinite(lei).all()
    assert int(lei.argmax()) in set(torch.topk(ucb, 40).indices.tolist())


def test_time_series_bank_matches_the_exact_gp_per_component():
    """Each (time scale, target) component equals a plain GP on that target's own data,
    whatever the padding, after batch factoring and after a one-target refactor."""
    import numpy as np

    from steer.policies.gp_bank import TimeSeriesGPBank

    rng = np.random.default_rng(5)
    grid = torch.linspace(0.0, 0.4, 12, dtype=torch.float64)
    bank = TimeSeriesGPBank(3, grid, 0.25, [0.05, 1.0], max_obs=40)
    for i, n_obs in enumerate((1, 6, 11)):
        for t in np.sort(rng.uniform(-5, 0.3, n_obs)):
            bank.add(i, float(t), float(rng.normal(0, 0.2)), float(rng.uniform(1e-4, 4e-3)))
    bank.outputscale = torch.tensor([0.01, 0.2, 0.05, 0.3, 0.02, 0.1], dtype=torch.float64)
    bank.refactor_all()
    bank.add(0, 0.31, 0.1, 1e-3)
    bank.refactor(0)
    t_star = torch.tensor([[0.32, 0.35], [0.2, 0.25], [0.1, 0.39]], dtype=torch.float64)
    cov, var, mean = bank.posterior(t_star)
    for j, ell in enumerate((0.05, 1.0)):
        for i in range(3):
            s = float(bank.outputscale[j * 3 + i])
            obs = np.asarray(bank.obs[i])
            x, y, v = obs[:, 0], obs[:, 1], obs[:, 2]

            def k(a, b, s=s, ell=ell):
                return 0.25 + s * np.exp(-0.5 * ((a[:, None] - b[None, :]) / ell) ** 2)

            kinv = np.linalg.inv(k(x, x) + np.diag(v))
            # padding rows (value 0, noise variance 1e4) each tell the mean ~c/1e4: ~1e-4 relative
            ts, g = t_star[i].numpy(), grid.numpy()
            np.testing.assert_allclose(cov[j, i].numpy(),
                                       k(g, ts) - k(g, x) @ kinv @ k(x, ts), rtol=2e-4, atol=1e-7)
            np.testing.assert_allclose(var[j, i].numpy(),
                                       np.diag(k(ts, ts) - k(ts, x) @ kinv @ k(x, ts)), rtol=2e-4, atol=1e-7)
            np.testing.assert_allclose(mean[j, i].numpy(), k(ts, x) @ kinv @ y, rtol=2e-4, atol=1e-7)


def _gp_with(kind, xc, x, y, hyper):
    if kind == "nystrom":
        gp = NystromGP(xc, xc[:40], hyper)
        gp.fit_batch(x, y)
        return gp
    gp = CachedExactGP(xc, hyper, chunk=128, cache_bytes=0.0 if kind == "exact-nocache" else 2e9)
    gp.x, gp.y = x, y
    gp.rebuild()
    return gp


@pytest.mark.parametrize("kind", ["exact-cache", "exact-nocache", "nystrom"])
def test_pending_believer_is_the_posterior_after_measuring_at_the_mean(kind):
    import copy

    from steer.policies.engine import PendingBeliever

    x, y, xc = _data(n=30, n_cand=400)
    hyper = RBFHyper(torch.tensor([0.2, 0.3]), 1.3, 0.01, mean=0.1)
    gp = _gp_with(kind, xc, x, y, hyper)
    mean0, var0 = (t.clone() for t in gp.mean_var())
    pending = [7, 123, 7 + 1, 399]
    var = PendingBeliever(gp, pending).variance
    assert torch.equal(gp.mean_var()[1], var0)  # the source is not changed
    measured = copy.deepcopy(gp)
    for p in pending:  # measure each pending point at its (unchanged) posterior mean
        kw = {"index": p} if kind != "nystrom" else {}
        measured.add(xc[p], float(measured.mean_var()[0][p]), **kw)
    assert torch.allclose(measured.mean_var()[0], mean0, atol=1e-9)
    assert torch.allclose(var, measured.mean_var()[1], rtol=1e-6, atol=1e-10)
    assert bool((var[pending] < var0[pending]).all())
    grown = PendingBeliever(gp, pending[:2])
    grown.add(pending[2])
    grown.add(pending[3])
    assert torch.allclose(grown.variance, var, atol=1e-12)
    if kind == "exact-cache":  # and what a GP with the pending points in its data says
        with torch.no_grad():
            xs = torch.cat([x, xc[pending]])
            ys = torch.cat([y, mean0[pending]])
            post = _botorch(xs, ys, hyper).posterior(xc)
        assert torch.allclose(var, post.variance[:, 0], rtol=2e-4, atol=1e-7)
