"""Scoring large discrete candidate sets fast: cached, incrementally updated GP posteriors.

BoTorch's default path recomputes a GP posterior over every candidate from
scratch at every decision: for 1,000 observations and 100,000 candidates that
is a dense `N x n` kernel block and a triangular solve each time. A telescope
catalog does not change between decisions and one observation arrives at a
time, so this module keeps the posterior *mean and variance of every
candidate* and updates them in `O(N)` or `O(N n)` work per new observation:

* :class:`CachedExactGP`: exact GP. Keeps the Cholesky factor ``L`` of the
  training covariance (grown by one row per observation, `O(n^2)`) and, per
  candidate, the posterior mean and variance. A new point ``x`` with noisy
  value ``y`` changes them by the rank-one GP update

      c_* = k(X*, x) - k(X*, X) K^{-1} k(X, x)
      mean_* += c_* (y - mean(x)) / (var(x) + noise),  var_* -= c_*^2 / (var(x) + noise)

  computed in chunks of candidates (bounded memory).
* :class:`NystromGP`: approximate GP for many observations: Bayesian linear
  regression on ``m`` Nystrom features ``phi(x) = L_uu^{-1} k(Z, x)`` (the
  deterministic-training-conditional approximation with the exact prior
  variance restored on the diagonal). An update costs `O(N m)` whatever
  the number of observations: latency stays flat as data accumulate.

Both expose :meth:`mean_var`, ``covariance_with`` (what observing one
candidate would change: :class:`PendingBeliever` conditions on points still
pending with it) and a BoTorch model view
(:class:`CandidatePosteriorModel`) so BoTorch's analytic acquisition
functions (``LogExpectedImprovement``, ``UpperConfidenceBound``...) score the
candidates by index. The per-target light-curve GPs of ``bo`` are in
:mod:`steer.policies.gp_bank`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal

__all__ = ["RBFHyper", "CachedExactGP", "NystromGP", "CandidatePosteriorModel",
           "PendingBeliever", "best_candidates"]

_DT = torch.float64


class RBFHyper:
    """Hyperparameters of a scaled RBF kernel with a constant mean.

    Args:
        lengthscale: `d`-dim lengthscales (ARD) or a scalar.
        outputscale: Prior variance of the function.
        noise: Observation noise variance.
        mean: Constant prior mean.
    """

    def __init__(self, lengthscale: torch.Tensor | float, outputscale: float, noise: float,
                 mean: float = 0.0) -> None:
        self.lengthscale = torch.as_tensor(lengthscale, dtype=_DT)
        self.outputscale = float(outputscale)
        self.noise = float(noise)
        self.mean = float(mean)

    @classmethod
    def from_botorch(cls, model: object) -> RBFHyper:
        """Read them from a fitted BoTorch ``SingleTaskGP`` (RBF, no transforms)."""
        covar = model.covar_module  # type: ignore[attr-defined]
        base = getattr(covar, "base_kernel", covar)
        scale = float(getattr(covar, "outputscale", torch.tensor(1.0)).detach())
        noise = float(model.likelihood.noise.detach().mean())  # type: ignore[attr-defined]
        mean = float(model.mean_module.constant.detach())  # type: ignore[attr-defined]
        return cls(base.lengthscale.detach().reshape(-1), scale, noise, mean)

    def k(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Kernel matrix between `p x d` and `q x d` points."""
        return self.outputscale * torch.exp(
            -0.5 * torch.cdist(a / self.lengthscale, b / self.lengthscale).square())


