"""Acquisition functions of the continuous BoTorch policy, built by name.

One place that turns a setting (``acquisition = "ucb"``) and fitted GPs into
a BoTorch acquisition function, so that every option is validated alike and
explained alike. Every acquisition is BoTorch's own:

* ``"logei"``: :class:`~botorch.acquisition.analytic.LogExpectedImprovement`
  over the best posterior mean of the observed points (one point, nothing
  pending); with an outcome constraint
  :class:`~botorch.acquisition.analytic.LogConstrainedExpectedImprovement`
  (best posterior mean over the observed *feasible* points);
* ``"qlognei"``: :class:`~botorch.acquisition.logei.qLogNoisyExpectedImprovement`
  (batches, pending points; with an outcome constraint, its smoothed
  feasibility weighting ``constraints=[c]``);
* ``"auto"``: ``"logei"`` for one point with nothing pending, else ``"qlognei"``;
* ``"ucb"``: :class:`~botorch.acquisition.analytic.UpperConfidenceBound`
  (``mean + sqrt(beta) std``), :class:`~botorch.acquisition.monte_carlo.qUpperConfidenceBound`
  for batches or pending points;
* ``"mes"``: :class:`~botorch.acquisition.max_value_entropy_search.qMaxValueEntropy`
  (max-value entropy search), max values sampled over a seeded scrambled
  Sobol candidate set of the unit box; pending points are fantasized and a
  batch is chosen greedily, one point at a time (GIBBON, BoTorch's
  ``qLowerBoundMaxValueEntropy``, was tried: its batches repeated points on
  Branin, noisy or not);
* ``"nipv"``: :class:`~botorch.acquisition.active_learning.qNegIntegratedPosteriorVariance`
  over seeded Sobol integration points: pure active learning (learn the
  function everywhere, not its optimum).

Outcome constraints (``c(x) <= 0``, modelled by a second GP) are handled by
``"auto"``, ``"logei"`` and ``"qlognei"``; ``"nipv"`` ignores them (it
learns the objective everywhere); ``"ucb"`` and ``"mes"`` refuse them.

All randomness (QMC samplers, candidate sets, integration points) is drawn
from the generator passed in, so the same seed gives the same decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steer.errors import ConfigError

__all__ = ["ACQUISITIONS", "CONSTRAINED_ACQUISITIONS", "AcquisitionSettings", "BuiltAcquisition",
           "build_acquisition", "sobol_points"]

ACQUISITIONS: tuple[str, ...] = ("auto", "logei", "qlognei", "ucb", "mes", "nipv")
CONSTRAINED_ACQUISITIONS: tuple[str, ...] = ("auto", "logei", "qlognei", "nipv")


def _positive(name: str, value: Any, integer: bool) -> Any:
    bad = isinstance(value, bool) or not isinstance(
        value, (int, np.integer) if integer else (int, float, np.integer, np.floating))
    if bad or not math.isfinite(float(value)) or value <= 0:
        kind = "a positive integer" if integer else "a finite number > 0"
        raise ConfigError(f"{name} = {value!r} must be {kind}",
                          "e.g. beta = 2.0" if name == "beta" else f"e.g. {name} = 256")
    return int(value) if integer else float(value)


@dataclass(frozen=True)
class AcquisitionSettings:
    """Which acquisition, and its parameters (validated on construction).

    Attributes:
        kind: One of :data:`ACQUISITIONS`.
        beta: UCB's exploration weight (``mean + sqrt(beta) std``).
        mc_samples: Quasi-Monte-Carlo samples of the MC acquisitions.
        candidate_set_size: Sobol points over which ``"mes"`` samples max values.
        mc_points: Sobol integration points of ``"nipv"``.

    Raises:
        ConfigError: for an unknown kind or a non-positive parameter.
    """

    kind: str = "auto"
    beta: float = 2.0
    mc_samples: int = 128
    candidate_set_size: int = 1000
    mc_points: int = 256

    def __post_init__(self) -> None:
        if self.kind not in ACQUISITIONS:
            raise ConfigError(f"acquisition = {self.kind!r} is not known",
                              f"use one of {', '.join(repr(a) for a in ACQUISITIONS)}")
        object.__setattr__(self, "beta", _positive("beta", self.beta, False))
        for name in ("mc_samples", "candidate_set_size", "mc_points"):
            object.__setattr__(self, name, _positive(name, getattr(self, name), True))

    def parameters(self) -> dict[str, Any]:
        """The parameters that matter for this kind (for explanations)."""
        if self.kind == "ucb":
            return {"beta": self.beta}
        if self.kind == "mes":
            return {"candidate_set_size": self.candidate_set_size}
        if self.kind == "nipv":
            return {"mc_points": self.mc_points}
        return {}


@dataclass
class BuiltAcquisition:
    """An acquisition function ready for ``optimize_acqf``, and how to explain it.

    Attributes:
        acqf: The BoTorch acquisition function.
        name: Its BoTorch class name.
        is_log: Whether its values are logarithms (the LogEI family).
        model: The model it scores (a ``ModelListGP`` of objective and
            constraint when constrained).
        details: What to add to the explanation (``best_f``, ``beta``...).
        sequential: Choose a batch greedily, one point at a time (for
            acquisitions that score one point: max-value entropy).
        retry: Let ``optimize_acqf`` restart from new initial conditions when
            L-BFGS-B stops abnormally (off for NIPV, whose fantasy-model
            gradients stop it abnormally and harmlessly, at twice the cost).
    """

    acqf: Any
    name: str
    is_log: bool
    model: Any
    details: dict[str, Any] = field(default_factory=dict)
    sequential: bool = False
    retry: bool = True


def sobol_points(dim: int, n: int, rng: np.random.Generator) -> Any:
    """`n x dim` scrambled Sobol points of the unit box (float64 tensor), seeded by ``rng``."""
    import torch
    from torch.quasirandom import SobolEngine

    engine = SobolEngine(dim, scramble=True, seed=int(rng.integers(2**31)))
    return engine.draw(n, dtype=torch.float64)


def _best_observed_mean(model: Any, x: Any, feasible: np.ndarray | None) -> float:
    """Best posterior mean of the objective at observed points (feasible ones if known)."""
    import torch

    with torch.no_grad():
        mean = model.posterior(x).mean.reshape(-1)
    if feasible is not None and feasible.any():
        return float(mean[torch.as_tensor(feasible)].max())
    if feasible is not None:  # nothing feasible yet: improve on the worst point
        return float(mean.min())
    return float(mean.max())


def build_acquisition(settings: AcquisitionSettings, objective_model: Any,
                      constraint_model: Any | None, n: int, pending: Any | None,
                      feasible: np.ndarray | None, rng: np.random.Generator
                      ) -> BuiltAcquisition:
    """Build the acquisition function for a batch of ``n`` points.

    Args:
        settings: Which acquisition and its parameters.
        objective_model: Fitted single-output GP of the reward (maximised).
        constraint_model: Fitted single-output GP of the constraint value
            (feasible where ``<= 0``), or ``None`` when unconstrained.
        n: Points in the batch.
        pending: `m x d`-dim tensor of points suggested and not yet measured, or ``None``.
        feasible: Per observed point of the objective model, whether its
            measured constraint was satisfied (``None`` when unconstrained).
        rng: The policy's generator (QMC seeds, candidate sets, integration points).

    Returns:
        The acquisition function with its name and explanation details.

    Raises:
        ConfigError: ``"logei"`` for a batch, or a constraint with an
            acquisition that cannot handle it.
    """
    import torch
    from botorch.acquisition import (
        LogExpectedImprovement,
        UpperConfidenceBound,
        qLogNoisyExpectedImprovement,
        qUpperConfidenceBound,
    )
    from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
    from botorch.acquisition.analytic import LogConstrainedExpectedImprovement
    from botorch.acquisition.max_value_entropy_search import qMaxValueEntropy
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.models import ModelListGP
    from botorch.sampling import SobolQMCNormalSampler

    kind = settings.kind
    x_train = objective_model.train_inputs[0]
    dim = x_train.shape[-1]
    single = n == 1 and pending is None
    if kind == "logei" and n > 1:
        raise ConfigError(f"acquisition = 'logei' cannot choose a batch of n = {n}",
                          "use acquisition = 'auto' or 'qlognei' for batches")
    constrained = constraint_model is not None and kind != "nipv"
    if constrained and kind not in CONSTRAINED_ACQUISITIONS:
        raise ConfigError(f"acquisition = {kind!r} does not handle the outcome constraint "
                          "this environment reports",
                          f"use one of {', '.join(repr(a) for a in CONSTRAINED_ACQUISITIONS)}")

    def sampler() -> Any:
        return SobolQMCNormalSampler(torch.Size([settings.mc_samples]),
                                     seed=int(rng.integers(2**31)))

    if kind in ("auto", "logei", "qlognei"):
        best_f = _best_observed_mean(objective_model, x_train,
                                     feasible if constrained else None)
        use_ei = kind == "logei" or (kind == "auto" and single)
        if not constrained:
            if use_ei:
                return BuiltAcquisition(LogExpectedImprovement(objective_model, best_f=best_f),
                                        "LogExpectedImprovement", True, objective_model,
                                        {"best_f": best_f})
            acqf = qLogNoisyExpectedImprovement(objective_model, X_baseline=x_train,
                                                sampler=sampler(), X_pending=pending,
                                                prune_baseline=True)
            return BuiltAcquisition(acqf, "qLogNoisyExpectedImprovement", True, objective_model,
                                    {"best_f": best_f})
        model = ModelListGP(objective_model, constraint_model)
        details = {"best_f": best_f, "constraint": "c(x) <= 0, modelled by a second GP",
                   "n_feasible_observed": int(np.sum(feasible))}
        if use_ei:
            acqf = LogConstrainedExpectedImprovement(model, best_f=best_f, objective_index=0,
                                                     constraints={1: (None, 0.0)})
            return BuiltAcquisition(acqf, "LogConstrainedExpectedImprovement", True, model,
                                    details)
        acqf = qLogNoisyExpectedImprovement(
            model, X_baseline=x_train, sampler=sampler(), X_pending=pending,
            prune_baseline=True, objective=GenericMCObjective(_objective_output),
            constraints=[_constraint_output])
        return BuiltAcquisition(acqf, "qLogNoisyExpectedImprovement (constrained)", True, model,
                                details)
    if kind == "ucb":
        if single:
            acqf: Any = UpperConfidenceBound(objective_model, beta=settings.beta)
            name = "UpperConfidenceBound"
        else:
            acqf = qUpperConfidenceBound(objective_model, beta=settings.beta, sampler=sampler(),
                                         X_pending=pending)
            name = "qUpperConfidenceBound"
        return BuiltAcquisition(acqf, name, False, objective_model, {"beta": settings.beta})
    if kind == "mes":
        candidates = sobol_points(dim, settings.candidate_set_size, rng)
        acqf = qMaxValueEntropy(objective_model, candidate_set=candidates,
                                          X_pending=pending)
        return BuiltAcquisition(acqf, "qMaxValueEntropy", False, objective_model,
                                {"candidate_set_size": settings.candidate_set_size},
                                sequential=n > 1)
    mc_points = sobol_points(dim, settings.mc_points, rng)
    acqf = qNegIntegratedPosteriorVariance(objective_model, mc_points=mc_points,
                                           X_pending=pending)
    details = {"mc_points": settings.mc_points, "goal": "learn the objective everywhere"}
    if constraint_model is not None:
        details["constraint"] = "ignored (active learning of the objective)"
    return BuiltAcquisition(acqf, "qNegIntegratedPosteriorVariance", False, objective_model,
                            details, retry=False)


def _objective_output(samples: Any, X: Any = None) -> Any:
    """MC objective: the reward, output 0 of the (objective, constraint) model."""
    return samples[..., 0]


def _constraint_output(samples: Any) -> Any:
    """MC constraint: output 1 of the model, feasible where ``<= 0``."""
    return samples[..., 1]
