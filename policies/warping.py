"""Output warping for GP surrogates: a monotone map of the rewards before fitting.

A stationary GP fitted to rewards with a long tail (a test function's or an
instrument's response far from the optimum is often orders of magnitude
worse than near it) spends its lengthscales and signal variance on the tail
and over-smooths the region that matters. A fitted power transform makes the
rewards closer to Gaussian, as HEBO does (Cowen-Rivers et al., "HEBO:
Pushing the Limits of Sample-Efficient Hyperparameter Optimisation", JAIR
2022): here the Yeo-Johnson transform (Yeo & Johnson, Biometrika 2000) of the
standardised rewards, its ``lambda`` chosen by maximum likelihood
(:func:`scipy.stats.yeojohnson_normmax`) and kept in ``[0, 2]`` (``1`` is the
identity; ``2`` compresses the low tail logarithmically, ``0`` the high one).
The map is monotone, so the best point stays the best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["YeoJohnsonWarp"]

_LAMBDA_RANGE = (0.0, 2.0)


@dataclass(frozen=True)
class YeoJohnsonWarp:
    """A fitted Yeo-Johnson transform of standardised values.

    Attributes:
        mean: Mean of the values it was fitted on.
        std: Their standard deviation (``ddof = 1``).
        lam: The transform's ``lambda``.
    """

    mean: float
    std: float
    lam: float

    @classmethod
    def fit(cls, y: np.ndarray) -> YeoJohnsonWarp:
        """Fit on `n` values (at least two distinct; otherwise the identity)."""
        from scipy import stats

        y = np.asarray(y, float)
        mean = float(np.mean(y))
        std = float(np.std(y, ddof=1)) if len(y) > 1 else 0.0
        if not std > 0 or not np.isfinite(std):
            return cls(mean, 1.0, 1.0)
        with np.errstate(all="ignore"):
            lam = float(stats.yeojohnson_normmax((y - mean) / std))
        lam = float(np.clip(lam, *_LAMBDA_RANGE)) if np.isfinite(lam) else 1.0
        return cls(mean, std, lam)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Warp values (`n` -> `n`)."""
        z = (np.asarray(y, float) - self.mean) / self.std
        lam, out = self.lam, np.empty_like(z)
        pos = z >= 0
        out[pos] = np.log1p(z[pos]) if lam == 0 else ((1 + z[pos]) ** lam - 1) / lam
        neg = ~pos
        out[neg] = (-np.log1p(-z[neg]) if lam == 2
                    else -((1 - z[neg]) ** (2 - lam) - 1) / (2 - lam))
        return out

    def inverse(self, w: np.ndarray) -> np.ndarray:
        """Map warped values back (`n` -> `n`)."""
        w = np.asarray(w, float)
        lam, z = self.lam, np.empty_like(w)
        pos = w >= 0
        z[pos] = np.expm1(w[pos]) if lam == 0 else (1 + lam * w[pos]) ** (1 / lam) - 1
        neg = ~pos
        z[neg] = (-np.expm1(-w[neg]) if lam == 2
                  else 1 - (1 - (2 - lam) * w[neg]) ** (1 / (2 - lam)))
        return self.mean + self.std * z

    def derivative(self, y: np.ndarray) -> np.ndarray:
        """``d forward / d y`` at values (`n` -> `n`, positive)."""
        z = (np.asarray(y, float) - self.mean) / self.std
        d = np.where(z >= 0, (1 + np.abs(z)) ** (self.lam - 1),
                     (1 + np.abs(z)) ** (1 - self.lam))
        return d / self.std
