"""``bo`` version 2's light-curve model: one time scale, amplitudes fitted by BoTorch."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from steer.policies.gp_bank import TimeSeriesGPBank

__all__ = ["fit_single_scale"]


def fit_single_scale(bank: TimeSeriesGPBank, mean_prior_var: float, refit: bool) -> Any:
    """One time scale (``bo`` version 2): the amplitudes by BoTorch's MLL fit of a batched model.

    Args:
        bank: The per-target light curves (one batch per target); its
            ``outputscale`` is updated when ``refit``.
        mean_prior_var: Prior variance of a target's mean magnitude offset.
        refit: Fit the amplitudes (else build the model with the bank's).

    Returns:
        The batched :class:`botorch.models.SingleTaskGP`, in eval mode.
    """
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import ConstantKernel, RBFKernel, ScaleKernel
    from gpytorch.means import ZeroMean
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from gpytorch.priors import GammaPrior

    n = bank.n
    x, y, v = (t.unsqueeze(-1) for t in bank.tensors())
    batch = torch.Size([n])
    rbf = RBFKernel(batch_shape=batch)
    rbf.lengthscale = bank.ell.reshape(n, 1, 1).clone()
    rbf.raw_lengthscale.requires_grad_(False)
    scale = ScaleKernel(rbf, batch_shape=batch,
                        outputscale_prior=GammaPrior(2.0, 20.0))  # mean 0.1 mag^2
    scale.outputscale = bank.outputscale.clone()
    const = ConstantKernel(batch_shape=batch)
    const.constant = torch.full((n, 1), mean_prior_var)
    const.raw_constant.requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SingleTaskGP(x, y, v, covar_module=const + scale, mean_module=ZeroMean(),
                             outcome_transform=None).to(torch.float64)
    if refit:
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with warnings.catch_warnings():  # padded rows trip BoTorch's scaling checks
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": 50}})
        bank.outputscale = scale.outputscale.detach().clone()
    model.eval()
    return model
