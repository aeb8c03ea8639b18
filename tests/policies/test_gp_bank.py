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
