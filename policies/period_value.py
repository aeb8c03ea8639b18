"""What one more measurement tells about a target's period.

``bo``'s light-curve GPs value a frame by what it tells about tonight's light
curve (and, with ``horizon_d``, the next nights'); a periodic star's period is
pinned by points spread over many nights, so a frame of a star with seven
good archive points can be worth more for its period than a first frame of a
new one, and the light-curve value cannot see it. This module keeps, per
target, a posterior over "constant" and "periodic with frequency ``f``" on a
grid of frequencies (a Bayesian two-harmonic regression for each ``f``, in
closed form), and values a measurement at ``t*`` with noise ``sigma`` by the
mutual information between its outcome and that discrete hypothesis:

    I(y*; h) >= -sum_i w_i log sum_j w_j exp(-D_B(p_i, p_j))

the pairwise Bhattacharyya lower bound of Kolchinsky & Tracey (Entropy 19,
2017) over the predictive Gaussians ``p_i = N(x*_i' mu_i, x*_i' S_i x*_i +
sigma^2)`` of the ``components`` most probable hypotheses (renormalised). A
constant star whose points agree puts its weight on "constant" and gets
nothing; a star with few points has predictions that overlap at every
frequency and gets little; a star whose points leave a few aliases open gets
most: the frame that tells them apart.

With ``transient_span_d`` (``bo``'s ``transient_peaks``, an option) the
posterior also holds outbursts peaking on each day
(:mod:`steer.policies.transient_value`): half the prior on "constant", a
quarter on "periodic", a quarter on "an outburst", and a frame is worth what
it tells about which, and when.

The information cannot exceed the entropy of a target's hypotheses, so
:func:`best_information` computes it only for the targets whose score could
reach the best few with it (at 10,000 targets most cannot): the same
ranking, without fitting every target's grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from steer.policies.transient_value import TransientGrid

__all__ = ["PeriodPosterior", "best_information", "from_history"]

_P = 5  # basis: 1, cos wt, sin wt, cos 2wt, sin 2wt
_CONSTANT_SURE = 0.99  # a target this probably constant is given no period information
_CHUNK = 16  # targets whose frequency grids are fitted at once (bounds memory)
_REFINE_CELLS = 4  # with ``refine``: cells refined per hypothesis kept
_SUB_OFFSETS = (np.arange(8) + 0.5) / 8 - 0.5  # where in its cell a refined cell is evaluated


def _basis(t: np.ndarray, f: np.ndarray) -> np.ndarray:
    """`... x P` two-harmonic basis at times ``t`` for frequencies ``f`` (broadcast)."""
    w = 2.0 * np.pi * f * t
    c, s = np.cos(w), np.sin(w)  # the second harmonic by the double angle: half the trig
    return np.stack([np.ones_like(w), c, s, c * c - s * s, 2.0 * s * c], -1)


def _forward(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``L^-1 b`` for batched lower-triangular `P x P` ``chol`` (faster than a general
    solve for thousands of 5 x 5 systems)."""
    z = np.empty_like(b)
    for p in range(b.shape[-1]):
        z[..., p] = (b[..., p] - np.einsum("...q,...q->...", chol[..., p, :p], z[..., :p])
                     ) / chol[..., p, p]
    return z


