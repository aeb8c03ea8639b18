"""Transient hypotheses for the hypothesis posterior: an outburst peaking when.

:mod:`steer.policies.period_value` values a frame by what it tells about
whether a target is constant or periodic, and at which frequency. A transient
is characterised by its peak time, which neither tonight's light curve nor a
period says: a star whose points all lie on the rise leaves its peak open,
and the frame that tells when it turns over is worth more than another one
on the rise. This module adds, per target, hypotheses "an outburst (Bazin et
al. 2009) in flux, ``F(t) = A g(t) + B`` with ``g`` the Bazin shape
normalised to a maximum of 1, peaking at ``t_p``", on a grid of peak times
(every 0.25 d from 20 days before the data to 20 days after tonight) and rise
and fall times; ``A`` and ``B`` (in units of the catalog flux) are linear with
Gaussian priors, so each hypothesis' marginal likelihood is closed form. Its
data are the magnitudes turned into flux (the change of variables cancels
against the constant and periodic hypotheses', fitted in magnitudes). For the
information a frame gives, the hypotheses are grouped by the day their peak
falls in (the precision a peak is wanted to) and each day is represented by
its most probable shape: what matters is when the peak is, not which rise
time made it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TransientGrid"]

_TAU_RISE_D = (0.5, 1.0, 2.0, 4.0, 8.0)
_TAU_FALL_D = (5.0, 10.0, 20.0, 40.0, 80.0)
_STEP_D = 0.25  # peak-time grid step
_PER_BIN = 4  # grid steps per peak-time bin (1 day)
_MARGIN_D = 20.0  # peaks searched this far before the data and after tonight
_LN10_04 = 0.4 * np.log(10.0)


class TransientGrid:
    """Outburst hypotheses on a grid of peak times, rise and fall times.

    Args:
        start_d: Earliest data (days from the posterior's time zero).
        end_d: End of tonight (same origin).
        components: Peak-time bins kept per target (the most probable).
        amplitude: Prior mean and std of ``A`` (flux at peak over the baseline, in
            units of the catalog flux).
        baseline: Prior mean and std of ``B`` (the flux without the outburst).
    """

    def __init__(self, start_d: float, end_d: float, components: int = 16,
                 amplitude: tuple[float, float] = (0.5, 0.5),
                 baseline: tuple[float, float] = (0.5, 0.5)) -> None:
        tp = np.arange(float(start_d) - _MARGIN_D, float(end_d) + _MARGIN_D, _STEP_D)
        tp = tp[:len(tp) - len(tp) % _PER_BIN]
        shapes = [(r, f) for r in _TAU_RISE_D for f in _TAU_FALL_D if f > 2.0 * r]
        tr = np.array([s[0] for s in shapes])[:, None] * np.ones_like(tp)[None, :]
        tf = np.array([s[1] for s in shapes])[:, None] * np.ones_like(tp)[None, :]
        self.shape = (len(shapes), len(tp) // _PER_BIN, _PER_BIN)  # shapes x bins x steps
        self.tr, self.tf = tr.ravel(), tf.ravel()
        x_peak = self.tr * np.log(self.tf / self.tr - 1.0)  # peak minus t0
        self.t0 = (np.broadcast_to(tp, tr.shape).ravel() - x_peak)
        self.tp = self.t0 + x_peak
        # ln of the unnormalised shape's maximum, so that g peaks at 1
        self.log_gmax = -x_peak / self.tf - np.log1p(np.exp(-x_peak / self.tr))
        self.m = int(components)
        self.prior_mean = np.array([float(amplitude[0]), float(baseline[0])])
        self.prior_prec = 1.0 / np.array([float(amplitude[1]), float(baseline[1])]) ** 2
        self.n_hypotheses = len(self.tp)

    @staticmethod
    def g(t: np.ndarray, t0: np.ndarray, tr: np.ndarray, tf: np.ndarray,
          log_gmax: np.ndarray) -> np.ndarray:
        """The normalised Bazin shape at ``t`` (all arguments broadcast)."""
        d = t - t0
        return np.exp(np.minimum(-d / tf - log_gmax, 700.0)) / (
            1.0 + np.exp(np.minimum(-d / tr, 700.0)))

    def fit(self, t: np.ndarray, y: np.ndarray, wt: np.ndarray) -> dict[str, np.ndarray]:
        """The most probable peak-time bins of `R` targets with `K` points each.

        Args:
            t: `R x K` times (days); padding has weight 0.
            y: `R x K` magnitude offsets from the catalog.
            wt: `R x K` inverse variances (mag^-2) of ``y``.

        Returns:
            ``log_ml`` (`R x M`: log marginal likelihood of each bin's hypotheses,
            summed, up to the terms the constant and periodic hypotheses share; not
            including the prior), ``t0``, ``tr``, ``tf``, ``log_gmax`` (`R x M`, the
            bin's most probable shape), ``mu`` (`R x M x 2`: posterior mean of
            ``A, B``) and ``cov`` (`R x M x 2 x 2`).
        """
        flux = 10.0 ** (-0.4 * y)
        wf = wt / (_LN10_04 * flux) ** 2  # flux inverse variance (0 on padding)
        g = self.g(t[:, None, :], self.t0[None, :, None], self.tr[None, :, None],
                   self.tf[None, :, None], self.log_gmax[None, :, None])  # `R x H x K`
        gw = g * wf[:, None, :]
        s_gg = np.einsum("rhk,rhk->rh", gw, g) + self.prior_prec[0]
        s_g1 = gw.sum(-1)
        s_11 = np.broadcast_to(wf.sum(-1)[:, None] + self.prior_prec[1], s_gg.shape)
        eta_a = np.einsum("rhk,rk->rh", gw, flux) + self.prior_prec[0] * self.prior_mean[0]
        eta_b = np.broadcast_to((wf * flux).sum(-1)[:, None]
                                + self.prior_prec[1] * self.prior_mean[1], s_gg.shape)
        det = s_gg * s_11 - s_g1**2
        quad = (s_11 * eta_a**2 - 2.0 * s_g1 * eta_a * eta_b + s_gg * eta_b**2) / det
        shared = (0.5 * (wt * y * y).sum(-1) - 0.5 * (wf * flux * flux).sum(-1)
                  - 0.5 * (self.prior_prec * self.prior_mean**2).sum()
                  + 0.5 * np.log(self.prior_prec).sum())
        lml = shared[:, None] + 0.5 * quad - 0.5 * np.log(det)  # `R x H`
        n_s, n_b, per = self.shape
        by_bin = np.moveaxis(lml.reshape(-1, n_s, n_b, per), 2, 1).reshape(-1, n_b, n_s * per)
        best = by_bin.argmax(-1)  # `R x B`: the bin's most probable hypothesis
        peak = np.take_along_axis(by_bin, best[..., None], -1)[..., 0]
        mass = peak + np.log(np.exp(by_bin - peak[..., None]).sum(-1))
        m = min(self.m, n_b)
        top = np.argpartition(-mass, m - 1, axis=1)[:, :m]  # `R x M` bins
        rows = np.arange(len(t))[:, None]
        k = best[rows, top]
        h = (k // per) * (n_b * per) + top * per + k % per  # back to the flat index
        d = det[rows, h]
        cov = np.stack([np.stack([s_11[rows, h] / d, -s_g1[rows, h] / d], -1),
                        np.stack([-s_g1[rows, h] / d, s_gg[rows, h] / d], -1)], -2)
        mu = (cov @ np.stack([eta_a[rows, h], eta_b[rows, h]], -1)[..., None])[..., 0]
        return {"log_ml": mass[rows, top], "t0": self.t0[h], "tr": self.tr[h],
                "tf": self.tf[h], "log_gmax": self.log_gmax[h], "mu": mu, "cov": cov}

    @staticmethod
    def predictive(t_star: np.ndarray, comp: dict[str, np.ndarray]) -> tuple[np.ndarray,
                                                                            np.ndarray]:
        """`R x M x E` predictive mean and variance (mag offset, without the frame's noise)
        of each kept bin at times ``t_star`` (`R x E`)."""
        g = TransientGrid.g(t_star[:, None, :], comp["t0"][..., None], comp["tr"][..., None],
                            comp["tf"][..., None], comp["log_gmax"][..., None])
        mu, cov = comp["mu"], comp["cov"]
        flux = mu[..., 0:1] * g + mu[..., 1:2]
        var_f = (cov[..., 0, 0, None] * g * g + 2.0 * cov[..., 0, 1, None] * g
                 + cov[..., 1, 1, None])
        flux = np.maximum(flux, 0.01)
        return -2.5 * np.log10(flux), var_f / (_LN10_04 * flux) ** 2
