"""A visit's value as information about a light curve known to a stated precision.

``bo``'s default value of a measurement is the expected reduction of the
integrated posterior variance of the light curve (mag^2). That scale favours
the targets whose light curves vary most: pinning a faint constant star's
mean from 0.045 to 0.02 mag is worth about 0.002 mag^2, a tenth of one visit
to a variable star, and a longer exposure is rarely worth its seconds once
one short one has collapsed a large variance. With ``[policy.bo]
precision_mag = P`` the value is instead the expected information (nats)
the measurement gives about the light curve on the night's grid, each grid
point's magnitude counted to the precision ``P``:

    I_g = 1/2 log((v_g + P^2) / (v_g - Cov(f(g), f(t*))^2 / (Var f(t*) + sigma^2) + P^2))

averaged over the grid (``v_g`` the posterior variance at grid time ``g``,
``sigma`` the predicted photometric error of the exposure). It is the
information about ``f(g) + n_g`` with an independent ``n_g ~ N(0, P^2)``: a
halving of the variance is worth the same wherever the variance is above
``P^2`` and little once it is below, so a target known to the precision is
done with, and one not yet known to it (a constant star's mean, a variable
star's shape) keeps its value.
"""

from __future__ import annotations

import numpy as np

__all__ = ["floored_information"]


def floored_information(cov: np.ndarray, var_star: np.ndarray, noise_var: np.ndarray,
                        grid_var: np.ndarray, floor_var: float) -> np.ndarray:
    """Grid-averaged information (nats) of one measurement, per component and exposure.

    Args:
        cov: `L x M x G x E` posterior covariances between the grid and ``t*``.
        var_star: `L x M x E` posterior variances at ``t*``.
        noise_var: `M x E` predicted measurement variances (``sigma^2``).
        grid_var: `L x M x G` posterior variances on the grid.
        floor_var: The precision's variance ``P^2`` (mag^2), > 0.

    Returns:
        `L x M x E` expected information, averaged over the grid.
    """
    after = np.square(cov)  # `L x M x G x E`, worked in place: one array of that size
    after /= (var_star + noise_var[None])[:, :, None, :]  # the variance it removes
    np.subtract(grid_var[..., None], after, out=after)
    np.maximum(after, 0.0, out=after)
    after += floor_var
    np.log(after, out=after)
    before = np.log(grid_var + floor_var).mean(axis=2)  # `L x M`
    return 0.5 * (before[..., None] - after.mean(axis=2))