class PeriodPosterior:
    """Per-target posterior over a constant or a periodic light curve of unknown frequency.

    Args:
        n_targets: Catalog rows.
        baseline_d: Span of the data (days): the frequency grid's step is 0.1 / baseline.
        period_range_d: Periods searched (days).
        components: Hypotheses kept per target (the most probable; renormalised).
        mean_std_mag: Prior std of the mean magnitude offset.
        amplitude_std_mag: Prior std of each first- and second-harmonic coefficient.
        jitter_mag: Added in quadrature to each point's error (what two harmonics miss).
        prior_constant: Prior probability that a target is constant.
        transient_span_d: With it, ``(start, end)`` of the data and tonight (days):
            the posterior also holds outbursts peaking from 20 days before the
            start to 20 after the end (:class:`~steer.policies.transient_value.TransientGrid`),
            and what is not constant is periodic or an outburst with equal prior
            probability.
        refine: Value each of the best grid cells by its likelihood integrated over
            the cell's width, not at its centre (:meth:`_refined`).
    """

    def __init__(self, n_targets: int, baseline_d: float,
                 period_range_d: Sequence[float] = (0.18, 1.25), components: int = 16,
                 mean_std_mag: float = 0.5, amplitude_std_mag: Sequence[float] = (0.2, 0.1),
                 jitter_mag: float = 0.01, prior_constant: float = 0.5,
                 transient_span_d: Sequence[float] | None = None,
                 refine: bool = False) -> None:
        lo, hi = 1.0 / float(period_range_d[1]), 1.0 / float(period_range_d[0])
        self.step = 0.1 / max(float(baseline_d), 0.3)
        self.freqs = np.arange(lo, hi, self.step)
        self.refine = bool(refine)
        self.m = int(components)
        a1, a2 = (float(v) ** 2 for v in amplitude_std_mag)
        self.prior_var = np.array([float(mean_std_mag) ** 2, a1, a1, a2, a2])
        self.jitter_var = float(jitter_mag) ** 2
        self.grid = (None if transient_span_d is None
                     else TransientGrid(*transient_span_d, components=components))
        varying = (1.0 - prior_constant) / (1 if self.grid is None else 2)
        self.log_prior = (np.log(prior_constant), np.log(varying / len(self.freqs)),
                          np.log(varying / self.grid.n_hypotheses) if self.grid else 0.0)
        self.mt = 0 if self.grid is None else self.grid.m
        self.n = 0
        self.t: list[list[float]] = []
        self.y: list[list[float]] = []
        self.e2: list[list[float]] = []
        self.freq = np.zeros((0, self.m + 1))  # component frequency (0: constant)
        self.mu = np.zeros((0, self.m + 1, _P))
        self.cov = np.zeros((0, self.m + 1, _P, _P))
        self.w = np.zeros((0, self.m + 1 + self.mt))
        self.outburst = {key: np.zeros((0, self.mt) + tail) for key, tail in
                         (("t0", ()), ("tr", ()), ("tf", ()), ("log_gmax", ()),
                          ("mu", (2,)), ("cov", (2, 2)))}
        self.stale = np.zeros(0, bool)
        self.counts = np.zeros(0, int)  # good measurements per target
        self._grow(int(n_targets))

    def _grow(self, k: int) -> None:
        """``k`` more catalog rows without data (one allocation for all of them)."""
        self.t += [[] for _ in range(k)]
        self.y += [[] for _ in range(k)]
        self.e2 += [[] for _ in range(k)]
        c = self.m + 1
        self.freq = np.concatenate([self.freq, np.zeros((k, c))])
        self.mu = np.concatenate([self.mu, np.zeros((k, c, _P))])
        self.cov = np.concatenate([self.cov, np.zeros((k, c, _P, _P))])
        self.w = np.concatenate([self.w, np.zeros((k, c + self.mt))])
        for key, arr in self.outburst.items():
            self.outburst[key] = np.concatenate([arr, np.ones((k,) + arr.shape[1:])])
        self.stale = np.concatenate([self.stale, np.ones(k, bool)])
        self.counts = np.concatenate([self.counts, np.zeros(k, int)])
        self.n += k

    def add_target(self) -> None:
        """One more catalog row, with no data: a frame of it would tell next to nothing
        about a period (below 1e-4 nats: only whether it varies), counted as nothing."""
        self._grow(1)

    def add(self, i: int, t_d: float, y_mag: float, noise_var: float) -> None:
        """A good measurement of target ``i`` (time, magnitude offset, error^2)."""
        self.t[i].append(float(t_d))
        self.y[i].append(float(y_mag))
        self.e2[i].append(float(noise_var))
        self.stale[i] = True
        self.counts[i] += 1

    def _update(self, rows: np.ndarray) -> None:
        """Refit the frequency grids of ``rows`` and keep their most probable hypotheses."""
        for lo in range(0, len(rows), _CHUNK):
            chunk = rows[lo:lo + _CHUNK]
            k = max(1, max(len(self.t[i]) for i in chunk))
            t, y, wt = (np.zeros((len(chunk), k)) for _ in range(3))
            for r, i in enumerate(chunk):
                c = len(self.t[i])
                t[r, :c], y[r, :c] = self.t[i], self.y[i]
                wt[r, :c] = 1.0 / (np.asarray(self.e2[i]) + self.jitter_var)
            lml, a, b = self._evidence(t, y, wt, self.freqs[None, :])  # `R x F`
            a0 = wt.sum(1) + 1.0 / self.prior_var[0]
            b0 = (wt * y).sum(1)
            lml0 = 0.5 * b0**2 / a0 - 0.5 * np.log(a0) - 0.5 * np.log(self.prior_var[0])
            if self.refine:
                lml, a, b, freq = self._refined(t, y, wt, lml)
            else:
                top = np.argpartition(-lml, self.m - 1, axis=1)[:, :self.m]  # `R x M`
                sel = (np.arange(len(chunk))[:, None], top)
                lml, a, b, freq = lml[sel], a[sel], b[sel], self.freqs[top]
            logw = lml + self.log_prior[1]
            inv = np.linalg.inv(a)  # `R x M x P x P`
            mu = (inv @ b[..., None])[..., 0]
            all_w = [(lml0 + self.log_prior[0])[:, None], logw]
            if self.grid is not None:
                fit = self.grid.fit(t, y, wt)
                all_w.append(fit.pop("log_ml") + self.log_prior[2])
                for key, arr in fit.items():
                    self.outburst[key][chunk] = arr
            all_w = np.concatenate(all_w, 1)
            all_w = np.exp(all_w - all_w.max(1, keepdims=True))
            self.w[chunk] = all_w / all_w.sum(1, keepdims=True)
            self.freq[chunk, 1:] = freq
            self.mu[chunk, 1:], self.cov[chunk, 1:] = mu, inv
            self.mu[chunk, 0] = 0.0
            self.mu[chunk, 0, 0] = b0 / a0
            self.cov[chunk, 0] = 0.0
            self.cov[chunk, 0, 0, 0] = 1.0 / a0
        self.stale[rows] = False

    def _evidence(self, t: np.ndarray, y: np.ndarray, wt: np.ndarray,
                  f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log marginal likelihood (`R x G`, up to the terms every hypothesis shares) and
        the posterior's precision (`R x G x P x P`) and ``X' W y`` (`R x G x P`) of `R`
        targets' data at frequencies ``f`` (`R x G`, or `1 x G` for all)."""
        x = _basis(t[:, None, :], f[:, :, None])  # `R x G x K x P`
        xw = x * wt[:, None, :, None]
        a = np.swapaxes(xw, -1, -2) @ x + np.diag(1.0 / self.prior_var)
        b = np.einsum("rfkp,rk->rfp", xw, y)
        chol = np.linalg.cholesky(a)
        z = _forward(chol, b)
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        return 0.5 * (z**2).sum(-1) - 0.5 * logdet - 0.5 * np.log(self.prior_var).sum(), a, b

    def _refined(self, t: np.ndarray, y: np.ndarray, wt: np.ndarray, lml: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The ``components`` most probable grid cells, each integrated over its width.

        A grid point stands for the cell of frequencies around it; with precise data
        the likelihood's peak is far narrower than a cell, and a point a fraction of a
        step off the true frequency can lose to an alias that happens to sit on one.
        The ``4 x components`` best cells are each evaluated at 8 frequencies across
        their width and valued by the mean likelihood (the integral over the cell);
        each kept cell is represented by its most likely frequency.
        """
        r = np.arange(len(t))[:, None]
        kk = min(self.freqs.size, _REFINE_CELLS * self.m)
        cells = np.argpartition(-lml, kk - 1, axis=1)[:, :kk]  # `R x KK`
        f_sub = (self.freqs[cells][..., None] + self.step * _SUB_OFFSETS).reshape(len(t), -1)
        lml_s, a_s, b_s = self._evidence(t, y, wt, f_sub)
        lml_s = lml_s.reshape(len(t), kk, _SUB_OFFSETS.size)
        peak = lml_s.max(-1)
        cell = peak + np.log(np.exp(lml_s - peak[..., None]).mean(-1))
        top = np.argpartition(-cell, self.m - 1, axis=1)[:, :self.m]  # `R x M` of the cells
        at = top * _SUB_OFFSETS.size + lml_s.argmax(-1)[r, top]
        return cell[r, top], a_s[r, at], b_s[r, at], f_sub[r, at]

    def entropy_bound(self) -> np.ndarray:
        """`N` upper bounds on any frame's information (nats): the entropy of each fitted
        target's hypotheses (0 if it is all but certainly constant or has no data), the
        most the kept hypotheses can hold for one not fitted since its last measurement."""
        w = self.w
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(w > 0, w * np.log(w), 0.0).sum(1)
        h = np.where(w[:, 0] < _CONSTANT_SURE, h, 0.0)
        h = np.where(self.stale, np.log(self.m + 1.0 + self.mt), h)
        return np.where(self.counts > 0, h, 0.0)

    def summary(self, i: int, t_ref_mjd: float) -> dict[str, object]:
        """What target ``i``'s data say (for a decision's explanation): the probability of
        each kind, the most probable period and, if it may be an outburst, the most
        probable peak (empty if not fitted since its last measurement)."""
        if self.stale[i] or not self.counts[i]:
            return {}
        w = self.w[i]
        out: dict[str, object] = {"variability": {
            "constant": round(float(w[0]), 3), "periodic": round(float(w[1:self.m + 1].sum()), 3),
            **({"transient": round(float(w[self.m + 1:].sum()), 3)} if self.mt else {})},
            "period_d": round(1.0 / float(self.freq[i, 1 + np.argmax(w[1:self.m + 1])]), 4),
            "period_probability": round(float(w[1:self.m + 1].max()), 3)}
        if self.mt:
            k = int(np.argmax(w[self.m + 1:]))
            o = {key: arr[i, k] for key, arr in self.outburst.items()}
            out["peak_mjd"] = round(float(o["t0"] + o["tr"] * np.log(o["tf"] / o["tr"] - 1.0)
                                          + t_ref_mjd), 2)
        return out

    def information(self, rows: np.ndarray, t_star_d: np.ndarray,
                    noise_var: np.ndarray) -> np.ndarray:
        """`R x E` information (nats) a measurement of each of ``rows`` at ``t_star_d``
        (`R x E`) with predicted noise ``noise_var`` (`R x E`) gives about its hypothesis."""
        rows = np.asarray(rows, int)
        stale = rows[self.stale[rows] & (self.counts[rows] > 0)]
        if len(stale):
            self._update(stale)
        out = np.zeros(t_star_d.shape)
        # a target all but certainly constant has nothing to tell (below 0.01 nat)
        live = np.flatnonzero((self.w[rows, 0] < _CONSTANT_SURE) & (self.counts[rows] > 0))
        for lo in range(0, len(live), 256):
            at = live[lo:lo + 256]
            r = rows[at]
            x = _basis(t_star_d[at, None, :], self.freq[r][:, :, None])  # `R x C x E x P`
            mean = np.einsum("rcep,rcp->rce", x, self.mu[r])
            var = np.einsum("rcep,rcpq,rceq->rce", x, self.cov[r], x)
            if self.grid is not None:
                m_o, v_o = TransientGrid.predictive(
                    t_star_d[at], {key: arr[r] for key, arr in self.outburst.items()})
                mean, var = np.concatenate([mean, m_o], 1), np.concatenate([var, v_o], 1)
            var = var + noise_var[at, None, :]
            vi, vj = var[:, :, None, :], var[:, None, :, :]
            d_b = ((mean[:, :, None, :] - mean[:, None, :, :]) ** 2 / (4.0 * (vi + vj))
                   + 0.5 * np.log((vi + vj) / (2.0 * np.sqrt(vi * vj))))  # `R x C x C x E`
            w = self.w[r]
            inner = np.einsum("rj,rije->rie", w, np.exp(-d_b))
            out[at] = -np.einsum("ri,rie->re", w, np.log(np.maximum(inner, 1e-300)))
        return np.maximum(out, 0.0)


def from_history(history: dict[str, np.ndarray], cat_mag: np.ndarray, t_ref_mjd: float,
                 end_mjd: float, transients: bool = False,
                 refine: bool = False) -> PeriodPosterior:
    """The posterior of every catalog target from its good archive measurements.

    Args:
        history: ``target_index``, ``mjd``, ``mag``, ``error_mag`` arrays.
        cat_mag: `N` catalog magnitudes (the offsets' zero points).
        t_ref_mjd: Time zero (days are counted from it).
        end_mjd: End of tonight (with the earliest archive point, the baseline).
        transients: Also hold outburst hypotheses (``transient_span_d``).
        refine: Integrate the best frequency cells over their width.
    """
    idx, mjd = np.asarray(history["target_index"], int), np.asarray(history["mjd"], float)
    mag, err = np.asarray(history["mag"], float), np.asarray(history["error_mag"], float)
    good = np.isfinite(mag) & np.isfinite(err) & (err > 0)
    start = float(mjd[good].min()) if good.any() else t_ref_mjd
    span = (start - t_ref_mjd, end_mjd - t_ref_mjd) if transients else None
    post = PeriodPosterior(len(cat_mag), end_mjd - start, transient_span_d=span, refine=refine)
    for i, t, m, e in zip(idx[good], mjd[good], mag[good], err[good], strict=True):
        post.add(int(i), float(t) - t_ref_mjd, float(m) - float(cat_mag[i]), float(e) ** 2)
    return post


def best_information(post: PeriodPosterior, base: np.ndarray, extra: np.ndarray,
                     weighted_s: np.ndarray, allowed: np.ndarray, t_star_d: np.ndarray,
                     noise_var: np.ndarray, keep: int,
                     choose: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                     ) -> np.ndarray:
    """`N x E` information (nats), exact wherever it can change the ``keep`` best scores.

    The score of a (target, exposure) pair is ``(base + extra x nats) / weighted_s``
    over the ``allowed`` pairs (narrowed per target by ``choose``, if given). Targets
    are taken in decreasing order of their best score with the nats at their upper
    bound (:meth:`PeriodPosterior.entropy_bound`), in growing batches, until the
    ``keep``-th best exact score exceeds the bound of every target left; those are
    left at 0 (their scores can only be lower than the ``keep`` best).

    Args:
        post: The targets' period posteriors.
        base: `N x E` value without the period (e.g. priority x light-curve nats).
        extra: `N x E` what a nat on the period adds to the value (0 where the frame
            would teach nothing).
        weighted_s: `N x E` the seconds each value is divided by.
        allowed: `N x E` the pairs that may be chosen.
        t_star_d: `N x E` mid-exposure times (days).
        noise_var: `N x E` predicted measurement variances.
        keep: How many of the best scores must be exact.
        choose: ``(value rows, rows) -> allowed rows``: narrows a target's pairs given
            its value (e.g. to one exposure), as the policy will.
    """
    out = np.zeros(base.shape)
    bound = np.where(allowed, (base + extra * post.entropy_bound()[:, None]) / weighted_s,
                     -np.inf).max(axis=1)
    order = np.argsort(-bound, kind="stable")
    order = order[np.isfinite(bound[order])]
    best = np.empty(0)
    done, batch = 0, max(64, int(keep))
    while done < len(order):
        rows = order[done:done + batch]
        out[rows] = post.information(rows, t_star_d[rows], noise_var[rows])
        done, batch = done + len(rows), 2 * batch
        value = base[rows] + extra[rows] * out[rows]
        ok = allowed[rows] if choose is None else choose(value, rows)
        s = np.where(ok, value / weighted_s[rows], -np.inf).ravel()
        best = np.sort(np.concatenate([best, s[np.isfinite(s)]]))[-int(keep):]
        if done < len(order) and len(best) >= keep and best[0] > bound[order[done]]:
            break
    return out
