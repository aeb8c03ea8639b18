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

For every feasible target ``i`` and exposure ``e`` it values a frame at ``t*``
(now + slew + e/2) with the predicted noise and picks the best value per
second of telescope time, ``priority x value / seconds``. Version 2's value is
the closed-form reduction of the light curve's integrated posterior variance
(what BoTorch's ``qNegIntegratedPosteriorVariance`` estimates by fantasies);
since version 6 the information, in nats, about the light curve counted to
``precision_mag`` (:mod:`steer.policies.precision_value`); since version 7 a
second of slew, settle and filter change costs ``overhead_weight`` seconds;
since version 8 each target's exposure amortises its visit's dead time
(``amortise_readout``) and a frame is also worth what it tells about the
target's period (``period_weight``, :mod:`steer.policies.period_value`); an
option (``transient_peaks``, :mod:`steer.policies.transient_value`) values
what it tells about when a transient peaks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from steer.envs.context import CatalogContext, require_context
from steer.policies.base import RUNNERS_UP, BasePolicy, allowed_actions
from steer.policies.bo_learning import BOLearning
from steer.policies.bo_settings import check_settings, resolve_defaults, rule_words, version_of
from steer.policies.bo_single import fit_single_scale
from steer.policies.conditions_gp import fit_extinction_gp, predict_extinction
from steer.policies.error_model import mag_error
from steer.policies.lookahead import amortised_exposures, ranked, two_step
from steer.policies.period_value import best_information, from_history
from steer.policies.precision_value import floored_information
from steer.types import Proposal

__all__ = ["BOPolicy"]

#: Candidate light-curve time scales (days) averaged over by default.
DEFAULT_LENGTHSCALES_D: tuple[float, ...] = (0.03, 0.08, 0.25, 1.0, 5.0)
_AMPLITUDE_GRID_MAG2 = np.geomspace(1e-4, 1.0, 25)  # amplitude grid per time scale
_POSTERIOR_CHUNK = 1024  # targets per batch of the cached posterior (bounds memory)


class BOPolicy(BOLearning, BasePolicy):
    """Expected light-curve information gain per second, from batched GPs.

    Args:
        lengthscale_d: The one time scale of the light-curve kernel (days)
            when ``lengthscales_d`` is empty (version 2: its amplitudes are
            fitted by BoTorch's MLL).
        lengthscales_d: Candidate time scales (days) to average over (Bayesian
            model averaging). At every refit each (target, time scale) pair
            gets its most probable amplitude on a grid (marginal likelihood x
            the amplitude's Gamma prior); the catalog's distribution of time
            scales is estimated from all targets (empirical Bayes, EM on the
            mixture weights) and serves as each target's prior, so a target
            with few visits follows the population and one with many follows
            its own data. The expected IPV reduction is then averaged over the
            time scales with each target's posterior weights: the expected
            reward when the true time scale is unknown. Empty: version 2.
        mean_prior_std_mag: Prior std of a target's mean magnitude offset.
        refit_every: Decisions between hyperparameter refits.
        conditions_window: Most recent measurements used by the conditions GP.
        max_obs_per_target: Cap on observations kept per target (oldest dropped).
        posterior: ``"cached"`` (default): per-target Cholesky factors and
            grid cross-terms are cached and only the observed target's are
            recomputed when a measurement arrives; ``"botorch"``: the batched
            ``SingleTaskGP`` posterior is recomputed at every decision (the
            first version; same numbers, slower).
        horizon_d: Also integrate the variance over the next ``horizon_d``
            nights (8 points each, at tonight's hours): a visit is then worth
            what it tells about the coming nights too, which favours slowly
            evolving targets (transients) that tonight's grid alone calls
            known. For campaigns; 0 (default): tonight only.
        amplitude_bins: The variability amplitude is integrated over, in this
            many ranges of its grid, each a component of the average (costs
            this many times the posterior's time), so a target whose few
            measurements agree is not taken for a known constant. 1: each
            (target, time scale) takes its most probable amplitude (version
            3). Default (``None``): 3 with ``lengthscales_d`` (version 4), 1
            without (version 2).
        faint_memory_d: For this many days after a frame of a target came back
            faint (no magnitude, or an error above 0.36 mag: SNR < 3; not
            saturated), the target is predicted at the brightness that frame
            implies (the magnitude at which the error model gives the measured
            error at the frame's depth; a non-detection without an error: the
            frame's depth) when that is fainter than its light-curve model
            says, so a target that has faded (a transient long after its peak)
            is not asked for again and again at a predicted error it does not
            deliver. A frame with SNR >= 3 ends it. 0: off (version 4).
            Default (``None``): 0.5 day (the night of the frame; a transient
            may have brightened by the next) with ``lengthscales_d`` (version
            5), 0 without.
        lookahead: The best this many targets by the rate above are scored
            with the visit that would follow each (two-step lookahead,
            :mod:`steer.policies.lookahead`): (value of both) / (seconds of
            both), the next visit costed from where this one leaves the
            telescope (slew, filter), so a target whose neighbours are far or
            in another filter loses to one that leaves the telescope near the
            next. Default 0: the myopic rate. On held-out nights 8 raised the
            open-shutter fraction by 0.01-0.06 but visited one target more
            times in a row and characterised no more (README), so it is off.
        precision_mag: A visit is valued by the information (nats) it gives
            about the light curve on the grid, each point counted to this
            precision (:mod:`steer.policies.precision_value`), instead of the
            IPV reduction (mag^2), so a constant star whose mean is not yet
            known to it keeps its value. Default (``None``): 0.005 mag with
            ``lengthscales_d`` and the cached posterior (version 6), else 0
            (the IPV reduction).
        overhead_weight: Seconds of exposure that one second of slew, settle
            and filter change costs in the rate (readout is costed as it is):
            the price of dead time. At 1 (version 6) the myopic rate takes
            short exposures on scattered targets and keeps the shutter open
            36-46% of the dome-open time against `feature`'s 53-70%; at 32 it
            is no lower than `feature`'s on the tuning nights, with longer
            exposures and fewer filter changes, for part of its science lead
            (README).
            Default (``None``): 32 with ``precision_mag`` (version 7), else 1.
        amortise_readout: Each target's exposure amortises all its dead time,
            readout included (:func:`~steer.policies.lookahead.amortised_exposures`;
            else the readout counts once, so where slews are short the shortest
            exposure wins). Default (``None``): on with the overhead weight
            (version 8), else off.
        period_weight: A frame's value is also this many times the information
            (nats) it gives about the target's period: constant, or periodic at
            which frequency (:mod:`steer.policies.period_value`), so a star whose
            archive leaves a few aliases open is worth the frame that tells them
            apart. With the amortised readout, version 8: on the suite's
            reporting seeds no scenario is worse than `feature` on any metric
            (README). Default (``None``): 1 with the overhead weight, else 0.
        transient_peaks: The period's posterior also holds outbursts peaking on
            each day (:mod:`steer.policies.transient_value`), so a frame is also
            worth what it tells about when a transient peaks. An option, off by
            default: on campaigns it characterised no more (README).
        refine_periods: The period posterior values each of its best frequency cells
            by the likelihood integrated over the cell, not at its centre
            (:meth:`~steer.policies.period_value.PeriodPosterior._refined`).
    """

    name = "bo"
    version = "2"
    #: The settings that restore an earlier version (``steer replay`` of its runs).
    earlier_versions = {"3": {"amplitude_bins": 1, "faint_memory_d": 0, "precision_mag": 0,
                              "overhead_weight": 1},
                        "4": {"faint_memory_d": 0, "precision_mag": 0, "overhead_weight": 1},
                        "5": {"precision_mag": 0, "overhead_weight": 1},
                        "6": {"overhead_weight": 1},
                        "7": {"amortise_readout": False, "period_weight": 0}}

    def __init__(self, lengthscale_d: float = 0.08,
                 lengthscales_d: Sequence[float] = DEFAULT_LENGTHSCALES_D,
                 mean_prior_std_mag: float = 0.5, refit_every: int = 25,
                 conditions_window: int = 40, max_obs_per_target: int = 40,
                 posterior: str = "cached", horizon_d: int = 0,
                 amplitude_bins: int | None = None,
                 faint_memory_d: float | None = None, lookahead: int = 0,
                 precision_mag: float | None = None,
                 overhead_weight: float | None = None,
                 amortise_readout: bool | None = None,
                 period_weight: float | None = None,
                 transient_peaks: bool | None = None,
                 refine_periods: bool | None = None) -> None:
        (amplitude_bins, faint_memory_d, precision_mag, overhead_weight, amortise_readout,
         period_weight, transient_peaks, refine_periods) = resolve_defaults(
            lengthscales_d, posterior, amplitude_bins, faint_memory_d, precision_mag,
            overhead_weight, amortise_readout, period_weight, transient_peaks, refine_periods)
        super().__init__(lengthscale_d=lengthscale_d, lengthscales_d=list(lengthscales_d),
                         mean_prior_std_mag=mean_prior_std_mag,
                         refit_every=refit_every, conditions_window=conditions_window,
                         max_obs_per_target=max_obs_per_target, posterior=posterior,
                         horizon_d=horizon_d, amplitude_bins=amplitude_bins,
                         faint_memory_d=faint_memory_d, lookahead=lookahead,
                         precision_mag=precision_mag, overhead_weight=overhead_weight,
                         amortise_readout=amortise_readout, period_weight=period_weight,
                         transient_peaks=transient_peaks, refine_periods=refine_periods)
        check_settings(lengthscale_d=lengthscale_d, lengthscales_d=lengthscales_d,
                       posterior=posterior, horizon_d=horizon_d, amplitude_bins=amplitude_bins,
                       n_amplitudes=len(_AMPLITUDE_GRID_MAG2), faint_memory_d=faint_memory_d,
                       lookahead=lookahead, precision_mag=precision_mag,
                       overhead_weight=overhead_weight, amortise_readout=amortise_readout,
                       period_weight=period_weight, transient_peaks=transient_peaks,
                       refine_periods=refine_periods)
        self.period_weight, self.transient_peaks = float(period_weight), transient_peaks
        self.refine_periods = refine_periods
        self.precision_mag = float(precision_mag)
        self.overhead_weight = float(overhead_weight)
        self.amortise_readout = amortise_readout
        self.lookahead = int(lookahead)
        self.faint_memory_d = float(faint_memory_d)
        self.amplitude_bins = int(amplitude_bins)
        self.horizon_d = int(horizon_d)
        self.posterior_mode = posterior
        self.lengthscale_d = float(lengthscale_d)
        self.lengthscales_d = [float(v) for v in lengthscales_d]
        self.bma = bool(self.lengthscales_d)
        self.version = version_of(self.bma, self.amplitude_bins, self.faint_memory_d,
                                  self.precision_mag, self.overhead_weight, self.lookahead,
                                  self.amortise_readout, self.period_weight,
                                  self.transient_peaks, self.refine_periods)
        self.mean_prior_var = float(mean_prior_std_mag) ** 2
        self.refit_every = int(refit_every)
        self.conditions_window = int(conditions_window)
        self.max_obs = int(max_obs_per_target)

    # ---------------------------------------------------------------- state
    def _reset(self) -> None:
        from steer.policies.gp_bank import TimeSeriesGPBank

        ctx = require_context(self.context, CatalogContext, self.name,
                              "use it with steer/TargetSelection-v0")
        self.t_ref = float(ctx.night_start_mjd)
        self.cat_mag = np.asarray(ctx.catalog.mag, float)
        self.n = len(self.cat_mag)
        tonight = np.linspace(0.0, ctx.night_end_mjd - self.t_ref, ctx.grid_points)
        ahead = [np.linspace(0.0, tonight[-1], 8) + d for d in range(1, self.horizon_d + 1)]
        grid = torch.tensor(np.concatenate([tonight, *ahead]), dtype=torch.float64)
        self.bank = TimeSeriesGPBank(self.n, grid, self.mean_prior_var,
                                     self.lengthscales_d or [self.lengthscale_d], self.max_obs,
                                     amplitude_bins=self.amplitude_bins)
        hist = ctx.history
        for i, t, m, e in zip(hist["target_index"], hist["mjd"], hist["mag"], hist["error_mag"],
                              strict=True):
            if np.isfinite(m) and np.isfinite(e) and e > 0:
                self.bank.add(int(i), float(t) - self.t_ref, float(m) - self.cat_mag[int(i)],
                              float(e) ** 2)
        self.grid_d = grid
        self.cond: list[tuple[float, float, float, float]] = []  # x, y, hours, extinction
        self.model: Any = None
        self.cond_model: Any = None
        self.fitted = False
        self.decisions = 0
        self.fit_s = 0.0
        self.readout_s = float(ctx.instrument.readout_s + ctx.instrument.shutter_s)
        self.sat_mag_30s = dict(ctx.instrument.saturation_mag_30s)
        # shortest exposure (s) that came back saturated, per target: that one and longer
        # ones would again (a saturated frame is ingested as this, not as a magnitude)
        self.saturated_from_s = np.full(self.n, np.inf)
        # the brightness the last faint frame of each target implied, and when it was taken
        self.faint_mag, self.faint_mjd = np.full(self.n, -np.inf), np.full(self.n, -np.inf)
        self.period = (from_history(hist, self.cat_mag, self.t_ref, ctx.night_end_mjd,
                                    self.transient_peaks, self.refine_periods)
                       if self.period_weight > 0 else None)
        self._fit(refit=True)

    def _context_changed(self, old: Any) -> None:
        """Targets of opportunity: each new row gets an empty light-curve GP."""
        self.cat_mag = np.asarray(self.context.catalog.mag, float)
        grow = len(self.cat_mag) - self.n
        self.saturated_from_s = np.append(self.saturated_from_s, np.full(grow, np.inf))
        self.faint_mag = np.append(self.faint_mag, np.full(grow, -np.inf))
        self.faint_mjd = np.append(self.faint_mjd, np.full(grow, -np.inf))
        for _ in range(grow):
            self.bank.add_target()
            if self.period is not None:
                self.period.add_target()
        self.n = len(self.cat_mag)
        self._fit(refit=False)

    def _fit(self, refit: bool) -> None:
        """(Re)build the light-curve GPs; fit their hyperparameters when ``refit``."""
        t0 = time.perf_counter()
        bank = self.bank
        if self.posterior_mode == "cached" and not refit and self.fitted:
            bank.refactor_all()
        elif self.bma:
            if refit:
                amps = torch.tensor(_AMPLITUDE_GRID_MAG2, dtype=torch.float64)
                # gpytorch's GammaPrior(2, 20) is this distribution; torch's own spares
                # `steer suggest` gpytorch's import
                bank.fit_time_scales(amps, torch.distributions.Gamma(
                    torch.tensor(2.0, dtype=torch.float64),
                    torch.tensor(20.0, dtype=torch.float64)).log_prob(amps))
                self._fit_conditions()
            bank.refactor_all()
        else:
            self.model = fit_single_scale(self.bank, self.mean_prior_var, refit)
            if refit:
                self._fit_conditions()
            if self.posterior_mode == "cached":
                self.bank.refactor_all()
        self.fitted = True
        self.fit_s = time.perf_counter() - t0

    def _fit_conditions(self) -> None:
        """Fit the extinction GP on the most recent measured conditions."""
        self.cond_model = fit_extinction_gp(self.cond[-self.conditions_window:])

    # --------------------------------------------------------------- scoring
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
        ctx = self.context
        overhead = tf[:, ctx.target_feature("overhead_s")]
        prio = tf[:, ctx.target_feature("priority")]
        m5_def = self.cat_mag + tf[:, ctx.target_feature("depth_margin_mag")]
        ext_pred = predict_extinction(self.cond_model, tf[:, ctx.target_feature("alt_deg")],
                                      tf[:, ctx.target_feature("az_deg")], now_d * 24.0)
        last_t = float(observation["globals"][ctx.global_feature("last_transparency")])
        last_ext = -2.5 * np.log10(max(last_t, 1e-3))
        if ext_pred is not None:
            m5_def = m5_def + (last_ext - ext_pred)
        # test points: the night grid plus t* for each exposure, per target
        t_star = now_d + (overhead[:, None] + exps[None, :] / 2.0) / 86400.0  # `N x E`
        g = len(self.grid_d)
        faint = (float(info["mjd"]) - self.faint_mjd) < self.faint_memory_d  # `N`
        m5 = m5_def[:, None] + 1.25 * np.log10(exps[None, :] / e_def)
        w = self.bank.weights.numpy().T[:, :, None]  # `L x N x 1` posterior weights of time scales
        floor_var = self.precision_mag ** 2
        value_l = None  # `L x N x E`: the floored information, with precision_mag
        if self.posterior_mode == "cached":
            # the posterior of feasible targets only (the others score -inf anyway), in
            # equal chunks of at most _POSTERIOR_CHUNK targets so that memory stays bounded
            # at catalog scale; the rest keep the prior's zero mean, unit variance and no
            # covariance
            feas = np.flatnonzero(mask)
            n_l = self.bank.n_l
            msq_ge = np.zeros((n_l, self.n, len(exps)))  # grid-averaged squared covariance
            var_e, mean_e = np.ones((n_l, self.n, len(exps))), np.zeros((n_l, self.n, len(exps)))
            if floor_var > 0:
                value_l = np.zeros((n_l, self.n, len(exps)))
            chunks = np.array_split(feas, -(-len(feas) // _POSTERIOR_CHUNK)) if len(feas) else []
            for rows in chunks:
                cov, var_e[:, rows], mean_e[:, rows], *grid_var = (
                    a.numpy() for a in self.bank.posterior(
                        torch.tensor(t_star[rows], dtype=torch.float64), torch.from_numpy(rows),
                        grid_var=value_l is not None))
                if value_l is None:  # version 5's value; version 6 needs the whole grid
                    msq_ge[:, rows] = np.mean(cov**2, axis=2)
                else:
                    _, sigma_rows = self._predicted(rows, w[:, rows], mean_e[:, rows], faint, m5)
                    value_l[:, rows] = floored_information(cov, var_e[:, rows], sigma_rows**2,
                                                           grid_var[0], floor_var)
        else:
            xt = torch.cat([self.grid_d.expand(self.n, g),
                            torch.tensor(t_star, dtype=torch.float64)], dim=1).unsqueeze(-1)
            with torch.no_grad():
                post = self.model.posterior(xt)
                cov = post.mvn.covariance_matrix  # `N x (G+E) x (G+E)`
                mean = post.mean.squeeze(-1)
            msq_ge = np.mean(cov[None, :, :g, g:].numpy() ** 2, axis=2)  # `1 x N x E`
            var_e = torch.diagonal(cov[:, g:, g:], dim1=-2, dim2=-1).numpy()[None]  # `1 x N x E`
            mean_e = mean[None, :, g:].numpy()
        mean_bma = (w * mean_e).sum(0)
        var_bma = (var_e[0] if self.bank.n_l == 1
                   else (w * (var_e + mean_e**2)).sum(0) - mean_bma**2)
        exp_mag, sigma = self._predicted(np.arange(self.n), w, mean_e, faint, m5)
        band = np.asarray(ctx.catalog.band)
        sat = np.array([self.sat_mag_30s[b] for b in band])[:, None] + 2.5 * np.log10(
            exps[None, :] / 30.0)
        # the expected IPV reduction (or, with precision_mag, the floored information),
        # averaged over the time scales' posterior weights
        gain = (w * (msq_ge / (var_e + sigma**2) if value_l is None else value_l)).sum(0)
        # saturated frames teach nothing: predicted to, or as long as one that did
        empty = ~(exp_mag > sat + 0.3) | (exps[None, :] >= self.saturated_from_s[:, None])
        gain = np.where(empty, 0.0, gain)
        cost = overhead[:, None] + self.readout_s + exps[None, :]  # seconds
        weighted = cost + (self.overhead_weight - 1.0) * overhead[:, None]
        allowed = allowed_actions(info, len(exps))

        def choose(value_rows: np.ndarray, rows: Any = slice(None)) -> np.ndarray:
            if not self.amortise_readout:
                return allowed[rows]
            return amortised_exposures(value_rows, overhead[rows], self.readout_s, exps,
                                       self.overhead_weight, allowed[rows])

        value, period_nats = prio[:, None] * gain, None
        if self.period is not None:  # exact where it can reach the best (all with lookahead)
            extra = np.where(empty, 0.0, self.period_weight * prio[:, None])
            period_nats = best_information(
                self.period, value, extra, weighted, allowed, t_star, sigma**2,
                self.n * len(exps) if self.lookahead else n + RUNNERS_UP, choose)
            value = value + extra * period_nats
        scores = value / weighted
        if self.amortise_readout:
            allowed = choose(value)
            scores = np.where(allowed, scores, -np.inf)
        la = None
        if self.lookahead:
            la = two_step(value, weighted, allowed, self.lookahead,
                          tf[:, ctx.target_feature("alt_deg")],
                          tf[:, ctx.target_feature("az_deg")], np.asarray(ctx.catalog.band),
                          exps, self.readout_s, ctx.instrument, self.overhead_weight)
        score_s = time.perf_counter() - t_start
        why = {**rule_words(self.precision_mag if value_l is not None else 0.0,
                            self.overhead_weight, self.amortise_readout, self.lookahead
                            if la is not None else 0, self.faint_memory_d, self.period_weight,
                            self.transient_peaks),
               "fit_s": self.fit_s, "score_s": score_s,
               "targets_seen_saturated": int(np.isfinite(self.saturated_from_s).sum()),
               "targets_seen_faint": int(faint.sum()),
               "hyperparameters": {
                   "lengthscales_d": self.lengthscales_d or [self.lengthscale_d],
                   "lengthscale_prior": [round(float(v), 4) for v in self.bank.scale_prior()],
                   "amplitude_bins": self.amplitude_bins,
                   "outputscale_median_mag2": float(torch.median(self.bank.outputscale)),
                   "conditions_gp": self.cond_model is not None}}
        proposals = ranked(self.rank, scores, la, mask, n, why, info.get("exposure_mask"))
        out = []
        for p in proposals:
            i = p.action.target_index
            e = int(np.argmin(np.abs(exps - p.action.exptime_s)))
            detail = {"posterior_mean_mag": float(exp_mag[i, e]),
                      "posterior_std_mag": float(np.sqrt(max(var_bma[i, e], 0.0))),
                      "predicted_error_mag": float(sigma[i, e]),
                      "predicted_m5_mag": float(m5[i, e]),
                      ("expected_ipv_reduction_mag2" if value_l is None
                       else "expected_information_nats"): float(gain[i, e]),
                      "lengthscale_weights": [round(float(v), 4)
                                              for v in self.bank.scale_weights(i)],
                      "cost_s": float(cost[i, e]), "overhead_s": float(overhead[i]),
                      "weighted_cost_s": float(weighted[i, e])}
            if period_nats is not None:
                detail["period_information_nats"] = float(period_nats[i, e])
                detail.update(self.period.summary(i, self.t_ref))
            if faint[i]:
                detail["faint_frame_mag"] = float(self.faint_mag[i])
            if la is not None and la.next_index[i] >= 0:
                j = int(la.next_index[i])
                detail["lookahead"] = {
                    "myopic_score": float(la.myopic[i]),
                    "next_target_id": str(ctx.catalog.target_id[j]),
                    "next_exptime_s": float(exps[la.next_exposure[i]]),
                    "next_cost_s": float(la.next_cost_s[i])}
            out.append(Proposal(p.action, p.score, {**p.explanation, **detail}))
        return out

    def _predicted(self, rows: np.ndarray, w: np.ndarray, mean_e: np.ndarray,
                   faint: np.ndarray, m5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`M x E` expected magnitudes and photometric errors of ``rows`` at ``t*``: the
        time scales' mean, or no brighter than a recent faint frame implies."""
        exp_mag = self.cat_mag[rows, None] + (w * mean_e).sum(0)
        if faint[rows].any():  # what a recent faint frame says the target is now, if fainter
            exp_mag = np.where(faint[rows, None],
                               np.maximum(exp_mag, self.faint_mag[rows, None]), exp_mag)
        return exp_mag, mag_error(exp_mag, m5[rows])
