"""The light-curve models of a catalog: many cached 1-D GPs over time, batched.

``bo`` keeps one GP per (time scale, target) here (:class:`TimeSeriesGPBank`),
updated incrementally as measurements arrive; the catalog-scale candidate
engine of ``bo-pool`` is :mod:`steer.policies.engine`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from steer.policies.gp_cache import PaddedFactors

__all__ = ["TimeSeriesGPBank"]

_DT = torch.float64
_FACTOR_CHUNK = 8192  # components factored per batch by refactor_all (bounds memory)


class TimeSeriesGPBank:
    """Many independent 1-D GPs over time, cached: one per (time scale, target).

    The light-curve models of a catalog: component ``(j, i)`` models target
    ``i`` under time scale ``l_j`` with the kernel

        k(t, t') = c + s_ji exp(-(t - t')^2 / (2 l_j^2))

    (``c``: prior variance of the target's mean; ``s_ji``: its variability
    amplitude) and each observation's own noise variance. All ``L x N``
    components are batched: their Cholesky factors and grid cross terms are
    cached (:class:`~steer.policies.gp_cache.PaddedFactors`, sized per target)
    and only the observed target's ``L`` rows are refactored when a
    measurement arrives. The model pads every target's data to ``cap`` (the
    most observed target's count plus 8) with observations at ``pad_t`` of
    variance ``pad_var``. With several time scales, :meth:`fit_time_scales`
    sets each component's amplitude and each target's posterior weights over
    the time scales (Bayesian model averaging, empirical-Bayes prior).

    Args:
        n_targets: Number of targets ``N``.
        grid: `G` times (days) over which variances are integrated.
        mean_prior_var: Prior variance ``c`` of each target's mean.
        lengthscales: The time scales (days).
        max_obs: Most recent observations kept per target.
        amplitude_bins: Components per time scale, one per range of the
            amplitude grid (see :meth:`fit_time_scales`); ``L`` is then the
            number of time scales times this.
    """

    pad_t, pad_var = -1000.0, 1e4  # padding observations: far away, nearly uninformative

    def __init__(self, n_targets: int, grid: torch.Tensor, mean_prior_var: float,
                 lengthscales: list[float], max_obs: int, amplitude_bins: int = 1) -> None:
        self.bins = int(amplitude_bins)
        lengthscales = [v for v in lengthscales for _ in range(self.bins)]  # a copy per range
        self.n, self.n_l = int(n_targets), len(lengthscales)
        self.grid = grid.to(_DT)
        self.c = float(mean_prior_var)
        self.max_obs = int(max_obs)
        self.obs: list[list[tuple[float, float, float]]] = [[] for _ in range(self.n)]
        self.ell = torch.tensor(lengthscales, dtype=_DT).repeat_interleave(self.n)  # `L*N`
        self.outputscale = torch.full((self.n_l * self.n,), 0.05, dtype=_DT)
        self.weights = torch.full((self.n, self.n_l), 1.0 / self.n_l, dtype=_DT)
        self.ell_prior = torch.full((self.n_l,), 1.0 / self.n_l, dtype=_DT)

    def scale_weights(self, i: int) -> torch.Tensor:
        """Target ``i``'s posterior weights per time scale (summed over amplitude ranges)."""
        return self.weights[i].reshape(-1, self.bins).sum(-1)

    def scale_prior(self) -> torch.Tensor:
        """The catalog's prior weights per time scale (summed over amplitude ranges)."""
        return self.ell_prior.reshape(-1, self.bins).sum(-1)

    def tensors(self, n_cap: int | None = None, rows: list[int] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded `R x n` times, values and noise variances of targets ``rows`` (all: None)."""
        n_max = n_cap or max(1, max(len(o[-self.max_obs:]) for o in self.obs))
        rows = list(range(self.n)) if rows is None else rows
        x = torch.full((len(rows), n_max), self.pad_t, dtype=_DT)
        y = torch.zeros((len(rows), n_max), dtype=_DT)
        v = torch.full((len(rows), n_max), self.pad_var, dtype=_DT)
        for r, i in enumerate(rows):
            o = self.obs[i][-self.max_obs:]
            if o:
                a = torch.tensor(o, dtype=_DT)
                x[r, :len(a)], y[r, :len(a)], v[r, :len(a)] = a[:, 0], a[:, 1], a[:, 2]
        return x, y, v

    def _fit_batches(self, chunk: int
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The model's data for :meth:`fit_time_scales`, targets grouped by their count.

        The model pads every target to the most observed one's count ``n_max``;
        those ``m = n_max - n`` padding observations (one time, one variance,
        value 0) are, for the marginal likelihood, one observation of variance
        ``pad_var / m`` times a factor that depends on neither the time scale
        nor the amplitude, so every comparison the fit makes (per target, over
        time scales and amplitudes) is the padded model's while each target's
        matrices are only ``n + 1`` wide. Chunks of targets bound the memory
        at what ``chunk`` fully padded targets cost.

        Yields:
            ``(rows, x, y, v)``: target indices and their `B x w` times, values
            and noise variances.
        """
        counts = torch.tensor([self.count(i) for i in range(self.n)])
        n_max = max(1, int(counts.max()))
        for n in torch.unique(counts).tolist():
            members = torch.nonzero(counts == n).flatten()
            width = n + (n < n_max)
            step = max(chunk, chunk * n_max**2 // width**2)
            for lo in range(0, len(members), step):
                rows = members[lo:lo + step]
                x, y, v = self.tensors(n_cap=width, rows=rows.tolist())
                if n < n_max:
                    v[:, n] = self.pad_var / (n_max - n)
                yield rows, x, y, v

    def kernel(self, s: torch.Tensor, ell: torch.Tensor, a: torch.Tensor, b: torch.Tensor
               ) -> torch.Tensor:
        """Batched kernel, `B x p` and `B x q` times -> `B x p x q`."""
        # in place: at catalog scale (`B x p x q` of ~20M) each temporary costs more in
        # page faults than the arithmetic (3.0 s against 0.4 s at 50,000 x 9 x 48)
        d = a.unsqueeze(-1) - b.unsqueeze(-2)
        d.mul_(ell.reciprocal()[:, None, None]).square_().mul_(-0.5).exp_()
        return d.mul_(s[:, None, None]).add_(self.c)

    def add_target(self) -> None:
        """One more target with no observations (a target of opportunity).

        Its components take the bank's median amplitude per time scale, and its
        weights over the time scales the catalog's prior; call
        :meth:`refactor_all` afterwards.
        """
        n, n_l = self.n, self.n_l
        ell, amp = self.ell.reshape(n_l, n), self.outputscale.reshape(n_l, n)
        self.ell = torch.cat([ell, ell[:, :1]], 1).reshape(-1).contiguous()
        self.outputscale = torch.cat([amp, amp.median(1).values[:, None]], 1).reshape(-1)
        self.weights = torch.cat([self.weights, self.ell_prior[None, :]], 0)
        self.obs.append([])
        self.n = n + 1

    def refactor_all(self) -> None:
        """Factor every component (after a refit, or when a target outgrows the cache)."""
        self._cap = max(1, max(self.count(i) for i in range(self.n))) + 8
        self._factors = PaddedFactors(self, self._cap, _FACTOR_CHUNK)

    def count(self, i: int) -> int:
        """Observations of target ``i`` the model keeps (the most recent ``max_obs``)."""
        return len(self.obs[i][-self.max_obs:])

    def cached_bytes(self) -> int:
        """Memory of the cached factors."""
        return self._factors.nbytes()

    def add(self, i: int, t: float, y: float, noise_var: float) -> None:
        """Record one observation of target ``i`` (no refactoring: see :meth:`refactor`)."""
        self.obs[i].append((float(t), float(y), float(noise_var)))

    def refactor(self, i: int) -> None:
        """Refactor only target ``i``'s components after it was observed."""
        if not self._factors.refactor(i):
            self.refactor_all()

    def posterior(self, t_star: torch.Tensor, targets: torch.Tensor | None = None,
                  grid_var: bool = False) -> tuple[torch.Tensor, ...]:
        """Per component: grid/t* covariances, variance and mean at `M x E` times ``t_star``.

        Args:
            t_star: `M x E` test times (days), one row per target asked for.
            targets: The `M` target indices asked for (all `N`: None).

        Returns:
            ``L x M x G x E``, ``L x M x E`` and ``L x M x E`` tensors; with
            ``grid_var``, also the ``L x M x G`` posterior variances on the grid.
        """
        targets = torch.arange(self.n) if targets is None else torch.as_tensor(targets)
        return self._factors.posterior(t_star, targets, grid_var)

    def fit_time_scales(self, amplitudes: torch.Tensor, log_prior: torch.Tensor,
                        chunk: int = 32) -> None:
        """Amplitude per component and each target's weights over the time scales.

        Scores every (time scale, amplitude) pair by the log marginal
        likelihood of each target's data plus the amplitude's log prior
        (chunks of targets: bounded memory), keeps the best amplitude per time
        scale, estimates the catalog's distribution of time scales by EM (the
        empirical-Bayes prior: a target with few visits follows the
        population, one with many its own data) and sets the posterior weights.

        With ``amplitude_bins`` > 1 the amplitude is integrated over instead of
        fixed at its most probable value: the bank's components are that many
        consecutive copies of each time scale, the amplitude grid is cut into
        as many contiguous ranges, and each copy
        takes one range: its amplitude the range's posterior mean, its score the
        range's posterior mass (the grid is geometric: the prior density times
        ``s``). A target whose few measurements agree then keeps weight on the
        larger amplitudes its data cannot exclude.

        Args:
            amplitudes: `A` candidate amplitudes ``s`` (mag^2), increasing.
            log_prior: `A` log prior densities of those amplitudes.
        """
        bins = self.bins
        ells = self.ell[::self.n * bins]  # each time scale once
        n_l = len(ells)
        scores = torch.empty(self.n, n_l * bins, dtype=_DT)
        best_amp = torch.empty(self.n, n_l * bins, dtype=_DT)
        edges = torch.linspace(0, len(amplitudes), bins + 1).round().long().tolist()
        for rows, x, y, v in self._fit_batches(chunk):
            d2 = (x.unsqueeze(-1) - x.unsqueeze(-2)) ** 2  # `B x n x n`
            rbf = torch.exp(-0.5 * d2[:, None] / ells[None, :, None, None] ** 2)
            k = (self.c + amplitudes[None, None, :, None, None] * rbf[:, :, None]
                 + torch.diag_embed(v)[:, None, None])  # `B x L x A x n x n`
            chol = torch.linalg.cholesky(k)
            rhs = y[:, None, None, :, None].expand(-1, n_l, len(amplitudes), -1, -1)
            alpha = torch.linalg.solve_triangular(chol, rhs, upper=False)[..., 0]
            logml = (-0.5 * (alpha**2).sum(-1)
                     - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1))
            if bins == 1:
                best, arg = (logml + log_prior).max(dim=-1)  # `B x L`
                scores[rows], best_amp[rows] = best, amplitudes[arg]
                continue
            lp = logml + log_prior + torch.log(amplitudes)  # mass on a geometric grid
            for k in range(bins):
                part = lp[..., edges[k]:edges[k + 1]]  # `B x L x A_k`
                w = torch.softmax(part, -1)
                scores[rows, k::bins] = torch.logsumexp(part, -1)
                best_amp[rows, k::bins] = (w * amplitudes[edges[k]:edges[k + 1]]).sum(-1)
        log_pi = torch.log(self.ell_prior)
        for _ in range(50):  # EM for the catalog's mixture weights over time scales
            log_pi = torch.log(torch.softmax(scores + log_pi, -1).mean(0).clamp_min(1e-12))
        self.ell_prior = log_pi.exp()
        self.weights = torch.softmax(scores + log_pi, -1)
        self.outputscale = best_amp.T.reshape(-1).contiguous()  # `L*N`, time scale major
