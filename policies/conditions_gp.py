"""``bo``'s sky-conditions model: a GP of the extinction it has measured over the sky and the night.

Inputs are the sky plane (``r = (90 - alt) / 90`` from the zenith, ``x = r sin az``,
``y = r cos az``) and the hours since the night started; the output is the
measured extinction ``-2.5 log10 transparency`` (mag), so patchy clouds seen in
one direction lower the predicted depth of the targets behind them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["MIN_POINTS", "condition_point", "fit_extinction_gp", "predict_extinction"]

MIN_POINTS = 6  # fewer measured conditions: no model (the last measured value stands)
_CHUNK = 256  # targets per call of the GP (gpytorch builds the joint train x test kernel)


def _sky_plane(alt_deg: Any, az_deg: Any) -> tuple[Any, Any]:
    r = (90.0 - alt_deg) / 90.0
    az = np.radians(az_deg)
    return r * np.sin(az), r * np.cos(az)


def condition_point(alt_deg: float, az_deg: float, hours: float,
                    transparency: float) -> tuple[float, float, float, float]:
    """One training point ``(x, y, hours, extinction_mag)`` from a measured frame."""
    x, y = _sky_plane(float(alt_deg), float(az_deg))
    return (float(x), float(y), float(hours),
            float(-2.5 * np.log10(max(float(transparency), 1e-3))))


def fit_extinction_gp(points: Sequence[tuple[float, float, float, float]]) -> Any | None:
    """BoTorch's ``SingleTaskGP`` fitted to the points (its MLL, 50 L-BFGS steps).

    Returns:
        The model in eval mode, or ``None`` with fewer than :data:`MIN_POINTS`
        points or when the fit fails.
    """
    if len(points) < MIN_POINTS:
        return None
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    a = torch.tensor(list(points), dtype=torch.float64)
    x, y = a[:, :3], a[:, 3:4]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SingleTaskGP(x, y)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                             optimizer_kwargs={"options": {"maxiter": 50}})
    except Exception:  # noqa: BLE001 - a failed fit falls back to the last value
        return None
    model.eval()
    return model


def predict_extinction(model: Any | None, alt_deg: np.ndarray, az_deg: np.ndarray,
                       hours: float) -> np.ndarray | None:
    """The model's mean extinction (mag) toward each target at ``hours``; ``None`` without one."""
    if model is None:
        return None
    sx, sy = _sky_plane(alt_deg, az_deg)
    x = torch.tensor(np.stack([sx, sy, np.full_like(sx, hours)], axis=1), dtype=torch.float64)
    with torch.no_grad():
        return torch.cat([model.posterior(x[lo:lo + _CHUNK]).mean
                          for lo in range(0, len(x), _CHUNK)]).squeeze(-1).numpy()
