"""Multi-night campaigns of ``steer/TargetSelection-v0``: one sky, many nights.

A campaign is ``N`` consecutive nights of one seed. The catalog and the hidden
truth are drawn once (transients centred on the campaign's middle, so that
they rise and fade during it; periodic stars keep their phase, all times being
absolute MJD); each night has its own date, almanac (the Moon moves through
its phases), weather and measurement noise. Every visit of a night joins the
public history the next night starts from, so the policy, which is reset each
night with that history in its context, carries what it learned.

:class:`CampaignState` keeps what the nights pass on and scores the whole
campaign against the hidden truth (:meth:`CampaignState.metrics`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steer.envs.science import (
    PRECISION,
    _fit_peak_mjd,
    science_metrics,
)
from steer.errors import ConfigError
from steer.instruments.sim.truth import CampaignNight

__all__ = ["CampaignState", "CampaignNights", "campaign_options", "night_date_of"]

_TRANSIENT = 2


def night_date_of(first_date: str, night: int) -> str:
    """The local evening date of the campaign's night ``night`` (0 = ``first_date``)."""
    d = _dt.date.fromisoformat(first_date) + _dt.timedelta(days=int(night))
    return d.isoformat()


def campaign_options(options: dict[str, Any] | None) -> tuple[int, int]:
    """``(night, nights)`` from ``reset(options=...)``; ``(0, 1)`` for a single night.

    Raises:
        ConfigError: a night outside ``0 .. nights - 1``, or unknown options.
    """
    opts = dict(options or {})
    unknown = set(opts) - {"night", "nights"}
    if unknown:
        raise ConfigError(f"unknown reset option(s) {sorted(unknown)}",
                          "reset takes options={'night': k, 'nights': N}")
    nights = opts.get("nights", 1)
    night = opts.get("night", 0)
    for name, value in (("nights", nights), ("night", night)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"{name} = {value!r} is not a whole number", "e.g. nights = 30")
    if nights < 1 or not 0 <= night < nights:
        raise ConfigError(f"night {night} of a {nights}-night campaign does not exist",
                          f"nights count from 0 to {max(nights - 1, 0)}")
    return int(night), int(nights)


