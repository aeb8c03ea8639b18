"""``bo-pool``: Bayesian optimisation over a large fixed pool of candidates.

A catalog of targets, a library of samples, a grid of instrument settings: the
candidates are known in advance and do not change between decisions, and one
measurement arrives at a time. This policy scores *every* candidate at every
decision with the engine of :mod:`steer.policies.engine`:

* the posterior mean and variance of all ``N`` candidates are kept and updated
  by a rank-one step when a measurement arrives (:class:`CachedExactGP`,
  exact, while the observations fit ``exact_max_obs``; then
  :class:`NystromGP`, whose update cost does not grow with the data);
* the kernel hyperparameters are fitted by BoTorch (``SingleTaskGP`` and
  ``fit_gpytorch_mll``, warm-started from the previous fit, on at most
  ``fit_max_points`` observations): at every measurement while data are few,
  then on a geometric schedule; the `O(N n^2)` rebuild of the cached
  posterior follows a refit only when the hyperparameters actually moved;
* BoTorch's analytic ``LogExpectedImprovement`` or ``UpperConfidenceBound``
  scores the cached posterior through :class:`CandidatePosteriorModel`;
* with per-candidate costs (``info["candidate_cost_s"]``) the log-EI becomes log of
  expected improvement *per second*; infeasible candidates
  (``info["action_mask"]``) are never proposed;
* points chosen and not yet measured (several instruments, exposures in
  flight) are *pending*: :meth:`BOPoolPolicy.suggest_batch` chooses ``q``
  candidates to measure together, each conditioned on those before it by the
  kriging believer (:class:`~steer.policies.engine.PendingBeliever`: variances
  shrink around a pending point as if it were measured at its posterior
  mean), and every later decision is conditioned on what is still pending.

``random-pool`` (the baseline) measures feasible candidates uniformly at random,
without repeats.

It maximises the reward passed to :meth:`ingest` (``-measured value`` for
``steer/CandidatePool-v0``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from steer.envs.context import PoolContext
from steer.envs.pool import PoolAction
from steer.errors import ConfigError
from steer.policies.base import BasePolicy
from steer.types import Proposal

__all__ = ["PoolAction", "BOPoolPolicy", "RandomPoolPolicy"]


def _count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} = {value!r} must be an integer >= {minimum}",
                          f"set {name} in [policy.bo-pool] to e.g. {max(minimum, 20)}")
    return int(value)


class BOPoolPolicy(BasePolicy):
    """Cached-posterior BO over a fixed candidate pool (see the module docstring).

    Args:
        acquisition: ``"logei"`` (default) or ``"ucb"``.
        beta: UCB's exploration weight.
        n_init: Random feasible candidates measured first (default ``2 d + 1``).
        refit_every: Fewest measurements between hyperparameter refits.
        refit_growth: Beyond ``refit_all_below`` measurements, refit only once
            the data grew by this fraction since the last fit: a geometric
            schedule, so the `O(N n^2)` rebuilds stay rare as data accumulate
            (about 25 between 100 and 1,000 measurements).
        refit_all_below: Below this many measurements, refit every
            ``refit_every`` (fits are cheap and hyperparameters move most).
        fit_max_points: Most observations a refit uses (a seeded random subset
            beyond that; the posterior still conditions on all of them).
        exact_max_obs: Beyond this many observations, switch to the Nystrom GP
            (sooner if the exact GP's `N x n` cross factor would exceed
            ``cache_bytes``: its updates would then cost a fresh kernel block).
        cache_bytes: Memory allowed for the exact GP's cross factor.
        inducing: Inducing points of the Nystrom GP.
        allow_repeats: Propose a candidate again after it was measured (useful
            with large noise); by default each is measured once, as users of
            Ax and BayBE ask (no duplicate proposals).
        cost_aware: Divide expected improvement by the candidate's cost when the
            env reports ``info["candidate_cost_s"]`` (LogEI only).
        rebuild_tol: A refit rebuilds the cached posterior only when a
            hyperparameter moved by more than this (log scale; the constant
            mean: in standardised units).
        runners_up: Other candidates reported with each proposal.

    Raises:
        ConfigError: for an unknown acquisition or a bad count.
    """

    name = "bo-pool"
    drives = ("pool",)
    version = "1"

    def __init__(self, acquisition: str = "logei", beta: float = 2.0, n_init: int | None = None,
                 refit_every: int = 1, refit_growth: float = 0.1, refit_all_below: int = 100,
                 fit_max_points: int = 400,
                 exact_max_obs: int = 2000, cache_bytes: float = 2e9,
                 inducing: int = 512, allow_repeats: bool = False, cost_aware: bool = True,
                 rebuild_tol: float = 0.2, runners_up: int = 5) -> None:
        super().__init__(acquisition=acquisition, beta=beta, n_init=n_init,
                         refit_every=refit_every, refit_growth=refit_growth,
                         refit_all_below=refit_all_below,
                         fit_max_points=fit_max_points,
                         exact_max_obs=exact_max_obs, cache_bytes=cache_bytes, inducing=inducing,
                         allow_repeats=allow_repeats, cost_aware=cost_aware,
                         rebuild_tol=rebuild_tol,
                         runners_up=runners_up)
        if acquisition not in ("logei", "ucb"):
            raise ConfigError(f"acquisition = {acquisition!r} is not known for bo-pool",
                              "use 'logei' or 'ucb'")
        if not (isinstance(beta, (int, float)) and np.isfinite(beta) and beta >= 0):
            raise ConfigError(f"beta = {beta!r} must be a number >= 0", "e.g. beta = 2.0")
        self.acquisition = acquisition
        self.beta = float(beta)
        self.n_init = None if n_init is None else _count("n_init", n_init)
        self.refit_every = _count("refit_every", refit_every)
        if not (isinstance(refit_growth, (int, float)) and 0 <= refit_growth < 10):
            raise ConfigError(f"refit_growth = {refit_growth!r} must be in [0, 10)",
                              "e.g. refit_growth = 0.25 (refit after 25% more data)")
        self.refit_growth = float(refit_growth)
        self.refit_all_below = _count("refit_all_below", refit_all_below, 0)
        self.fit_max_points = _count("fit_max_points", fit_max_points, 2)
        self.exact_max_obs = _count("exact_max_obs", exact_max_obs, 2)
        self.inducing = _count("inducing", inducing, 2)
        if not (isinstance(cache_bytes, (int, float)) and cache_bytes > 0):
            raise ConfigError(f"cache_bytes = {cache_bytes!r} must be > 0", "e.g. 2e9")
        self.cache_bytes = float(cache_bytes)
        self.cost_aware = bool(cost_aware)
        self.allow_repeats = bool(allow_repeats)
        if not (isinstance(rebuild_tol, (int, float)) and rebuild_tol >= 0):
            raise ConfigError(f"rebuild_tol = {rebuild_tol!r} must be >= 0",
                              "e.g. 0.2 (0: rebuild at every refit)")
        self.rebuild_tol = float(rebuild_tol)
        self.runners_up = int(runners_up)

    # ---------------------------------------------------------------- state
    def _reset(self) -> None:
        import torch

        pool = getattr(self.context, "pool_unit", None)
        if not isinstance(self.context, PoolContext) or pool is None:
            raise ConfigError("policy 'bo-pool' needs an environment with a candidate pool",
                              "use it with steer/CandidatePool-v0")
        self.pool = torch.as_tensor(np.asarray(pool, float), dtype=torch.float64)
        self.dim = int(self.pool.shape[1])
        self.init_size = self.n_init if self.n_init is not None else 2 * self.dim + 1
        fits = int(self.cache_bytes / (8 * 1.25 * len(self.pool)))  # the cross factor's rows
        self.exact_limit = max(2, min(self.exact_max_obs, fits))
        self.idx: list[int] = []
        self.y: list[float] = []
        self.source: Any = None
        self.state: dict[str, Any] | None = None  # last fitted hyperparameters (warm start)
        self.fitted_n = 0
        self.y_mean, self.y_std = 0.0, 1.0
        self.fit_s = 0.0
        self.hyper: Any = None
        self.rebuilt = False
        self.rebuilds = 0
        self.pending: list[int] = []  # chosen by suggest_batch/add_pending, not yet ingested
        self._believer: Any = None  # PendingBeliever of the last decision with pending points
        self._believer_n = -1  # observations its source had then

    def add_pending(self, index: int) -> None:
        """Mark a candidate as being measured elsewhere (e.g. by another instrument)."""
        i = int(index)
        if not 0 <= i < len(self.pool):
            raise ConfigError(f"pending candidate {index!r} is outside the pool of "
                              f"{len(self.pool)}", "pass a row index of the pool")
        if i not in self.pending:
            self.pending.append(i)

    def clear_pending(self) -> None:
        """Forget every pending candidate (they will never be measured)."""
        self.pending = []

    def suggest_batch(self, observation: Any, info: dict[str, Any], q: int) -> list[Proposal]:
        """Choose ``q`` distinct candidates to measure together (several instruments).

        Greedy batch by the kriging believer: each choice maximises the
        acquisition with the variances conditioned on every pending point,
        those already pending and the batch's earlier choices. The chosen
        candidates stay pending until :meth:`ingest` reports them (measured, or
        ``None`` for never measured).

        Args:
            observation: The environment's observation (unused).
            info: The environment's ``info`` (``action_mask``, ``candidate_cost_s``).
            q: Batch size.

        Returns:
            Up to ``q`` proposals in the order chosen; fewer if fewer
            candidates are feasible.
        """
        q = _count("q", q)
        t0 = time.perf_counter()
        out = []
        for k in range(q):
            props = self._suggest(observation, info, 1)
            if not props:
                break
            p = props[0]
            self.pending.append(int(p.action.index))
            out.append(Proposal(p.action, p.score, {**p.explanation, "rank": 0,
                                                    "batch_index": k, "batch_size": q}))
        dt = time.perf_counter() - t0
        return [Proposal(p.action, p.score, {**p.explanation, "suggest_s": dt}) for p in out]

    def _standardized(self, y: float | np.ndarray) -> Any:
        return (np.asarray(y, float) - self.y_mean) / self.y_std

    def _refit(self) -> None:
        """Fit the hyperparameters with BoTorch; rebuild the cached posterior only if needed.

        The rebuild (`O(N n^2)`) is skipped while the new hyperparameters stay
        within ``rebuild_tol`` (log scale) of those the posterior was built
        with, the outcome standardisation has not drifted (mean within 0.5,
        standard deviation within a factor 2) and the exact GP still fits its
        memory budget: the incrementally updated posterior is then kept.
        """
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood

        from steer.policies.engine import CachedExactGP, RBFHyper

        t0 = time.perf_counter()
        y_all = np.asarray(self.y, float)
        n = len(y_all)
        ys = self._standardized(y_all)
        drift = self.source is None or abs(ys.mean()) > 0.5 or not 0.5 < ys.std() < 2.0
        if drift:
            self.y_mean = float(y_all.mean())
            self.y_std = float(y_all.std()) if y_all.std() > 0 else 1.0
            ys = self._standardized(y_all)
        sub = np.arange(n)
        if n > self.fit_max_points:
            sub = np.sort(self.rng.choice(n, self.fit_max_points, replace=False))
        x_fit = self.pool[np.asarray(self.idx)[sub]]
        y_fit = torch.tensor(ys[sub], dtype=torch.float64).unsqueeze(-1)
        with warnings.catch_warnings():  # a subset is standardised only approximately
            warnings.simplefilter("ignore")
            model = SingleTaskGP(x_fit, y_fit, outcome_transform=None)
            if self.state is not None:
                model.load_state_dict(self.state, strict=False)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                             optimizer_kwargs={"options": {"maxiter": 50 if self.state else 200}})
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        new = RBFHyper.from_botorch(model)
        wrong_model = isinstance(self.source, CachedExactGP) != (n <= self.exact_limit)
        self.rebuilt = drift or wrong_model or self._moved(new)
        if self.rebuilt:
            self.hyper = new
            self._build(torch.tensor(ys, dtype=torch.float64))
            self.rebuilds += 1
        self.fitted_n = n
        self.fit_s = time.perf_counter() - t0

    def _moved(self, new: Any) -> bool:
        """Whether hyperparameters moved beyond ``rebuild_tol`` from the posterior's."""
        old = self.hyper
        logs = [np.log(np.asarray(new.lengthscale) / np.asarray(old.lengthscale)),
                np.log(max(new.outputscale, 1e-9) / max(old.outputscale, 1e-9)),
                np.log(max(new.noise, 1e-6) / max(old.noise, 1e-6))]
        worst = max(float(np.max(np.abs(v))) for v in logs)
        return worst > self.rebuild_tol or abs(new.mean - old.mean) > self.rebuild_tol

    def _build(self, y_std: Any) -> None:
        """Condition a fresh cached posterior on every observation."""
        from steer.policies.engine import CachedExactGP, NystromGP

        x_all = self.pool[np.asarray(self.idx)]
        if len(self.idx) <= self.exact_limit:
            gp = CachedExactGP(self.pool, self.hyper, cache_bytes=self.cache_bytes)
            gp.x, gp.y = x_all, y_std
            gp.rebuild()
        else:
            m = min(self.inducing, len(self.pool))
            z = self.pool[np.sort(self.rng.choice(len(self.pool), m, replace=False))]
            gp = NystromGP(self.pool, z, self.hyper)
            gp.fit_batch(x_all, y_std)
        self.source = gp

    # -------------------------------------------------------------- suggest
    def _suggest(self, observation: Any, info: dict[str, Any], n: int) -> list[Proposal]:
        import torch

        mask = np.asarray(info.get("action_mask", np.ones(len(self.pool), bool)), bool)
        blocked = self.pending + ([] if self.allow_repeats else self.idx)
        if blocked:
            mask = mask.copy()
            mask[blocked] = False
        if not mask.any():
            return []
        if len(self.y) + len(self.pending) < self.init_size or len(self.y) < 2:
            free = np.flatnonzero(mask)
            pick = self.rng.choice(free, size=min(n, len(free)), replace=False)
            why = {"phase": "initial-design", "design": f"{self.init_size} random candidates",
                   "acquisition": None, "n_observations": len(self.y)}
            return [Proposal(self._action(int(i)), 0.0, {"rank": k, **why})
                    for k, i in enumerate(pick)]
        t0 = time.perf_counter()
        if self.source is None or self._refit_due():
            self._refit()
            fit_s = self.fit_s
        else:
            fit_s = 0.0
        from steer.policies.engine import best_candidates

        pending_var = self._pending_variance()
        values, name = self._acquisition(info, pending_var)
        top_v, top_i = best_candidates(values, torch.as_tensor(mask), n + self.runners_up)
        mean, var = self.source.mean_var()
        if pending_var is not None:
            var = pending_var
        score_s = time.perf_counter() - t0 - fit_s
        top = [(float(v), int(i)) for v, i in zip(top_v, top_i, strict=True) if np.isfinite(v)]
        out = []
        for k, (v, i) in enumerate(top[:n]):
            others = [{"index": j, "acquisition_value": w} for w, j in top if j != i]
            why = {"phase": "bo", "rank": k, "acquisition": name, "acquisition_value": v,
                   "acquisition_is_log": name.startswith("Log"),
                   "posterior_mean": float(mean[i]) * self.y_std + self.y_mean,
                   "posterior_std": float(var[i].sqrt()) * self.y_std,
                   "model": type(self.source).__name__, "n_observations": len(self.y),
                   "n_candidates": len(self.pool), "n_feasible": int(mask.sum()),
                   "fit_s": fit_s, "score_s": score_s,
                   "refitted": fit_s > 0, "rebuilt": fit_s > 0 and self.rebuilt,
                   "n_pending": len(self.pending),
                   "pending": ("kriging believer: variances conditioned on the pending "
                               "candidates at their posterior mean") if self.pending else None,
                   "rebuilds": self.rebuilds,
                   "lengthscales_unit": self.hyper.lengthscale.reshape(-1).tolist(),
                   "noise_std": float(np.sqrt(self.hyper.noise)) * self.y_std,
                   "runners_up": others[:self.runners_up]}
            out.append(Proposal(self._action(i), v, why))
        return out

    def _pending_variance(self) -> Any:
        """Variances conditioned on the pending candidates (``None`` if there are none).

        Within a batch the believer of the previous pick is extended by the
        new pending points instead of being rebuilt: one ``covariance_with``
        per pick, not one per pick and earlier pick.
        """
        from steer.policies.engine import PendingBeliever

        if not self.pending:
            return None
        b = self._believer
        reuse = (b is not None and b.source is self.source and self._believer_n == len(self.y)
                 and b.pending == self.pending[:len(b.pending)])
        if not reuse:
            b = PendingBeliever(self.source)
        for p in self.pending[len(b.pending):]:
            b.add(p)
        self._believer, self._believer_n = b, len(self.y)
        return b.variance

    def _acquisition(self, info: dict[str, Any], variance: Any = None) -> tuple[Any, str]:
        """Acquisition value of every candidate (`N`), and the function's name.

        ``variance`` replaces the posterior variances (conditioned on pending points).
        """
        import torch
        from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

        from steer.policies.engine import CandidatePosteriorModel

        model = CandidatePosteriorModel(self.source, variance)
        every = torch.arange(len(self.pool), dtype=torch.float64).reshape(-1, 1, 1)
        with torch.no_grad():
            if self.acquisition == "ucb":
                return UpperConfidenceBound(model, beta=self.beta)(every), "UpperConfidenceBound"
            best_f = float(np.max(self._standardized(np.asarray(self.y))))
            values = LogExpectedImprovement(model, best_f=best_f)(every)
        cost = info.get("candidate_cost_s")
        if self.cost_aware and cost is not None:
            cost_t = torch.as_tensor(np.asarray(cost, float), dtype=torch.float64)
            return values - torch.log(cost_t.clamp_min(1e-9)), "LogExpectedImprovement per second"
        return values, "LogExpectedImprovement"

    def _refit_due(self) -> bool:
        grown = len(self.y) - self.fitted_n
        if self.fitted_n < self.refit_all_below:
            return grown >= self.refit_every
        return grown >= max(self.refit_every, self.refit_growth * self.fitted_n)

    def _action(self, i: int) -> PoolAction:
        return PoolAction(i, tuple(float(v) for v in self.pool[i].tolist()))

    # -------------------------------------------------------------- learning
    def _ingest(self, action: Any, measurement: Any,
                reward: float) -> None:
        i = int(action.index if isinstance(action, PoolAction) else action)
        if i in self.pending:
            self.pending.remove(i)
        if measurement is None or not np.isfinite(reward):
            return  # refused or failed: nothing measured
        self.idx.append(i)
        self.y.append(float(reward))
        from steer.policies.engine import CachedExactGP

        if self.source is None:
            return
        if isinstance(self.source, CachedExactGP) and len(self.idx) > self.exact_limit:
            self.source = None  # over the exact GP's budget: the next decision builds Nystrom
            return
        y_s = float(self._standardized(reward))
        if isinstance(self.source, CachedExactGP):  # the cached cross factor serves row i
            self.source.add(self.pool[i], y_s, index=i)
        else:
            self.source.add(self.pool[i], y_s)


