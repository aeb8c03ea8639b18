"""Policies for continuous settings: a point in a box (focus, a test function's inputs).

* ``bo-continuous``: Bayesian optimisation with BoTorch. A
  :class:`botorch.models.SingleTaskGP` (float64, inputs in the unit box,
  ``Standardize`` outcome, a Matern 5/2 kernel with BoTorch's
  dimension-scaled lengthscale prior), hyperparameters
  warm-started from the previous fit and refitted with a small ``maxiter``;
  ``LogExpectedImprovement`` for one decision, ``qLogNoisyExpectedImprovement``
  for a batch of ``q > 1`` or when points are pending (``X_pending``);
  optimised with ``optimize_acqf`` (modest restarts: it must be fast). It
  starts from a seeded scrambled Sobol design of ``2 d + 1`` points.

The shared box machinery (pending points, the Sobol design, the unit box)
is :class:`steer.policies.box.ContinuousPolicy`; ``sobol`` is in
:mod:`steer.policies.box` and ``vcurve`` in :mod:`steer.policies.vcurve`.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from steer.errors import ConfigError
from steer.policies.acquisition import AcquisitionSettings, build_acquisition
from steer.policies.box import _JITTER_VAR, ContinuousPolicy, _positive_int
from steer.policies.warping import YeoJohnsonWarp

__all__ = ["BOContinuousPolicy"]


class BOContinuousPolicy(ContinuousPolicy):
    """Bayesian optimisation (or active learning) over a box with BoTorch.

    When the environment reports an outcome constraint (``constraint_value``
    in what :meth:`ingest` receives, feasible where ``<= 0``), a second GP
    models it and the acquisition weighs improvement by the probability of
    feasibility (see :mod:`steer.policies.acquisition`).

    Args:
        n_init: Points of the Sobol initial design (default ``2 d + 1``).
        num_restarts: Restarts of the acquisition optimiser.
        raw_samples: Raw Sobol samples scored to pick the restarts.
        acqf_maxiter: L-BFGS-B iterations per restart of the acquisition optimiser.
        fit_maxiter: L-BFGS-B iterations of a cold hyperparameter fit.
        warm_maxiter: Iterations of a warm-started refit (from the previous fit).
        warm_start: Start each fit from the previous hyperparameters.
        acquisition: ``"auto"`` (analytic ``LogExpectedImprovement`` for one
            point with nothing pending, ``qLogNoisyExpectedImprovement``
            otherwise), ``"logei"``, ``"qlognei"`` (always the latter),
            ``"ucb"`` (upper confidence bound, ``beta``), ``"mes"`` (max-value
            entropy search, GIBBON) or ``"nipv"`` (negative integrated
            posterior variance: active learning of the whole function).
        beta: UCB's exploration weight: ``mean + sqrt(beta) std``.
        mc_samples: Quasi-Monte-Carlo samples of the MC acquisitions.
        candidate_set_size: Sobol points over which ``"mes"`` samples max values.
        mc_points: Sobol integration points of ``"nipv"``.
        noise_std: Known standard deviation of the measurement noise, in the
            reward's units (``0``: noise-free; a tiny jitter is kept for
            numerical stability). ``None`` (default): inferred from the data.
        warping: ``"none"`` or ``"yeo-johnson"``: fit the GP to a monotone
            power transform of the rewards, its parameter by maximum
            likelihood (see :mod:`steer.policies.warping`), so that a long
            tail of bad rewards does not over-smooth the model near the best.
        winsorize: Clip the worst rewards at Tukey's lower fence
            (``q1 - 1.5 IQR``) before fitting, as Ax does by default, so that a
            few very bad points do not flatten the model where it matters.
        sample_around_best: Add points drawn close to the best observed
            points (by posterior mean) to the raw samples from which the
            acquisition optimiser starts (BoTorch's
            ``sample_points_around_best``), so the peak of the acquisition
            next to the incumbent is found and refined; without it, once the
            model is confident the uniform raw samples rarely land on that
            narrow peak.
        kernel: ``"matern52"`` (default: Matern 5/2, rougher sample paths
            than the RBF, so a model fitted to a few points is less sure of
            itself between them and does not re-sample one spot) or
            ``"rbf"`` (BoTorch's own default, and this policy's before version
            3); both with BoTorch's dimension-scaled log-normal lengthscale
            prior.
        runners_up: Other local optima of the acquisition to report.

    Raises:
        ConfigError: for a non-positive count, an unknown acquisition, a
            non-positive ``beta`` or a negative ``noise_std``.
    """

    name = "bo-continuous"
    version = "3"

    def __init__(self, n_init: int | None = None, num_restarts: int = 8, raw_samples: int = 256,
                 acqf_maxiter: int = 100, fit_maxiter: int = 200, warm_maxiter: int = 30,
                 warm_start: bool = True, acquisition: str = "auto", beta: float = 2.0,
                 mc_samples: int = 128, candidate_set_size: int = 1000, mc_points: int = 256,
                 noise_std: float | None = None, warping: str = "none",
                 winsorize: bool = True, sample_around_best: bool = False,
                 kernel: str = "matern52", runners_up: int = 3) -> None:
        super().__init__(n_init=n_init, num_restarts=num_restarts, raw_samples=raw_samples,
                         acqf_maxiter=acqf_maxiter, fit_maxiter=fit_maxiter,
                         warm_maxiter=warm_maxiter, warm_start=warm_start,
                         acquisition=acquisition, beta=beta, mc_samples=mc_samples,
                         candidate_set_size=candidate_set_size, mc_points=mc_points,
                         noise_std=noise_std, warping=warping, winsorize=winsorize,
                         sample_around_best=sample_around_best, kernel=kernel,
                         runners_up=runners_up)
        self.n_init = None if n_init is None else _positive_int("n_init", n_init, "e.g. 5")
        hint = "a small positive integer"
        self.num_restarts = _positive_int("num_restarts", num_restarts, hint)
        self.raw_samples = _positive_int("raw_samples", raw_samples, hint)
        self.acqf_maxiter = _positive_int("acqf_maxiter", acqf_maxiter, hint)
        self.fit_maxiter = _positive_int("fit_maxiter", fit_maxiter, hint)
        self.warm_maxiter = _positive_int("warm_maxiter", warm_maxiter, hint)
        self.settings = AcquisitionSettings(acquisition, beta, mc_samples, candidate_set_size,
                                            mc_points)
        self.acquisition = acquisition
        if noise_std is not None and (isinstance(noise_std, bool) or not isinstance(
                noise_std, (int, float, np.integer, np.floating)) or not np.isfinite(noise_std)
                or noise_std < 0):
            raise ConfigError(f"noise_std = {noise_std!r} must be a finite number >= 0 or None",
                              "the instrument's known noise in reward units; None infers it")
        self.noise_std = None if noise_std is None else float(noise_std)
        if warping not in ("none", "yeo-johnson"):
            raise ConfigError(f"warping = {warping!r} is not known",
                              "use 'none' or 'yeo-johnson'")
        self.warping = warping
        self.warm_start = bool(warm_start)
        self.winsorize = bool(winsorize)
        self.sample_around_best = bool(sample_around_best)
        if kernel not in ("rbf", "matern52"):
            raise ConfigError(f"kernel = {kernel!r} is not known", "use 'rbf' or 'matern52'")
        self.kernel = kernel
        self.runners_up = int(runners_up)

    def _reset_policy(self) -> None:
        self.init_size = self.n_init if self.n_init is not None else 2 * self.dim + 1
        self.model: Any = None  # GP of the reward
        self.constraint_model: Any = None  # GP of the constraint value, when reported
        self.warp: YeoJohnsonWarp | None = None  # output warping of the last fit
        self.model_n = 0  # observations the current model was fitted on
        self.states: dict[str, dict[str, Any]] = {}  # last fitted hyperparameters per GP
        self.fit_s = 0.0
        self.fits = 0

    # --------------------------------------------------------------- model
    def _fit(self) -> None:
        """Fit the GPs on every observation, warm-started from the previous fit."""
        t0 = time.perf_counter()
        x = np.asarray(self.X)
        y = self._model_targets()
        self.warp = YeoJohnsonWarp.fit(y) if self.warping != "none" and len(y) >= 4 else None
        slope = np.ones_like(y)
        if self.warp is not None:
            y, slope = self.warp.forward(y), self.warp.derivative(y)
        noise_var = None
        if self.noise_std is not None:  # known noise; a jitter keeps noise-free fits stable
            noise_var = np.maximum(self.noise_std**2 * slope**2,
                                   _JITTER_VAR * max(float(np.var(y, ddof=1)), 1e-12))
        self.model = self._fit_gp("objective", x, y, noise_var)
        c = np.asarray(self.C, float)
        has_c = np.isfinite(c)
        self.constraint_model = (self._fit_gp("constraint", x[has_c], c[has_c], None)
                                 if has_c.sum() >= 2 else None)
        self.model_n = len(self.Y)
        self.fits += 1
        self.fit_s = time.perf_counter() - t0

    def _fit_gp(self, key: str, x: np.ndarray, y: np.ndarray,
                noise_var: np.ndarray | None) -> Any:
        """One ``SingleTaskGP`` (inferred or known noise), warm-started from ``states[key]``."""
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Standardize
        from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
        from gpytorch.mlls import ExactMarginalLogLikelihood

        xt = torch.tensor(x, dtype=torch.float64)
        yt = torch.tensor(y, dtype=torch.float64).unsqueeze(-1)
        yvar = (None if noise_var is None
                else torch.tensor(noise_var, dtype=torch.float64).reshape(yt.shape))
        covar = get_covar_module_with_dim_scaled_prior(
            ard_num_dims=xt.shape[-1], use_rbf_kernel=self.kernel == "rbf")
        model = SingleTaskGP(xt, yt, train_Yvar=yvar, covar_module=covar,
                             outcome_transform=Standardize(m=1))
        maxiter = self.fit_maxiter
        state = self.states.get(key)
        if self.warm_start and state is not None:
            params = dict(model.named_parameters())
            model.load_state_dict({k: v for k, v in state.items() if k in params}, strict=False)
            maxiter = self.warm_maxiter
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
        model.eval()
        self.states[key] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return model

    def _model_targets(self) -> np.ndarray:
        """Rewards the GP is fitted to: the worst outliers clipped when ``winsorize``."""
        y = np.asarray(self.Y, float)
        if not self.winsorize or len(y) < 4:
            return y
        q1 = np.percentile(y, 25, method="lower")
        q3 = np.percentile(y, 75, method="higher")
        return np.maximum(y, q1 - 1.5 * (q3 - q1))  # Tukey's lower fence (Ax's default)

    # ------------------------------------------------------------- suggest
    def _suggest_unit(self, n, info):
        if len(self.X) + len(self.pending) < self.init_size or len(self.X) < 2:
            why = {"phase": "initial-design", "design": f"Sobol, {self.init_size} points",
                   "acquisition": None, "n_observations": len(self.X)}
            return self._sobol(n), [why] * n, [0.0] * n
        import torch

        with torch.random.fork_rng():  # BoTorch draws from torch's global RNG: seed it locally
            torch.manual_seed(int(self.rng.integers(2**31)))
            return self._bo(n)

    def _bo(self, n: int) -> tuple[np.ndarray, list[dict[str, Any]], list[float]]:
        import torch
        from botorch.optim import optimize_acqf

        if self.model is None or self.model_n != len(self.Y):
            self._fit()
        pending = (torch.tensor(np.asarray(self.pending), dtype=torch.float64)
                   if self.pending else None)
        t0 = time.perf_counter()
        c = np.asarray(self.C, float)
        feasible = (c <= 0) if self.constraint_model is not None else None
        built = build_acquisition(self.settings, self.model, self.constraint_model, n, pending,
                                  feasible, self.rng)
        bounds = torch.stack([torch.zeros(self.dim), torch.ones(self.dim)]).to(torch.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cands, values = optimize_acqf(
                built.acqf, bounds=bounds, q=n, num_restarts=self.num_restarts,
                raw_samples=self.raw_samples, return_best_only=built.sequential,
                sequential=built.sequential, retry_on_optimization_warning=built.retry,
                options={"maxiter": self.acqf_maxiter, "seed": int(self.rng.integers(2**31)),
                         "sample_around_best": self.sample_around_best})
        acqf_s = time.perf_counter() - t0
        cands = cands.reshape(-1, n, self.dim).detach()
        # a greedy batch's value: the sum of its steps' values
        values = values.reshape(-1, n).sum(-1) if built.sequential else values.reshape(-1)
        values = values.detach()
        order = torch.argsort(values, descending=True, stable=True)
        best = cands[order[0]]
        shared = {"phase": "bo", "acquisition": built.name,
                  "acquisition_option": self.settings.kind,
                  "acquisition_value": float(values[order[0]]),
                  "acquisition_is_log": built.is_log, "batch_size": n,
                  "best_f": built.details.pop("best_f", None), **built.details,
                  "n_observations": len(self.Y), "n_pending": len(self.pending),
                  "fit_s": self.fit_s, "acqf_opt_s": acqf_s, "fits": self.fits,
                  "acqf_optimizer": {"num_restarts": self.num_restarts,
                                     "raw_samples": self.raw_samples,
                                     "maxiter": self.acqf_maxiter,
                                     "sample_around_best": self.sample_around_best},
                  "warm_started": self.warm_start and self.fits > 1,
                  "noise": "inferred" if self.noise_std is None else "known",
                  "kernel": self.kernel,
                  "warping": None if self.warp is None else {
                      "method": "yeo-johnson", "lambda": self.warp.lam,
                      "note": "best_f, hyperparameters and acquisition in warped units"},
                  "objective": "reward (maximised)",
                  "runners_up": self._runners_up(cands, values, order, n),
                  **_hyperparameters(self.model)}
        if self.constraint_model is not None:
            shared["constraint_model"] = _hyperparameters(self.constraint_model)
        per_point = self._posterior_at(best)
        whys = [{**shared, "batch_index": k, **per_point[k]} for k in range(n)]
        score = float(values[order[0]])
        return best.numpy(), whys, [score] * n

    def _posterior_at(self, x: Any) -> list[dict[str, float]]:
        """Posterior mean and std of the reward (and feasibility) at `n x d` points."""
        import torch

        with torch.no_grad():
            post = self.model.posterior(x)
            mean = post.mean.reshape(-1).numpy()
            std = post.variance.clamp_min(0).sqrt().reshape(-1).numpy()
        if self.warp is not None:  # back to reward units: the median, std by the delta method
            mean = self.warp.inverse(mean)
            std = std / self.warp.derivative(mean)
        out = [{"posterior_mean": float(m), "posterior_std": float(s)}
               for m, s in zip(mean, std, strict=True)]
        with torch.no_grad():
            if self.constraint_model is not None:
                cp = self.constraint_model.posterior(x)
                mu = cp.mean.reshape(-1)
                sd = cp.variance.clamp_min(1e-30).sqrt().reshape(-1)
                p = torch.distributions.Normal(0.0, 1.0).cdf(-mu / sd)
                for k, row in enumerate(out):
                    row.update({"constraint_mean": float(mu[k]),
                                "probability_feasible": float(p[k])})
        return out

    def _runners_up(self, cands: Any, values: Any, order: Any, n: int) -> list[dict[str, Any]]:
        """Other local optima of the acquisition (batches, for ``q > 1``)."""
        runners: list[dict[str, Any]] = []
        seen = [np.round(np.sort(cands[order[0]].numpy(), axis=0), 6)]
        for j in order[1:].tolist():
            key = np.round(np.sort(cands[j].numpy(), axis=0), 6)
            if len(runners) >= self.runners_up:
                break
            if not any(np.array_equal(key, s) for s in seen):
                seen.append(key)
                x_r = cands[j].tolist()
                runners.append({"x_unit": x_r[0] if n == 1 else x_r,
                                "acquisition_value": float(values[j])})
        return runners


def _hyperparameters(m: Any) -> dict[str, Any]:
    """Fitted hyperparameters of a ``SingleTaskGP`` with a ``Standardize`` outcome."""
    kern = m.covar_module
    while getattr(kern, "base_kernel", None) is not None and not kern.has_lengthscale:
        kern = kern.base_kernel
    ls = kern.lengthscale.detach().reshape(-1).tolist() if kern.has_lengthscale else []
    y_std = float(m.outcome_transform.stdvs.reshape(-1)[0])
    noise = float(m.likelihood.noise.detach().reshape(-1)[0])
    return {"lengthscales_unit": ls, "noise_std": float(np.sqrt(noise)) * y_std,
            "outcome_mean": float(m.outcome_transform.means.reshape(-1)[0]),
            "outcome_std": y_std, "mean_constant_standardized":
            float(m.mean_module.constant.detach().reshape(-1)[0])}