@dataclass
class CampaignState:
    """What one campaign's nights pass on, and its data for the final score.

    Attributes:
        seed: The campaign's seed.
        nights: Its length.
        truth: The hidden truth (drawn on night 0).
        catalog: The targets (night 0's).
        archive: The history before the campaign (``target_index``, ``mjd``,
            ``mag``, ``error_mag``).
        played: Nights finished so far.
        visits: Per finished night, its visits (the four history arrays plus
            ``exptime_s``).
        grids: Per finished night, the times its light curves were scored at.
        window_h: Per finished night, the observing window, hours.
        dome_closed_s: Per finished night, seconds the dome was closed.
        science_score: Per finished night, the reward summed.
    """

    seed: int
    nights: int
    truth: Any
    catalog: Any
    archive: dict[str, np.ndarray]
    played: int = 0
    visits: list[dict[str, np.ndarray]] = field(default_factory=list)
    grids: list[np.ndarray] = field(default_factory=list)
    window_h: list[float] = field(default_factory=list)
    dome_closed_s: list[float] = field(default_factory=list)
    science_score: list[float] = field(default_factory=list)

    def check_next(self, night: int, seed: int) -> None:
        """Refuse a night that does not follow the last one of this campaign.

        Raises:
            ConfigError: another seed, or a night skipped or repeated.
        """
        if seed != self.seed or night != self.played:
            raise ConfigError(
                f"night {night} of seed {seed} cannot follow night {self.played - 1} of seed "
                f"{self.seed} in this environment",
                "play a campaign's nights in order, from night 0, on one environment")

    def record_night(self, log: dict[str, list[float]], grid_mjd: np.ndarray, window_h: float,
                     dome_closed_s: float, science_score: float) -> None:
        """Keep a finished night's visits and bookkeeping."""
        lg = {k: np.asarray(log[k], float) for k in
              ("target_index", "mjd", "mag", "error_mag", "exptime_s")}
        lg["target_index"] = lg["target_index"].astype(int)
        self.visits.append(lg)
        self.grids.append(np.asarray(grid_mjd, float))
        self.window_h.append(float(window_h))
        self.dome_closed_s.append(float(dome_closed_s))
        self.science_score.append(float(science_score))
        self.played += 1

    def history(self) -> dict[str, np.ndarray]:
        """The archive plus every measured visit of the nights played, sorted by time."""
        parts = [self.archive, *self.visits]
        out = {k: np.concatenate([np.asarray(p[k]) for p in parts])
               for k in ("target_index", "mjd", "mag", "error_mag")}
        ok = np.isfinite(out["mag"]) & np.isfinite(out["error_mag"]) & (out["error_mag"] > 0)
        order = np.argsort(out["mjd"][ok], kind="stable")
        hist = {k: v[ok][order] for k, v in out.items()}
        hist["target_index"] = hist["target_index"].astype(int)
        return hist

    def measurements(self) -> tuple[np.ndarray, ...]:
        """The archive then every night's visits: target index, mjd, mag, error, and
        which rows are the campaign's own (the rest is the archive)."""
        a = self.archive
        idx, mjd, mag, err = (np.concatenate([np.asarray(a[k])] + [v[k] for v in self.visits])
                              for k in ("target_index", "mjd", "mag", "error_mag"))
        return (idx.astype(int), mjd, mag, err,
                np.arange(len(idx)) >= len(a["target_index"]))

    def metrics(self, priority_min: float = 2.0) -> dict[str, float]:
        """The whole campaign judged against the hidden truth.

        Returns:
            ``campaign_nights``; ``characterised_campaign`` (priority targets
            characterised at the end that the archive alone did not) and per
            hour of observing window (``characterised_campaign_per_h``);
            ``frac_characterised`` and per kind at the end;
            ``period_recovery_rate`` (priority periodic stars whose period is
            recovered within 1%); for new transients (priority transients that
            peak after the campaign's first night starts): how many
            (``new_transients``), how many characterised
            (``new_transients_characterised``: peak within 1 day) and the
            median days from the first detection to the end of the night after
            which the peak was first recovered
            (``transient_days_to_characterise``, NaN if none);
            ``lc_rmse_mag`` over every night's grid; ``science_score``,
            ``visits``, ``targets_visited``; ``open_shutter_fraction`` of the
            windows and ``open_shutter_fraction_dome_open``.
        """
        if not self.visits:
            return {"campaign_nights": 0.0}
        idx, mjd, mag, err, tonight = self.measurements()
        hours = float(sum(self.window_h))
        sci = science_metrics(self.truth, self.catalog, idx, mjd, mag, err,
                              np.concatenate(self.grids), priority_min=priority_min,
                              tonight=tonight, hours=hours)
        exposed_s = float(sum(v["exptime_s"].sum() for v in self.visits))
        window_s = hours * 3600.0
        out = {
            "campaign_nights": float(len(self.visits)),
            "characterised_campaign": sci["characterised_tonight"],
            "characterised_campaign_per_h": sci["characterised_tonight_per_h"],
            "frac_characterised": sci["frac_characterised"],
            "period_recovery_rate": sci["frac_characterised_periodic"],
            "lc_rmse_mag": sci["lc_rmse_mag"],
            "science_score": float(sum(self.science_score)),
            "visits": float(sum(len(v["mjd"]) for v in self.visits)),
            "targets_visited": float(len(np.unique(np.concatenate(
                [v["target_index"] for v in self.visits])))),
            "open_shutter_fraction": exposed_s / max(window_s, 1.0),
            "open_shutter_fraction_dome_open": exposed_s / max(
                window_s - float(sum(self.dome_closed_s)), 1.0),
            **{k: v for k, v in sci.items() if k.startswith("frac_characterised_")},
        }
        out.update(self._new_transients(priority_min))
        return out

    def _new_transients(self, priority_min: float) -> dict[str, float]:
        """How fast the transients that peak during the campaign were characterised."""
        truth = self.truth
        start = float(self.grids[0][0])
        prio = np.asarray(self.catalog.priority, float)
        kinds = np.asarray(truth.kind)
        new = np.flatnonzero((kinds == _TRANSIENT) & (prio >= priority_min)
                             & (np.asarray(truth.peak_mjd, float) > start))
        night_end = np.array([g[-1] for g in self.grids])
        hist = self.history()
        days: list[float] = []
        for i in new:
            sel = hist["target_index"] == i
            t, m, e = hist["mjd"][sel], hist["mag"][sel], hist["error_mag"][sel]
            ours = t >= start
            if not ours.any():
                continue
            first, prev = float(t[ours][0]), -np.inf
            for end in night_end:  # refitted after each night that added data to it
                fresh = bool(((t > prev) & (t <= end)).any())
                prev = end
                if end < first or not fresh or (t <= end).sum() < 5:
                    continue
                upto = t <= end
                if abs(_fit_peak_mjd(t[upto], m[upto], e[upto])
                       - float(truth.peak_mjd[i])) < PRECISION["peak_d"]:
                    days.append(float(end - first))
                    break
        return {"new_transients": float(len(new)),
                "new_transients_characterised": float(len(days)),
                "transient_days_to_characterise": float(np.median(days)) if days else float("nan")}