class RandomPoolPolicy(BasePolicy):
    """Uniformly random feasible candidates, never the same one twice (a baseline)."""

    name = "random-pool"
    drives = ("pool",)
    version = "1"

    def _reset(self) -> None:
        pool = getattr(self.context, "pool_unit", None)
        if not isinstance(self.context, PoolContext) or pool is None:
            raise ConfigError("policy 'random-pool' needs an environment with a candidate pool",
                              "use it with steer/CandidatePool-v0")
        self.pool = np.asarray(pool, float)
        self.seen: set[int] = set()

    def _suggest(self, observation: Any, info: dict[str, Any], n: int) -> list[Proposal]:
        mask = np.asarray(info.get("action_mask", np.ones(len(self.pool), bool)), bool).copy()
        mask[list(self.seen)] = False
        free = np.flatnonzero(mask)
        pick = self.rng.choice(free, size=min(n, len(free)), replace=False) if len(free) else []
        return [Proposal(PoolAction(int(i), tuple(float(v) for v in self.pool[i])), 0.0,
                         {"rank": k, "phase": "random", "n_feasible": int(len(free))})
                for k, i in enumerate(pick)]

    def _ingest(self, action: Any, measurement: Any, reward: float) -> None:
        if measurement is not None:
            self.seen.add(int(getattr(action, "index", action)))
