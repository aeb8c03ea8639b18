"""The environment's reference light-curve model: the measure of information.

The reward of every steer astronomy environment is the same for every policy:
the priority-weighted reduction of the integrated posterior variance (IPV) of
a per-target Gaussian-process model of tonight's light curve. The model of
target ``i`` has the kernel

    k_i(t, t') = sigma_c^2 + s_i^2 exp(-(t - t')^2 / (2 l_i^2)),

with ``sigma_c`` the prior uncertainty of its mean magnitude and ``s_i``,
``l_i`` the *true* variability amplitude and time scale of the target (hidden
from the policies: a constant star teaches little when revisited, a fast
variable a lot). The noise of each observation is its measured photometric
error. Variances are averaged over a grid of times spanning the night, so the
reward is in mag^2 and does not depend on the measured values: a policy cannot
raise it by luck, only by observing the right target, at the right time, deep
enough.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ReferenceModel"]


class ReferenceModel:
    """Per-target GP posterior variance over a night grid, updated incrementally.

    Args:
        variability_std_mag: `N`-dim array, true variability amplitude per target.
        timescale_d: `N`-dim array, true variability time scale per target (days).
        grid_mjd: `G`-dim array of times spanning the night.
        prior_std_mag: Prior standard deviation of each target's mean magnitude.
    """

    def __init__(
        self,
        variability_std_mag: np.ndarray,
        timescale_d: np.ndarray,
        grid_mjd: np.ndarray,
        prior_std_mag: float = 1.0,
    ) -> None:
        self.s2 = np.maximum(np.asarray(variability_std_mag, float), 1e-3) ** 2
        self.ell = np.maximum(np.asarray(timescale_d, float), 1e-3)
        self.grid = np.asarray(grid_mjd, float)
        self.c2 = float(prior_std_mag) ** 2
        n = len(self.s2)
        self._t: list[list[float]] = [[] for _ in range(n)]
        self._r: list[list[float]] = [[] for _ in range(n)]
        self.ipv = np.full(n, self.c2 + self.s2)  # prior variance is flat over the grid

    def extend(self, variability_std_mag: float, timescale_d: float) -> None:
        """Add one target with no observations (a target of opportunity)."""
        s2 = max(float(variability_std_mag), 1e-3) ** 2
        self.s2 = np.append(self.s2, s2)
        self.ell = np.append(self.ell, max(float(timescale_d), 1e-3))
        self._t.append([])
        self._r.append([])
        self.ipv = np.append(self.ipv, self.c2 + s2)

    def _kernel(self, i: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = a[:, None] - b[None, :]
        return self.c2 + self.s2[i] * np.exp(-0.5 * (d / self.ell[i]) ** 2)

    def ipv_with(self, i: int, t_mjd: list[float], noise_var: list[float]) -> float:
        """Integrated posterior variance of target ``i`` given observations."""
        prior = self.c2 + self.s2[i]
        if not t_mjd:
            return prior
        t = np.asarray(t_mjd)
        k_tt = self._kernel(i, t, t) + np.diag(np.asarray(noise_var))
        k_gt = self._kernel(i, self.grid, t)
        chol = np.linalg.cholesky(k_tt)
        v = np.linalg.solve(chol, k_gt.T)  # `n x G`
        return float(np.mean(prior - np.sum(v * v, axis=0)))

    def add(self, i: int, mjd: float, error_mag: float) -> float:
        """Add one observation of target ``i``; return the IPV reduction (mag^2)."""
        if not np.isfinite(error_mag) or error_mag <= 0:
            return 0.0
        self._t[i].append(float(mjd))
        self._r[i].append(float(error_mag) ** 2)
        before = self.ipv[i]
        self.ipv[i] = self.ipv_with(i, self._t[i], self._r[i])
        return float(max(before - self.ipv[i], 0.0))

    def add_many(self, index: np.ndarray, mjd: np.ndarray, error_mag: np.ndarray) -> None:
        """Add many observations (e.g. the prior history) and refresh affected targets."""
        touched = set()
        for i, t, e in zip(index, mjd, error_mag, strict=True):
            if np.isfinite(e) and e > 0:
                self._t[int(i)].append(float(t))
                self._r[int(i)].append(float(e) ** 2)
                touched.add(int(i))
        for i in touched:
            self.ipv[i] = self.ipv_with(i, self._t[i], self._r[i])

    def observations(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Times (MJD) and noise variances of target ``i``'s observations."""
        return np.asarray(self._t[i]), np.asarray(self._r[i])