class CachedExactGP:
    """Exact GP posterior over a fixed candidate set, updated one observation at a time.

    When ``N x n`` fits in ``cache_bytes`` it also keeps the cross factor
    ``B = k(X*, X) L^{-T}`` (one column more per observation), so an update is
    one `N x n` matrix-vector product instead of a fresh `N x n` kernel block.

    Args:
        candidates: `N x d` candidate points (fixed, e.g. a catalog).
        hyper: Kernel hyperparameters (refit elsewhere, then :meth:`rebuild`).
        chunk: Candidates processed per block (bounds memory at `chunk x n`).
        cache_bytes: Memory allowed for the cross factor ``B`` (0 disables it).
    """

    def __init__(self, candidates: torch.Tensor, hyper: RBFHyper, chunk: int = 16384,
                 cache_bytes: float = 2e9) -> None:
        self.xc = candidates.to(_DT)
        self.hyper = hyper
        self.chunk = int(chunk)
        self.cache_bytes = float(cache_bytes)
        self._b: torch.Tensor | None = None  # `N x capacity` cross factor
        self.x = torch.empty(0, self.xc.shape[1], dtype=_DT)
        self.y = torch.empty(0, dtype=_DT)
        self._lbuf = torch.zeros(0, 0, dtype=_DT)  # Cholesky factor, grown by capacity
        self._beta = torch.zeros(0, dtype=_DT)  # L^{-1} (y - mean), grown likewise
        self.mean = torch.full((len(self.xc),), hyper.mean, dtype=_DT)
        self.var = torch.full((len(self.xc),), hyper.outputscale, dtype=_DT)

    @property
    def n(self) -> int:
        """Number of observations."""
        return len(self.y)

    @property
    def chol(self) -> torch.Tensor:
        """The `n x n` lower Cholesky factor of the training covariance (a view)."""
        return self._lbuf[:self.n, :self.n]

    def _reserve(self, rows: int) -> None:
        if self._lbuf.shape[0] >= rows:
            return
        cap = max(64, rows + max(64, rows // 4))
        buf = torch.zeros(cap, cap, dtype=_DT)
        beta = torch.zeros(cap, dtype=_DT)
        n = self.n
        buf[:n, :n] = self._lbuf[:n, :n]
        beta[:n] = self._beta[:n]
        self._lbuf, self._beta = buf, beta

    def add(self, x: torch.Tensor, y: float, index: int | None = None) -> None:
        """Condition on one observation (`d`-dim ``x``).

        Args:
            x: Where it was observed.
            y: The observed value.
            index: The candidate row ``x`` is, if it is one (a catalog target):
                then ``L^{-1} k(X, x)`` is read from the cached cross factor and
                the update costs `O(N n)` with no `O(n^2)` solve.
        """
        x = x.to(_DT).reshape(1, -1)
        h = self.hyper
        n = self.n
        k_xx = h.k(x, x)[0, 0] + h.noise
        use_b = self._ensure_b(n + 1)
        if n:
            if use_b and index is not None:
                l_vec = self._b[int(index), :n].clone()
            else:  # a solve needs a contiguous factor (a strided view is ~100x slower)
                kx = h.k(self.x, x)[:, 0]  # `n`
                l_vec = torch.linalg.solve_triangular(self.chol.contiguous(), kx.unsqueeze(-1),
                                                      upper=False)[:, 0]
            w = None if use_b else torch.linalg.solve_triangular(
                self.chol.contiguous().T, l_vec.unsqueeze(-1), upper=True)[:, 0]
            l_nn = torch.sqrt(torch.clamp(k_xx - l_vec @ l_vec, min=1e-12))
            mu_x = h.mean + float(l_vec @ self._beta[:n])
        else:
            l_vec = torch.empty(0, dtype=_DT)
            w = l_vec
            l_nn = torch.sqrt(k_xx)
            mu_x = h.mean
        s = float(l_nn * l_nn)  # predictive variance of y at x (incl. noise)
        r = float(y) - mu_x
        for start in range(0, len(self.xc), self.chunk):
            sl = slice(start, start + self.chunk)
            c = h.k(self.xc[sl], x)[:, 0]
            if n:
                c = c - (self._b[sl, :n] @ l_vec if use_b else h.k(self.xc[sl], self.x) @ w)
            if use_b:
                self._b[sl, n] = c / l_nn
            self.mean[sl] += c * (r / s)
            self.var[sl] -= c * c / s
        self.var.clamp_(min=1e-12)
        self._reserve(n + 1)
        self._lbuf[n, :n] = l_vec
        self._lbuf[n, n] = l_nn
        self._beta[n] = r / float(l_nn)
        self.x = torch.cat([self.x, x])
        self.y = torch.cat([self.y, torch.tensor([float(y)], dtype=_DT)])

    def _ensure_b(self, cols: int, fresh: bool = False) -> bool:
        """Make room for ``cols`` columns of ``B`` if the memory budget allows it."""
        if self._b is not None and self._b.shape[1] >= cols:
            return True
        if self._b is None and cols > 1 and not fresh:
            return False  # started without the cache: stay consistent until rebuild
        cap = max(64, cols + max(64, cols // 4))
        if len(self.xc) * cap * 8 > self.cache_bytes:
            self._b = None
            return False
        b = torch.empty(len(self.xc), cap, dtype=_DT)
        if self._b is not None:
            b[:, :self._b.shape[1]] = self._b
        self._b = b
        return True

    def rebuild(self, hyper: RBFHyper | None = None) -> None:
        """Recompute everything from the data (after a hyperparameter refit)."""
        if hyper is not None:
            self.hyper = hyper
        h = self.hyper
        x, y = self.x, self.y
        self.x = torch.empty(0, self.xc.shape[1], dtype=_DT)
        self.y = torch.empty(0, dtype=_DT)
        self._lbuf = torch.zeros(0, 0, dtype=_DT)
        self._beta = torch.zeros(0, dtype=_DT)
        if len(y) == 0:
            self.mean.fill_(h.mean)
            self.var.fill_(h.outputscale)
            return
        kxx = h.k(x, x) + h.noise * torch.eye(len(x), dtype=_DT)
        chol = torch.linalg.cholesky(kxx)
        self._reserve(len(y))  # while n == 0: nothing to copy
        self.x, self.y = x, y
        self._lbuf[:len(y), :len(y)] = chol
        self._beta[:len(y)] = torch.linalg.solve_triangular(
            chol, (y - h.mean).unsqueeze(-1), upper=False)[:, 0]
        alpha = torch.cholesky_solve((y - h.mean).unsqueeze(-1), chol)[:, 0]
        self._b = None
        use_b = self._ensure_b(len(x), fresh=True)
        for start in range(0, len(self.xc), self.chunk):
            sl = slice(start, start + self.chunk)
            kcx = h.k(self.xc[sl], x)
            v = torch.linalg.solve_triangular(chol, kcx.T, upper=False)  # `n x chunk`
            if use_b:
                self._b[sl, :len(x)] = v.T
            self.mean[sl] = h.mean + kcx @ alpha
            self.var[sl] = (h.outputscale - v.square().sum(0)).clamp(1e-12)

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of every candidate (`N`-dim each)."""
        return self.mean, self.var

    def covariance_with(self, index: int) -> torch.Tensor:
        """Posterior covariance of every candidate with candidate ``index`` (`N`-dim).

        One `N x n` matrix-vector product with the cached cross factor (else a
        solve and a chunked kernel block): what observing ``index`` would
        change, before anything is observed.
        """
        h = self.hyper
        n = self.n
        xp = self.xc[int(index)].reshape(1, -1)
        use_b = self._b is not None and n > 0
        w = None
        if n and not use_b:
            w = torch.cholesky_solve(h.k(self.x, xp), self.chol.contiguous())[:, 0]
        out = torch.empty(len(self.xc), dtype=_DT)
        for start in range(0, len(self.xc), self.chunk):
            sl = slice(start, start + self.chunk)
            c = h.k(self.xc[sl], xp)[:, 0]
            if n:
                c = c - (self._b[sl, :n] @ self._b[int(index), :n] if use_b
                         else h.k(self.xc[sl], self.x) @ w)
            out[sl] = c
        return out


class NystromGP:
    """Approximate GP with ``m`` inducing points; `O(N m)` per update at any ``n``.

    Args:
        candidates: `N x d` candidate points.
        inducing: `m x d` inducing points (e.g. a Sobol or k-means subset).
        hyper: Kernel hyperparameters.
        chunk: Candidates per block when the feature cache would not fit.
        cache_bytes: Keep the `N x m` candidate features in memory up to this size.
    """

    def __init__(self, candidates: torch.Tensor, inducing: torch.Tensor, hyper: RBFHyper,
                 chunk: int = 65536, cache_bytes: float = 4.5e9) -> None:
        self.xc = candidates.to(_DT)
        self.z = inducing.to(_DT)
        self.hyper = hyper
        self.chunk = int(chunk)
        m = len(self.z)
        kuu = hyper.k(self.z, self.z) + 1e-8 * hyper.outputscale * torch.eye(m, dtype=_DT)
        self.luu = torch.linalg.cholesky(kuu)
        self.sigma_w = torch.eye(m, dtype=_DT)  # posterior covariance of the weights
        self.mu_w = torch.zeros(m, dtype=_DT)
        self.n = 0
        self._phi: torch.Tensor | None = None
        if len(self.xc) * m * 8 <= cache_bytes:
            self._phi = self._features(self.xc)
        self.mean = torch.full((len(self.xc),), hyper.mean, dtype=_DT)
        self.var = torch.full((len(self.xc),), hyper.outputscale, dtype=_DT)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.solve_triangular(self.luu, self.hyper.k(self.z, x), upper=False).T

    def _blocks(self):
        for start in range(0, len(self.xc), self.chunk):
            sl = slice(start, start + self.chunk)
            yield sl, (self._phi[sl] if self._phi is not None else self._features(self.xc[sl]))

    def add(self, x: torch.Tensor, y: float) -> None:
        """Condition on one observation: Sherman-Morrison in weight space."""
        h = self.hyper
        phi = self._features(x.to(_DT).reshape(1, -1))[0]  # `m`
        u = self.sigma_w @ phi
        r = float(y) - (h.mean + float(phi @ self.mu_w))
        s_obs = h.noise + max(h.outputscale - float(phi @ phi), 0.0)
        s = float(phi @ u) + s_obs
        self.mu_w = self.mu_w + u * (r / s)
        self.sigma_w = self.sigma_w - torch.outer(u, u) / s
        for sl, phi_c in self._blocks():
            c = phi_c @ u
            self.mean[sl] += c * (r / s)
            self.var[sl] -= c * c / s
        self.var.clamp_(min=1e-12)
        self.n += 1

    def fit_batch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Condition on many observations at once (`O(n m^2 + N m^2)`), e.g. after a refit."""
        h = self.hyper
        phi = self._features(x.to(_DT))  # `n x m`
        s = h.noise + (h.outputscale - phi.square().sum(1)).clamp(min=0.0)  # `n`
        prec = torch.eye(phi.shape[1], dtype=_DT) + (phi / s[:, None]).T @ phi
        chol = torch.linalg.cholesky(prec)
        self.sigma_w = torch.cholesky_inverse(chol)
        self.mu_w = self.sigma_w @ ((phi / s[:, None]).T @ (y.to(_DT) - h.mean))
        for sl, phi_c in self._blocks():
            self.mean[sl] = h.mean + phi_c @ self.mu_w
            prior_gap = (h.outputscale - phi_c.square().sum(1)).clamp(min=0.0)
            self.var[sl] = (prior_gap + ((phi_c @ self.sigma_w) * phi_c).sum(1)).clamp(1e-12)
        self.n = len(y)

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of every candidate (`N`-dim each)."""
        return self.mean, self.var

    def covariance_with(self, index: int) -> torch.Tensor:
        """Posterior covariance of every candidate with candidate ``index`` (`N`-dim).

        In weight space, ``phi(X*) Sigma_w phi(x)``: the change :meth:`add`
        would make, `O(N m)`.
        """
        u = self.sigma_w @ self._features(self.xc[int(index)].reshape(1, -1))[0]
        out = torch.empty(len(self.xc), dtype=_DT)
        for sl, phi_c in self._blocks():
            out[sl] = phi_c @ u
        return out


class PendingBeliever:
    """Variances of every candidate once the pending candidates are measured.

    The kriging believer of Ginsbourger et al. (2010): a point chosen but not
    yet measured (another telescope's exposure, one still in flight) is
    treated as observed at its posterior mean, which leaves every mean as it
    is and shrinks the variances around it exactly as ``add`` would. Each
    pending point costs one ``covariance_with`` plus `O(N)` per earlier
    pending point; the source is not changed.

    Args:
        source: The cached posterior.
        pending: Candidate indices already pending.
    """

    def __init__(self, source: CachedExactGP | NystromGP, pending: Sequence[int] = ()) -> None:
        self.source = source
        self.pending: list[int] = []
        self.variance = source.mean_var()[1].clone()
        self._u: list[torch.Tensor] = []
        for p in pending:
            self.add(p)

    def add(self, index: int) -> None:
        """One more pending candidate."""
        c = self.source.covariance_with(index)
        for u in self._u:  # covariance given the earlier pending points
            c = c - u * u[index]
        u = c / math.sqrt(float(self.variance[index]) + self.source.hyper.noise)
        self.variance = (self.variance - u * u).clamp(min=1e-12)
        self._u.append(u)
        self.pending.append(int(index))


class CandidatePosteriorModel(Model):
    """A BoTorch ``Model`` view of a cached posterior, indexed by candidate.

    ``posterior(X)`` takes `b x q x 1` candidate *indices* (as floats) and
    returns independent normals with the cached means and variances, so any
    analytic BoTorch acquisition function scores the whole catalog in one
    vectorised call.
    """

    _num_outputs = 1

    def __init__(self, source: CachedExactGP | NystromGP,
                 variance: torch.Tensor | None = None) -> None:
        super().__init__()
        self.source = source
        self.variance = variance  # e.g. a PendingBeliever's; None: the source's

    @property
    def num_outputs(self) -> int:
        """One output."""
        return 1

    def posterior(self, X: torch.Tensor, output_indices=None, observation_noise=False,
                  posterior_transform=None) -> GPyTorchPosterior:
        """Posterior at candidate indices ``X`` (`b x q x 1`)."""
        idx = X[..., 0].long()
        mean, var = self.source.mean_var()
        if self.variance is not None:
            var = self.variance
        mvn = MultivariateNormal(mean[idx], torch.diag_embed(var[idx]))
        post = GPyTorchPosterior(mvn)
        return posterior_transform(post) if posterior_transform is not None else post

    def condition_on_observations(self, X, Y, **kwargs):  # pragma: no cover - not used
        raise NotImplementedError("update the source with .add(x, y)")


def best_candidates(acq_values: torch.Tensor, mask: torch.Tensor | None, k: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` acquisition values over feasible candidates (values, indices)."""
    vals = acq_values if mask is None else torch.where(mask, acq_values, -math.inf)
    top = torch.topk(vals, min(k, len(vals)))
    return top.values, top.indices