class CampaignNights:
    """What ``TargetSelectionEnv`` adds for campaigns: each night's place in one, the
    hand-over of a finished night, and the campaign's score (a mixin: it reads the
    environment's ``clock``, ``config``, ``night_date``, ``log`` and night bookkeeping).
    """

    _campaign: CampaignState | None

    def _campaign_night(self, night: int, nights: int, seed: int) -> CampaignNight | None:
        """This night's place in a campaign (``None`` for a single night).

        Raises:
            ConfigError: a campaign in live mode, or a night out of order.
        """
        if nights == 1:
            self._campaign = None
            return None
        if self.clock == "wall":
            raise ConfigError("a live night (clock = 'wall') cannot be part of a campaign",
                              "run live nights one at a time, without --nights")
        if not night:
            return CampaignNight(0, truth_offset_d=(nights - 1) / 2.0)
        if self._campaign is None or self._campaign.nights != nights:
            raise ConfigError(f"night {night} of seed {seed} needs nights 0..{night - 1} "
                              "first", "play a campaign's nights in order, from night 0")
        self._close_campaign_night()
        self._campaign.check_next(night, seed)
        return CampaignNight(night, truth=self._campaign.truth, history=self._campaign.history())

    def _almanac_of(self, night: int) -> Any:
        from steer.instruments.sim import Almanac

        cfg = self.config
        return Almanac.for_night(night_date_of(self.night_date, night), cfg.site_lat_deg,
                                 cfg.site_lon_deg, cfg.site_height_m,
                                 sun_alt_max_deg=cfg.sun_alt_max_deg)

    def _close_campaign_night(self) -> None:
        """Hand the night just played to the campaign (once; ToO rows stay behind)."""
        if not getattr(self, "_campaign_open", False):
            return
        self._campaign_open = False
        keep = np.asarray(self.log["target_index"], int) < self._n_catalog
        log = {k: np.asarray(v)[keep] for k, v in self.log.items()}
        self._campaign.record_night(log, self.grid_mjd,
                                    (self.end_mjd - self.observatory.night_start_mjd) * 24.0,
                                    self.dome_closed_s, self.science_score)

    def campaign_metrics(self) -> dict[str, float]:
        """The campaign played so far, judged against the hidden truth
        (:meth:`steer.envs.campaign.CampaignState.metrics`).

        Raises:
            ConfigError: the last reset did not start or continue a campaign.
        """
        if self._campaign is None:
            raise ConfigError("this environment is not playing a campaign",
                              "reset with options={'night': 0, 'nights': N}, N > 1")
        self._close_campaign_night()
        return self._campaign.metrics()

