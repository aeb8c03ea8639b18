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
