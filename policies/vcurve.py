"""``vcurve``: the classic autofocus sweep (1-D only).

Sweep ``n_points`` positions over the travel, fit the hyperbola
``FWHM^2 = a (x - c)^2 + b`` (or a parabola), go to the vertex (optionally
sweep again more narrowly around it first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steer.errors import ConfigError
from steer.policies.box import ContinuousPolicy, _positive_int

__all__ = ["VCurvePolicy"]


class VCurvePolicy(ContinuousPolicy):
    """Classic V-curve autofocus: sweep, fit, narrow sweep, fit, go to the vertex.

    Works on a 1-D box whose reward is ``-FWHM`` (``steer/Autofocus-v0``).

    Args:
        n_points: Positions per sweep.
        passes: Sweeps before going to the vertex (1, the classic: one sweep
            over the whole travel; 2: then one around the first vertex).
        shrink: Half-width of each further sweep, as a fraction of the
            previous sweep's half-width.
        fit: ``"hyperbola"`` (least squares of ``FWHM^2`` on a quadratic,
            weighted for multiplicative noise: exact for a hyperbolic V-curve)
            or ``"parabola"`` (a quadratic in ``FWHM`` through the best
            ``n_points`` points).

    Raises:
        ConfigError: for fewer than 3 points per sweep, no sweep, a shrink
            outside (0, 1] or an unknown fit.
    """

    name = "vcurve"
    version = "1"

    def __init__(self, n_points: int = 7, passes: int = 1, shrink: float = 0.2,
                 fit: str = "hyperbola") -> None:
        super().__init__(n_points=n_points, passes=passes, shrink=shrink, fit=fit)
        self.n_points = _positive_int("n_points", n_points, "at least 3, e.g. 7")
        if self.n_points < 3:
            raise ConfigError(f"n_points = {n_points} cannot fit a curve", "use at least 3")
        self.passes = _positive_int("passes", passes, "e.g. 2")
        if not 0.0 < float(shrink) <= 1.0:
            raise ConfigError(f"shrink = {shrink} is outside (0, 1]", "e.g. 0.2")
        self.shrink = float(shrink)
        if fit not in ("hyperbola", "parabola"):
            raise ConfigError(f"fit = {fit!r} is not known", "use 'hyperbola' or 'parabola'")
        self.fit = fit

    def _reset_policy(self) -> None:
        if self.dim != 1:
            raise ConfigError(f"vcurve focuses one axis, the action space has {self.dim}",
                              "use it with steer/Autofocus-v0")
        self.queue: list[float] = []
        self.sweeps_done = 0
        self.half_width = 0.5
        self.vertex: dict[str, float] | None = None

    def fit_vertex(self) -> dict[str, float] | None:
        """Fit the V-curve to every measurement; ``None`` if the fit has no minimum.

        Returns:
            ``{"x_unit": vertex, "fwhm_min": fitted minimum, "curvature": a}``.
        """
        x = np.asarray(self.X, float).reshape(-1)
        fwhm = -np.asarray(self.Y, float)
        ok = np.isfinite(fwhm) & (fwhm > 0)
        x, fwhm = x[ok], fwhm[ok]
        if self.fit == "parabola":
            keep = np.argsort(fwhm)[:self.n_points]
            x, target, w = x[keep], fwhm[keep], np.ones(len(keep))
        else:
            target, w = fwhm**2, 1.0 / fwhm**2  # sigma(FWHM^2) ~ 2 noise FWHM^2
        if len(np.unique(x)) < 3:
            return None
        a_mat = np.stack([x**2, x, np.ones_like(x)], axis=1) * w[:, None]
        (a, b, c), *_ = np.linalg.lstsq(a_mat, target * w, rcond=None)
        if not a > 0:
            return None
        vx = -b / (2 * a)
        vmin = c - b * b / (4 * a)
        vmin = float(np.sqrt(max(vmin, 0.0))) if self.fit == "hyperbola" else float(vmin)
        return {"x_unit": float(np.clip(vx, 0.0, 1.0)), "fwhm_min": vmin, "curvature": float(a)}

    def _plan_sweep(self, info: dict[str, Any]) -> None:
        centre = 0.5 if self.vertex is None else self.vertex["x_unit"]
        if self.sweeps_done == 0:
            lo, hi = 0.0, 1.0
        else:
            self.half_width *= self.shrink
            lo, hi = max(0.0, centre - self.half_width), min(1.0, centre + self.half_width)
        pts = list(np.linspace(lo, hi, self.n_points))
        here = info.get("position_unit", self.X[-1][0] if self.X else 0.0)
        if abs(here - pts[-1]) < abs(here - pts[0]):
            pts.reverse()  # start at the nearer end: shorter focuser moves
        self.queue = [float(p) for p in pts]
        self.sweeps_done += 1

    def _suggest_unit(self, n, info):
        out, whys = [], []
        for _ in range(n):
            if not self.queue and self.sweeps_done < self.passes and (
                    self.sweeps_done == 0 or not self.pending):
                if self.sweeps_done:
                    self.vertex = self.fit_vertex() or self.vertex
                self._plan_sweep(info)
            if self.queue:
                out.append(self.queue.pop(0))
                whys.append({"phase": f"sweep {self.sweeps_done}/{self.passes}",
                             "fit": self.fit, "vertex": self.vertex})
                continue
            fitted = self.fit_vertex()
            if fitted is not None:
                self.vertex = fitted
            if self.vertex is not None:
                x = self.vertex["x_unit"]
            else:  # no usable fit: the best measured position (the middle if none)
                x = float(self.X[int(np.argmax(self.Y))][0]) if self.X else 0.5
            out.append(x)
            whys.append({"phase": "vertex", "fit": self.fit, "vertex": self.vertex})
        return np.asarray(out, float).reshape(-1, 1), whys, [0.0] * n
