"""``bo``: BoTorch/GPyTorch active learning of light curves, cost-aware.

The policy keeps two Gaussian-process models, both fitted with BoTorch:

* **light curves**: one GP per catalog target, batched in a single
  :class:`botorch.models.SingleTaskGP` (`N` batches; each target's magnitudes
  relative to its catalog value, with the measured photometric errors as
  fixed noise; kernel = constant (unknown mean) + scaled RBF over time). The
  per-target amplitude of variability is learned by maximising the marginal
  likelihood (all targets at once), refitted every ``refit_every`` decisions
  and warm-started from the last fit.
* **sky conditions**: a GP over (sky-plane x, y, hours) of the extinction it
  has measured (``-2.5 log10 transparency``), so patchy clouds it has seen
  lower the predicted depth of targets behind them.

For every feasible target ``i`` and exposure ``e`` it computes the expected
reduction of the integrated posterior variance of the light curve over the
night grid if the target were observed at ``t*`` (now + slew + e/2) with the
predicted noise ``sigma_i(e)``, in closed form from the batched posterior
covariance (what BoTorch's ``qNegIntegratedPosteriorVariance`` estimates by
fantasies, exact here for a Gaussian likelihood):

    dIPV_i(e) = mean_g Cov(f(g), f(t*))^2 / (Var f(t*) + sigma_i(e)^2)

and picks the best ``priority * dIPV / (slew + readout + exposure)``: the
expected information gain per second of telescope time.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch

from steer.policies.base import BasePolicy, feature_index
from steer.types import Action, Measurement, Proposal

__all__ = ["BOPolicy"]

_PAD_X, _PAD_VAR = -1000.0, 1e4  # padding observations: far away and uninformative


def _mag_error(mag: np.ndarray, m5: np.ndarray) -> np.ndarray:
    """Rubin photometric error (physics.md): sigma^2 = (0.04 - g) x + g x^2."""
    g = 0.039
    x = 10.0 ** (0.4 * (mag - m5))
    return np.sqrt(np.maximum((0.04 - g) * x + g * x * x, 1e-8))


class BOPolicy(BasePolicy):
    """Expected light-curve information gain per second, from batched GPs.

    Args:
        lengthscale_d: Time scale of the light-curve kernel (days), fixed.
        mean_prior_std_mag: Prior std of a target's mean magnitude offset.
        refit_every: Decisions between hyperparameter refits.
        conditions_window: Most recent measurements used by the conditions GP.
        max_obs_per_target: Cap on observations kept per target (oldest dropped).
        posterior: ``"cached"`` (default): per-target Cholesky factors and
            grid cross-terms are cached and only the observed target's are
            recomputed when a measurement arrives; ``"botorch"``: the batched
            ``SingleTaskGP`` posterior is recomputed at every decision (the
            first version; same numbers, slower).
    """

    name = "bo"
    version = "2"

    def __init__(self, lengthscale_d: float = 0.08, mean_prior_std_mag: float = 0.5,
                 refit_every: int = 25, conditions_window: int = 40,
                 max_obs_per_target: int = 40, posterior: str = "cached") -> None:
        super().__init__(lengthscale_d=lengthscale_d, mean_prior_std_mag=mean_prior_std_mag,
                         refit_every=refit_every, conditions_window=conditions_window,
                         max_obs_per_target=max_obs_per_target, posterior=posterior)
        if posterior not in ("cached", "botorch"):
            from steer.errors import ConfigError

            raise ConfigError(f"posterior = {posterior!r} is not known",
                              "use 'cached' (default) or 'botorch'")
        self.posterior_mode = posterior
        self.lengthscale_d = float(lengthscale_d)
        self.mean_prior_var = float(mean_prior_std_mag) ** 2
        self.refit_every = int(refit_every)
        self.conditions_window = int(conditions_window)
        self.max_obs = int(max_obs_per_target)

    # ---------------------------------------------------------------- state
    def _reset(self) -> None:
        env = self.env
        self.t_ref = float(env.observatory.night_start_mjd)
        self.cat_mag = np.asarray(env.catalog.mag, float)
        self.n = len(self.cat_mag)
        self.obs: list[list[tuple[float, float, float]]] = [[] for _ in range(self.n)]
        hist = env.history
        for i, t, m, e in zip(hist["target_index"], hist["mjd"], hist["mag"], hist["error_mag"],
                              strict=True):
            if np.isfinite(m) and np.isfinite(e) and e > 0:
                self.obs[int(i)].append((float(t) - self.t_ref, float(m) - self.cat_mag[int(i)],
                                         float(e) ** 2))
        self.grid_d = torch.tensor(np.linspace(0.0, env.end_mjd - self.t_ref, env.grid_points),
                                   dtype=torch.float64)
        self.cond: list[tuple[float, float, float, float]] = []  # x, y, hours, extinction
        self.model: Any = None
        self.cond_model: Any = None
        self.outputscale: torch.Tensor | None = None
        self.decisions = 0
        self.fit_s = 0.0
        self.readout_s = float(env.config.readout_s + env.config.shutter_s)
        self.sat_mag_30s = dict(env.config.saturation_mag_30s)
        self._fit(refit=True)

    def _tensors(self, n_cap: int | None = None, rows: list[int] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded `N x n x 1` times, values and noise variances (``rows``: a subset)."""
        n_max = n_cap or max(1, max(len(o[-self.max_obs:]) for o in self.obs))
        rows = list(range(self.n)) if rows is None else rows
        x = np.full((len(rows), n_max, 1), _PAD_X)
        y = np.zeros((len(rows), n_max, 1))
        v = np.full((len(rows), n_max, 1), _PAD_VAR)
        for r, i in enumerate(rows):
            o = self.obs[i]
            if o:
                a = np.asarray(o[-self.max_obs:])
                k = len(a)
                x[r, :k, 0], y[r, :k, 0], v[r, :k, 0] = a[:, 0], a[:, 1], a[:, 2]
        as_t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
        return as_t(x), as_t(y), as_t(v)

    def _fit(self, refit: bool) -> None:
        """(Re)build the light-curve GP; fit its amplitudes when ``refit``."""
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.kernels import ConstantKernel, RBFKernel, ScaleKernel
        from gpytorch.means import ZeroMean
        from gpytorch.mlls import ExactMarginalLogLikelihood
        from gpytorch.priors import GammaPrior

        t0 = time.perf_counter()
        if self.posterior_mode == "cached" and not refit and self.outputscale is not None:
            self._cache_all()
            self.fit_s = time.perf_counter() - t0
            return
        x, y, v = self._tensors()
        batch = torch.Size([self.n])
        rbf = RBFKernel(batch_shape=batch)
        rbf.lengthscale = torch.full((self.n, 1, 1), self.lengthscale_d)
        rbf.raw_lengthscale.requires_grad_(False)
        scale = ScaleKernel(rbf, batch_shape=batch,
                            outputscale_prior=GammaPrior(2.0, 20.0))  # mean 0.1 mag^2
        scale.outputscale = (self.outputscale if self.outputscale is not None
                             else torch.full(batch, 0.05, dtype=torch.float64))
        const = ConstantKernel(batch_shape=batch)
        const.constant = torch.full((self.n, 1), self.mean_prior_var)
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
            self.outputscale = scale.outputscale.detach().clone()
            self._fit_conditions()
        model.eval()
        self.model = model
        if self.posterior_mode == "cached":
            self._cache_all()
        self.fit_s = time.perf_counter() - t0

    # ------------------------------------------------------ cached posterior
    def _k(self, s: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Batched kernel: constant + s_i RBF, `B x p` and `B x q` times -> `B x p x q`."""
        d = (a.unsqueeze(-1) - b.unsqueeze(-2)) / self.lengthscale_d
        return self.mean_prior_var + s[:, None, None] * torch.exp(-0.5 * d * d)

    def _factor(self, rows: list[int] | None, n_cap: int) -> tuple[torch.Tensor, ...]:
        x, y, v = self._tensors(n_cap, rows)
        x, y, v = x[..., 0], y[..., 0], v[..., 0]
        s = self.outputscale if rows is None else self.outputscale[rows]
        kxx = self._k(s, x, x) + torch.diag_embed(v)
        chol = torch.linalg.cholesky(kxx)
        grid = self.grid_d.expand(len(x), -1)
        a = torch.linalg.solve_triangular(chol, self._k(s, x, grid), upper=False)
        beta = torch.linalg.solve_triangular(chol, y.unsqueeze(-1), upper=False)[..., 0]
        return x, chol, a, beta

    def _cache_all(self) -> None:
        """Factor every target's GP (after a refit, or when a target outgrows the cache)."""
        self._cap = max(1, max(len(o[-self.max_obs:]) for o in self.obs)) + 8
        self._x, self._chol, self._a, self._beta = self._factor(None, self._cap)

    def _cache_row(self, i: int) -> None:
        """Refactor only target ``i`` after it was observed."""
        if len(self.obs[i][-self.max_obs:]) > self._cap:
            self._cache_all()
            return
        x, chol, a, beta = self._factor([i], self._cap)
        self._x[i], self._chol[i], self._a[i], self._beta[i] = x[0], chol[0], a[0], beta[0]

    def _posterior_cached(self, t_star: torch.Tensor) -> tuple[np.ndarray, ...]:
        """Cross-covariances grid/t*, variance and mean at t* (`N x G x E`, `N x E`, `N x E`)."""
        s = self.outputscale
        ke = self._k(s, self._x, t_star)  # `N x n x E`
        b = torch.linalg.solve_triangular(self._chol, ke, upper=False)
        grid = self.grid_d.expand(self.n, -1)
        cov = self._k(s, grid, t_star) - self._a.transpose(-1, -2) @ b  # `N x G x E`
        var = self.mean_prior_var + s[:, None] - (b * b).sum(1)
        mean = (b * self._beta.unsqueeze(-1)).sum(1)
        return cov.numpy(), var.numpy(), mean.numpy()

    def _fit_conditions(self) -> None:
        """Fit the extinction GP on the most recent measured conditions."""
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood

        data = self.cond[-self.conditions_window:]
        if len(data) < 6:
            self.cond_model = None
            return
        a = torch.tensor(data, dtype=torch.float64)
        x, y = a[:, :3], a[:, 3:4]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = SingleTaskGP(x, y)
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                                 optimizer_kwargs={"options": {"maxiter": 50}})
        except Exception:  # noqa: BLE001 - a failed fit falls back to the last value
            self.cond_model = None
            return
        model.eval()
        self.cond_model = model

    # --------------------------------------------------------------- scoring
    def _predicted_extinction(self, alt_deg: np.ndarray, az_deg: np.ndarray,
                              hours: float) -> np.ndarray | None:
        if self.cond_model is None:
            return None
        r = (90.0 - alt_deg) / 90.0
        x = np.stack([r * np.sin(np.radians(az_deg)), r * np.cos(np.radians(az_deg)),
                      np.full_like(r, hours)], axis=1)
        with torch.no_grad():
            post = self.cond_model.posterior(torch.tensor(x, dtype=torch.float64))
        return post.mean.squeeze(-1).numpy()

    def _suggest(self, observation: dict[str, np.ndarray], info: dict[str, Any],
                 n: int) -> list[Proposal]:
        t_start = time.perf_counter()
        if self.decisions and self.decisions % self.refit_every == 0:
            self._fit(refit=True)
        tf = observation["targets"].astype(float)
        mask = np.asarray(info["action_mask"], bool)
        exps = np.asarray(info["exptimes_s"], float)
        e_def = exps[info["default_exptime_index"]]
        now_d = float(info["mjd"]) - self.t_ref
        overhead = tf[:, feature_index("overhead_s")]
        prio = tf[:, feature_index("priority")]
        m5_def = self.cat_mag + tf[:, feature_index("depth_margin_mag")]
        ext_pred = self._predicted_extinction(tf[:, feature_index("alt_deg")],
                                              tf[:, feature_index("az_deg")], now_d * 24.0)
        last_ext = -2.5 * np.log10(max(float(observation["globals"][5]), 1e-3))
        if ext_pred is not None:
            m5_def = m5_def + (last_ext - ext_pred)
        # test points: the night grid plus t* for each exposure, per target
        t_star = now_d + (overhead[:, None] + exps[None, :] / 2.0) / 86400.0  # `N x E`
        g = len(self.grid_d)
        if self.posterior_mode == "cached":
            cov_ge, var_e, mean_e = self._posterior_cached(torch.tensor(t_star,
                                                                        dtype=torch.float64))
        else:
            xt = torch.cat([self.grid_d.expand(self.n, g),
                            torch.tensor(t_star, dtype=torch.float64)], dim=1).unsqueeze(-1)
            with torch.no_grad():
                post = self.model.posterior(xt)
                cov = post.mvn.covariance_matrix  # `N x (G+E) x (G+E)`
                mean = post.mean.squeeze(-1)
            cov_ge = cov[:, :g, g:].numpy()  # `N x G x E`
            var_e = torch.diagonal(cov[:, g:, g:], dim1=-2, dim2=-1).numpy()  # `N x E`
            mean_e = mean[:, g:].numpy()
        exp_mag = self.cat_mag[:, None] + mean_e
        m5 = m5_def[:, None] + 1.25 * np.log10(exps[None, :] / e_def)
        sigma = _mag_error(exp_mag, m5)
        band = np.asarray(self.env.catalog.band)
        sat = np.array([self.sat_mag_30s[b] for b in band])[:, None] - 2.5 * np.log10(
            exps[None, :] / 30.0)
        gain = np.mean(cov_ge**2, axis=1) / (var_e + sigma**2)
        gain = np.where(exp_mag > sat + 0.3, gain, 0.0)  # saturated frames teach nothing
        cost = overhead[:, None] + self.readout_s + exps[None, :]
        scores = prio[:, None] * gain / cost
        score_s = time.perf_counter() - t_start
        why = {"acquisition": "priority * expected IPV reduction / (slew+readout+exposure) s",
               "fit_s": self.fit_s, "score_s": score_s,
               "hyperparameters": {
                   "lengthscale_d": self.lengthscale_d,
                   "outputscale_median_mag2": float(torch.median(self.outputscale)),
                   "conditions_gp": self.cond_model is not None}}
        proposals = self.rank(scores, mask, n, why)
        out = []
        for p in proposals:
            i = p.action.target_index
            e = int(np.argmin(np.abs(exps - p.action.exptime_s)))
            detail = {"posterior_mean_mag": float(exp_mag[i, e]),
                      "posterior_std_mag": float(np.sqrt(max(var_e[i, e], 0.0))),
                      "predicted_error_mag": float(sigma[i, e]),
                      "predicted_m5_mag": float(m5[i, e]),
                      "expected_ipv_reduction_mag2": float(gain[i, e]),
                      "cost_s": float(cost[i, e])}
            out.append(Proposal(p.action, p.score, {**p.explanation, **detail}))
        return out

    # -------------------------------------------------------------- learning
    def _ingest(self, action: Action, measurement: Measurement | None, reward: float) -> None:
        self.decisions += 1
        if measurement is None:
            return
        m = measurement
        c = m.conditions
        i = action.target_index
        if "transparency" in c and "alt_deg" in c and "az_deg" in c:
            r = (90.0 - float(c["alt_deg"])) / 90.0
            az = np.radians(float(c["az_deg"]))
            ext = -2.5 * np.log10(max(float(c["transparency"]), 1e-3))
            self.cond.append((r * np.sin(az), r * np.cos(az), (m.mjd_mid - self.t_ref) * 24.0,
                              ext))
        if np.isfinite(m.value_mag) and np.isfinite(m.error_mag) and m.error_mag > 0:
            self.obs[i].append((m.mjd_mid - self.t_ref, m.value_mag - self.cat_mag[i],
                                m.error_mag**2))
            if self.posterior_mode == "cached":
                t0 = time.perf_counter()
                self._cache_row(i)
                self.fit_s = time.perf_counter() - t0
            else:
                self._fit(refit=False)
