"""``steer/TargetSelection-v0``: pick the next target and exposure for a night.

One episode is one night at a simulated observatory
(:class:`steer.instruments.sim.SimulatedObservatory`). Each step the agent
picks a catalog target and an exposure time from a small set; the telescope
slews, exposes and reads out, and the environment rewards the
priority-weighted information the measurement adds to the target's light
curve (see :mod:`steer.envs.reference`). Reward is the same for every policy.

Observation (a ``Dict`` space, float32):

* ``targets``: `N x F` per-target features, named in :data:`TARGET_FEATURES`;
* ``globals``: `G` global features, named in :data:`GLOBAL_FEATURES`.

``info`` carries the feasibility mask (``action_mask``), the clock (``mjd``),
the exposure set, and after a step the measurement or the refusal reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.campaign import CampaignNights, CampaignState, campaign_options
from steer.envs.context import CatalogContext
from steer.envs.night_actions import SATURATION_MARGIN_MAG, NightActions
from steer.envs.night_features import (
    _G_HIGH,
    _G_LOW,
    _T_HIGH,
    _T_LOW,
    GLOBAL_FEATURES,
    TARGET_FEATURES,
    NightObservation,
    check_observable,
)
from steer.envs.night_view import NightPresenter
from steer.envs.reference import ReferenceModel
from steer.envs.science import efficiency_metrics, science_metrics
from steer.errors import ConfigError, UnsafeActionError
from steer.instruments.telescope import Action, Measurement

__all__ = ["TargetSelectionEnv", "TARGET_FEATURES", "GLOBAL_FEATURES", "SATURATION_MARGIN_MAG"]

_WAIT_S = 300.0  # clock step while the dome is closed or nothing is observable
_REJECT_COST_S = 30.0  # time lost when a refused action reaches the environment


class TargetSelectionEnv(NightObservation, NightActions, CampaignNights, gym.Env):
    """Choose which catalog target to observe next, and for how long.

    Args:
        preset: Observatory preset (``small-robotic`` or ``rubin-like``).
        night_date: Local date of the evening the night starts (``YYYY-MM-DD``).
        n_targets: Size of the synthetic catalog (ignored with ``catalog_path``).
        catalog_path: CSV catalog (columns target_id, ra_deg, dec_deg, mag,
            band, priority) instead of a synthetic one.
        exptimes_s: The exposure times the agent chooses from.
        default_exptime_s: Exposure the fixed-exposure baselines use (must be
            one of ``exptimes_s``; defaults to the middle one).
        cloudiness: Cloud level in [0, 1]; ``None`` draws it per night.
        max_night_hours: Cap on the observed part of the night (hours from
            dusk); ``None`` observes the whole night.
        max_steps: Truncate the episode after this many steps.
        overrides: Observatory config fields to override (e.g. ``readout_s``).
        grid_points: Times in the night grid where information is integrated.
        instrument: ``"sim"`` (the simulated observatory executes actions) or
            a registered real instrument id (e.g. ``"indi"``) that executes them
            on hardware while the simulation keeps the sky and the truth.
        instrument_options: Keyword arguments of the real instrument's driver.
        history: Earlier visits to use instead of the simulator's synthetic
            ones (``{"target_index", "mjd", "mag", "error_mag"}`` arrays, e.g.
            from :func:`steer.envs.history.read_history`); the public model,
            the last-visit times and the policies are conditioned on them.
        clock: ``"sim"`` (the simulated clock: reproducible) or ``"wall"``
            (live mode: the night runs on the real time,
            :class:`steer.instruments.wall_clock.WallClock`).
        time_factor: Live mode: night seconds per wall second (1: real time;
            more to run a night against device simulators in minutes).
        start: Live mode: ``"now"``, ``"dusk"`` or an ISO 8601 UTC time.
        render_mode: Only ``None`` is supported.
    """

    metadata = {"render_modes": []}
    presenter = NightPresenter()  # how the core names, tabulates and draws its decisions

    def __init__(
        self,
        preset: str = "small-robotic",
        night_date: str = "2026-03-20",
        n_targets: int = 200,
        catalog_path: str | None = None,
        exptimes_s: tuple[float, ...] | list[float] = (30.0, 60.0, 120.0),
        default_exptime_s: float | None = None,
        cloudiness: float | None = None,
        max_night_hours: float | None = None,
        max_steps: int = 5000,
        overrides: dict[str, Any] | None = None,
        grid_points: int = 48,
        instrument: str = "sim",
        instrument_options: dict[str, Any] | None = None,
        history: dict[str, Any] | None = None,
        clock: str = "sim",
        time_factor: float = 1.0,
        start: str = "now",
        render_mode: str | None = None,
    ) -> None:
        from steer.instruments.sim import Almanac, Catalog, get_preset, with_overrides
        from steer.instruments.sim.iers_cache import use_cached_iers

        use_cached_iers()  # a new process (a Ray worker) parses no IERS text: ~1 s
        self.config = with_overrides(get_preset(preset), **(overrides or {}))
        self.preset = preset
        self.night_date = night_date
        self.exptimes_s = tuple(float(e) for e in exptimes_s)
        if not self.exptimes_s or min(self.exptimes_s) <= 0:
            raise ConfigError(f"exptimes_s = {list(exptimes_s)!r} must be positive seconds",
                              "e.g. exptimes_s = [30, 60, 120]")
        if default_exptime_s is None:
            default_exptime_s = self.exptimes_s[len(self.exptimes_s) // 2]
        if float(default_exptime_s) not in self.exptimes_s:
            raise ConfigError(f"default_exptime_s = {default_exptime_s} is not in exptimes_s "
                              f"{list(self.exptimes_s)}", "pick one of the exposure times")
        self.default_exptime_index = self.exptimes_s.index(float(default_exptime_s))
        if cloudiness is not None and not 0.0 <= float(cloudiness) <= 1.0:
            raise ConfigError(f"cloudiness = {cloudiness} is outside [0, 1]",
                              "use 0 for clear skies, 1 for overcast, or omit it")
        self.cloudiness = cloudiness
        if max_night_hours is not None and (
                isinstance(max_night_hours, bool) or not isinstance(max_night_hours, int | float)
                or not np.isfinite(max_night_hours) or max_night_hours <= 0):
            raise ConfigError(f"max_night_hours = {max_night_hours!r} must be a positive number "
                              "of hours", "e.g. max_night_hours = 4, or omit it for the whole "
                              "night")
        self.max_night_hours = max_night_hours
        self.max_steps = int(max_steps)
        self.grid_points = int(grid_points)
        self.render_mode = render_mode
        self.instrument = str(instrument)
        from steer.instruments import check_instrument_options
        from steer.instruments.wall_clock import check_live_options

        check_instrument_options(self.instrument, dict(instrument_options or {}))
        self.instrument_options = check_live_options(clock, time_factor, start, self.instrument,
                                                     dict(instrument_options or {}))
        self.clock, self.time_factor, self.start = clock, float(time_factor), start
        self._history = None if history is None else {
            "target_index": np.asarray(history["target_index"], int),
            **{k: np.asarray(history[k], float) for k in ("mjd", "mag", "error_mag")}}
        if self.instrument != "sim":
            from steer.instruments import INSTRUMENTS

            if self.instrument not in INSTRUMENTS:
                raise ConfigError(f"instrument = {instrument!r} is not known",
                                  f"use 'sim' or one of {', '.join(INSTRUMENTS)}")
        cfg = self.config
        self.almanac = Almanac.for_night(night_date, cfg.site_lat_deg, cfg.site_lon_deg,
                                         cfg.site_height_m, sun_alt_max_deg=cfg.sun_alt_max_deg)
        self._fixed_catalog = None
        if catalog_path is not None:
            self._fixed_catalog = Catalog.from_csv(catalog_path)
            n_targets = len(self._fixed_catalog)
            check_observable(self._fixed_catalog, self.config, self.almanac, self.night_date,
                             catalog_path)
        elif int(n_targets) < 2:
            raise ConfigError(f"n_targets = {n_targets} is too small", "use at least 2 targets")
        if clock == "wall":  # an unreadable or past start fails before anything is written
            from steer.instruments.wall_clock import live_start_mjd

            end = self.almanac.night_end_mjd if max_night_hours is None else min(
                self.almanac.night_end_mjd,
                self.almanac.night_start_mjd + float(max_night_hours) / 24.0)
            live_start_mjd(start, self.almanac.night_start_mjd, end, night_date)
        self.n_targets = self._n_catalog = int(n_targets)
        self._make_spaces()
        self.observatory: Any = None
        self._campaign: CampaignState | None = None

    def _make_spaces(self) -> None:
        n_f, n_g = len(TARGET_FEATURES), len(GLOBAL_FEATURES)
        self.observation_space = spaces.Dict({
            "targets": spaces.Box(np.tile(_T_LOW, (self.n_targets, 1)),
                                  np.tile(_T_HIGH, (self.n_targets, 1)),
                                  shape=(self.n_targets, n_f), dtype=np.float32),
            "globals": spaces.Box(_G_LOW, _G_HIGH, shape=(n_g,), dtype=np.float32),
        })
        self.action_space = spaces.MultiDiscrete([self.n_targets, len(self.exptimes_s)])

    # ------------------------------------------------------------------ setup
    def _night_end_mjd(self) -> float:
        end = self.observatory.night_end_mjd
        if self.max_night_hours is not None:
            end = min(end, self.observatory.night_start_mjd + float(self.max_night_hours) / 24.0)
        return float(end)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new night. The seed fixes catalog, weather, truth and noise.

        ``options={"night": k, "nights": N}`` plays night ``k`` of an ``N``-night
        campaign (:mod:`steer.envs.campaign`): night 0 draws the campaign's
        sky; night ``k > 0`` must follow night ``k - 1`` of the same seed on
        this environment and starts from its history.
        """
        super().reset(seed=seed)
        from steer.instruments.sim import Catalog, SimulatedObservatory

        night, nights = campaign_options(options)
        if self.n_targets != self._n_catalog:  # targets of opportunity were added last night
            self.n_targets = self._n_catalog
            self._make_spaces()
        sim_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        self.sim_seed = sim_seed
        camp = self._campaign_night(night, nights, sim_seed)
        ss = np.random.SeedSequence([sim_seed, 7, *([night] if night else [])])
        cat_rng, cloud_rng = (np.random.default_rng(s) for s in ss.spawn(2))
        if night:
            catalog = self._campaign.catalog
        else:
            catalog = self._fixed_catalog if self._fixed_catalog is not None else \
                Catalog.synthetic(self.n_targets, cat_rng, self.almanac, self.config.site_lat_deg)
        cloudiness = (self.cloudiness if self.cloudiness is not None
                      else float(np.clip(cloud_rng.beta(0.6, 2.0), 0.0, 1.0)))
        if self.observatory is not None and self.instrument != "sim":
            self.observatory.close()
        almanac = self.almanac if not night else self._almanac_of(night)
        self.observatory = sim = SimulatedObservatory(
            self.config, catalog, almanac.night_date, sim_seed, cloudiness=cloudiness,
            almanac=almanac, campaign=camp)
        if self.clock == "wall":  # refused before any hardware is touched
            from steer.instruments.wall_clock import live_start_mjd

            start_mjd = live_start_mjd(self.start, sim.night_start_mjd, self._night_end_mjd(),
                                       self.night_date)
        if self.instrument != "sim":
            from steer.instruments import wrap_instrument

            self.observatory = wrap_instrument(self.instrument, self.observatory,
                                               **self.instrument_options)
        if self.clock == "wall":
            from steer.instruments.wall_clock import WallClock

            self.observatory = WallClock(self.observatory, sim, self.time_factor, start_mjd)
        obs_ = self.observatory
        self.catalog = obs_.catalog
        self.priority = np.asarray(self.catalog.priority, float)
        self.end_mjd = self._night_end_mjd()
        self.grid_mjd = np.linspace(obs_.night_start_mjd, self.end_mjd, self.grid_points)
        truth = obs_.truth
        self.reference = ReferenceModel(truth.variability_std_mag, truth.timescale_d, self.grid_mjd)
        n = self.n_targets
        self.public = ReferenceModel(np.full(n, 0.3), np.full(n, 0.1), self.grid_mjd,
                                     prior_std_mag=0.5)
        hist = obs_.history if self._history is None or night else self._history
        obs_.history = hist
        self.history = hist  # earlier visits: public, like an archive query
        self.reference.add_many(hist["target_index"], hist["mjd"], hist["error_mag"])
        self.public.add_many(hist["target_index"], hist["mjd"], hist["error_mag"])
        self.last_visit_mjd = np.full(n, -np.inf)
        np.maximum.at(self.last_visit_mjd, hist["target_index"], hist["mjd"])
        self._min_airmass = self._min_airmass_tonight()
        self.last_seeing_arcsec = 1.0
        self.last_transparency = 1.0
        self.steps = 0
        self.log: dict[str, list[float]] = {k: [] for k in (
            "target_index", "mjd", "mag", "error_mag", "exptime_s", "slew_s", "filter_s",
            "airmass", "fwhm_arcsec", "m5_mag", "reward")}
        self.idle_s = 0.0
        self.dome_closed_s = 0.0
        self.rejected = 0
        self.science_score = 0.0
        if camp is not None and not night:
            self._campaign = CampaignState(sim_seed, nights, sim.truth, catalog, hist)
        self._campaign_open = camp is not None
        self._advance_if_blocked()
        info = self._info()
        info["history"] = {k: np.asarray(v).copy() for k, v in hist.items()}
        return self._obs(), info

    def add_target(self, target_id: str, ra_deg: float, dec_deg: float, priority: float = 5.0,
                   mag: float = 17.0, band: str = "r") -> int:
        """Take a target of opportunity into tonight's catalog (``steer inject``).

        The catalog, the observation and the action space grow by one row; the
        target has no history. Returns its row.

        Raises:
            CatalogError: a bad value, or a ``target_id`` already in the catalog.
        """
        i = self.observatory.add_target(target_id, ra_deg, dec_deg, mag, band, priority)
        self.catalog = self.observatory.catalog
        self.n_targets = len(self.catalog)
        self.priority = np.asarray(self.catalog.priority, float)
        truth = self.observatory.truth
        self.reference.extend(float(truth.variability_std_mag[i]), float(truth.timescale_d[i]))
        self.public.extend(0.3, 0.1)
        self.last_visit_mjd = np.append(self.last_visit_mjd, -np.inf)
        self._min_airmass = self._min_airmass_tonight()
        self._make_spaces()
        return i

    def close(self) -> None:
        """Release the instrument (disconnects a real one)."""
        if self.observatory is not None:
            self.observatory.close()
        super().close()

    def policy_context(self) -> CatalogContext:
        """What a policy may know about tonight (:class:`~steer.envs.context.CatalogContext`)."""
        o = self.observatory
        return CatalogContext(
            kind=self.presenter.kind, action_space=self.action_space,
            observation_space=self.observation_space, catalog=self.catalog,
            exptimes_s=self.exptimes_s, default_exptime_index=self.default_exptime_index,
            target_features=TARGET_FEATURES, global_features=GLOBAL_FEATURES,
            instrument=self.config, almanac=o.almanac,
            night_start_mjd=float(o.night_start_mjd), night_end_mjd=float(self.end_mjd),
            grid_points=self.grid_points, history=self.history)

    # ------------------------------------------------------------------ step
    def idle(self, seconds: float) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Let time pass without observing (used when every proposal was refused)."""
        self.observatory.wait(float(seconds))
        self.idle_s += float(seconds)
        self._advance_if_blocked()
        return self._obs(), self._info()

    def step(self, action: Any):
        """Observe ``action = (target_index, exptime_index)``."""
        return self._step(action, None)

    def resume_step(self, action: Any, recorded: dict[str, Any] | None):
        """Step as :meth:`step` did when ``recorded`` was journaled, without observing again.

        The simulated observatory (clock, pointing, weather) advances exactly as
        it did; a real instrument is not commanded: its journaled measurement
        is what the night and the policy learn from (the loop's resume).
        """
        return self._step(action, recorded)

    def _step(self, action: Any, recorded: dict[str, Any] | None):
        target, e_idx = int(action[0]), int(action[1])
        act = self.make_action(target, e_idx)
        reward = 0.0
        info_extra: dict[str, Any] = {"action": act}
        try:
            self.check_action(act)
        except UnsafeActionError as exc:
            self.rejected += 1
            self.observatory.wait(_REJECT_COST_S)
            self.idle_s += _REJECT_COST_S
            info_extra["rejected"] = str(exc)
        else:
            m = (self.observatory.execute(act) if recorded is None
                 else self._replay_execute(act, recorded))
            reward = self._account(act, m)
            info_extra["measurement"] = m
        self.steps += 1  # after execute: a failed attempt (InstrumentError) is no step
        self._advance_if_blocked()
        terminated = self.observatory.mjd >= self.end_mjd
        truncated = (not terminated) and self.steps >= self.max_steps
        info = self._info()
        info.update(info_extra)
        return self._obs(), float(reward), bool(terminated), bool(truncated), info

    def _replay_execute(self, act: Action, recorded: dict[str, Any]) -> Measurement:
        """The journaled measurement of ``act``; the simulation's clock advances as it did."""
        m = Measurement(**{k: recorded[k] for k in Measurement.__dataclass_fields__
                           if k in recorded})
        m = replace(m, value_mag=float("nan") if m.value_mag is None else m.value_mag,
                    error_mag=float("nan") if m.error_mag is None else m.error_mag)
        replay = getattr(self.observatory, "replay", None)
        if callable(replay):  # a real instrument: advance the simulation, send nothing
            return replay(act, m)
        return self.observatory.execute(act)  # the simulator: re-simulated, identical

    def _account(self, act: Action, m: Measurement) -> float:
        i = act.target_index
        err = m.error_mag if np.isfinite(m.value_mag) else np.nan
        gain = self.reference.add(i, m.mjd_mid, err)
        self.public.add(i, m.mjd_mid, err)
        reward = float(self.priority[i] * gain)
        self.science_score += reward
        self.last_visit_mjd[i] = m.mjd_mid
        c = m.conditions
        if np.isfinite(m.value_mag):
            self.last_seeing_arcsec = float(c.get("seeing_fwhm_arcsec", self.last_seeing_arcsec))
            self.last_transparency = float(c.get("transparency", self.last_transparency))
        ov = m.overheads_s
        for key, val in (("target_index", i), ("mjd", m.mjd_mid), ("mag", m.value_mag),
                         ("error_mag", err), ("exptime_s", m.exptime_s),
                         ("slew_s", ov.get("slew", 0.0) + ov.get("settle", 0.0)),
                         ("filter_s", ov.get("filter", 0.0)), ("airmass", c.get("airmass", np.nan)),
                         ("fwhm_arcsec", c.get("seeing_fwhm_arcsec", np.nan)),
                         ("m5_mag", c.get("m5_mag", np.nan)), ("reward", reward)):
            self.log[key].append(float(val))
        return reward

    def _advance_if_blocked(self) -> None:
        """While nothing is observable (dome closed, all set), let time pass."""
        o = self.observatory
        while o.mjd < self.end_mjd and not self.feasible_mask().any():
            step_s = min(_WAIT_S, (self.end_mjd - o.mjd) * 86400.0 + 1e-3)
            if not o.weather.dome_open(o.mjd):
                self.dome_closed_s += step_s
            o.wait(step_s)
            self.idle_s += step_s

    def episode_extras(self) -> dict[str, Any]:
        """Truth, Moon and weather for the report (:func:`steer.envs.night_extras.night_extras`)."""
        from steer.envs.night_extras import night_extras

        return night_extras(self)

    # --------------------------------------------------------------- metrics
    def measurements(self) -> tuple[np.ndarray, ...]:
        """The history then tonight's visits: target index, mjd, mag, error, and which
        rows are tonight's."""
        hist, lg = self.observatory.history, self.log
        idx = np.concatenate([hist["target_index"],
                              np.asarray(lg["target_index"], float).astype(int)])
        mjd, mag, err = (np.concatenate([hist[k], np.asarray(lg[k], float)])
                         for k in ("mjd", "mag", "error_mag"))
        return idx, mjd, mag, err, np.arange(len(idx)) >= len(hist["target_index"])

    def episode_metrics(self) -> dict[str, float]:
        """Efficiency, quality and science metrics of the night so far."""
        o = self.observatory
        lg = {k: np.asarray(v, float) for k, v in self.log.items()}
        idx, mjd, mag, err, tonight = self.measurements()
        out = {"science_score": float(self.science_score), "idle_s": float(self.idle_s),
               "rejected": float(self.rejected)}
        unanswered = getattr(o, "unanswered_s", None)  # instruments that can go silent
        if unanswered is not None:
            out["instrument_unanswered_s"] = float(unanswered(self.end_mjd))
        out.update(efficiency_metrics(lg, (self.end_mjd - o.night_start_mjd) * 86400.0,
                                      self.dome_closed_s))
        if getattr(o, "truth_known", True):  # a real sky: no hidden truth to judge against
            out.update(science_metrics(o.truth, self.catalog, idx, mjd, mag, err,
                                       self.grid_mjd, tonight=tonight,
                                       hours=(self.end_mjd - o.night_start_mjd) * 24.0))
        return out
