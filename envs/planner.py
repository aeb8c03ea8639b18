"""``steer suggest`` and ``steer plan``: what to observe now, and tonight.

Both build a :class:`steer.envs.target_selection.TargetSelectionEnv` on the
user's catalog and site with clear weather (``cloudiness = 0``), condition it
on the user's history (the env's ``history`` option; an empty history when
none is given, never the simulator's synthetic one) and start the policy with
:func:`steer.loop.start_policy`. The simulator's hidden light curves play no
part in what is printed: the predictions (five-sigma depth, magnitude error)
use the stated seeing and transparency, and the planner tells the policy a
*believed* measurement (the policy's own predicted magnitude, else the catalog
magnitude, with the predicted error) instead of the simulated one.

``suggest`` ranks the targets at one time. ``plan`` plays the night from dusk
to dawn (Sun below the preset's -12 deg): at each step it takes the policy's
best proposal whose whole visit (slew, exposure, readout) stays above the
altitude limit, below the airmass limit and within the night, and skips the
others; visits follow each other on the simulated clock, so none overlap.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from steer.envs.night_actions import SATURATION_MARGIN_MAG
from steer.envs.target_selection import TargetSelectionEnv
from steer.errors import CatalogError, ConfigError

__all__ = ["Conditions", "StatedConditionsEnv", "open_night", "parse_time", "night_date_for",
           "default_policy", "suggest", "mjd_to_iso", "make_catalog_policy"]

_MJD_UNIX = 40587.0
_S_PER_DAY = 86400.0
_TRACK_STEP_D = 2.0 / 1440.0  # 2-min grid for "time left above the limit"
#: Per policy: the reason of the first suggestion, and the ranking of the others.
_LEAD: dict[str, tuple[str, str]] = {
    "bo": ("highest expected information (light curve and period) per second",
           "expected information per second"),
    "feature": ("best Rubin-style feature score (airmass, slew, priority, revisit)",
                "Rubin-style feature score"),
    "greedy": ("highest priority at the lowest airmass", "priority, then airmass"),
    "round-robin": ("longest time since the last visit", "time since the last visit"),
    "random": ("random pick among the observable targets", "random draw"),
}


@dataclass(frozen=True)
class Conditions:
    """Observing conditions assumed for the predictions.

    Attributes:
        seeing_arcsec: Zenith seeing FWHM at 500 nm, arcsec.
        transparency: Cloud transmission in (0, 1].
    """

    seeing_arcsec: float = 1.0
    transparency: float = 1.0

    def __post_init__(self) -> None:
        """Check the ranges."""
        if not (math.isfinite(self.seeing_arcsec) and 0.2 <= self.seeing_arcsec <= 10.0):
            raise ConfigError(f"--seeing {self.seeing_arcsec} is outside [0.2, 10] arcsec")
        if not (math.isfinite(self.transparency) and 0.0 < self.transparency <= 1.0):
            raise ConfigError(f"--transparency {self.transparency} is outside (0, 1]",
                              "1 is a clear sky, 0.5 loses 0.75 mag to clouds")


class StatedConditionsEnv(TargetSelectionEnv):
    """TargetSelection-v0 whose predictions use stated, not simulated, conditions.

    The environment's features predict depth from the last measured seeing
    and transparency; here they stay at the stated values all night.

    Args:
        conditions: The assumed seeing and transparency.
        **kwargs: :class:`TargetSelectionEnv` arguments.
    """

    def __init__(self, conditions: Conditions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conditions = conditions

    def _pin(self) -> None:
        self.last_seeing_arcsec = self.conditions.seeing_arcsec
        self.last_transparency = self.conditions.transparency

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start the night; the observation uses the stated conditions."""
        _, info = super().reset(seed=seed, options=options)
        self._pin()
        return self._obs(), info

    def _account(self, act: Any, m: Any) -> float:
        reward = super()._account(act, m)
        self._pin()
        return reward


def parse_time(text: str) -> float:
    """``now`` or an ISO 8601 time (UTC unless it has an offset) as UTC MJD."""
    if text.strip().lower() == "now":
        t = dt.datetime.now(dt.UTC)
    else:
        try:
            t = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ConfigError(f"--time {text!r} is not an ISO 8601 time",
                              "e.g. --time 2026-03-21T03:00:00Z, or --time now") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
    return t.timestamp() / _S_PER_DAY + _MJD_UNIX


def mjd_to_iso(mjd: float) -> str:
    """UTC MJD as ISO 8601 with seconds and a ``Z``."""
    t = dt.datetime.fromtimestamp((mjd - _MJD_UNIX) * _S_PER_DAY, dt.UTC)
    return t.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_night(text: str) -> str:
    """``YYYY-MM-DD`` (the local date of the evening)."""
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ConfigError(f"--night {text!r} is not a date", "use YYYY-MM-DD, the evening's "
                          "local date") from None


def night_date_for(mjd: float, lon_deg: float) -> str:
    """Local evening date of the night that contains ``mjd`` (local mean solar time)."""
    local = dt.datetime.fromtimestamp((mjd - _MJD_UNIX) * _S_PER_DAY + lon_deg / 15.0 * 3600.0,
                                      dt.UTC)
    if local.hour < 12:
        local -= dt.timedelta(days=1)
    return local.date().isoformat()


def default_policy(history: dict[str, np.ndarray] | None) -> str:
    """``bo`` when some target has at least two past visits (its light-curve GP then
    has something to learn from), else ``feature``."""
    if history is None or len(history["target_index"]) == 0:
        return "feature"
    return "bo" if np.bincount(history["target_index"]).max() >= 2 else "feature"


def make_catalog_policy(name: str, **params: Any) -> Any:
    """A registered policy that drives ``steer/TargetSelection-v0`` (kind ``catalog``).

    Raises:
        RegistryError: unknown policy.
        ConfigError: a policy for another kind of environment.
    """
    import steer.policies as registry

    if hasattr(registry, "policy_class"):
        drives = tuple(getattr(registry.policy_class(name), "drives", ("catalog",)))
    else:  # the registry before policies declared what they drive
        drives = (getattr(registry, "POLICY_KINDS", {}).get(name, "catalog"),)
    if "catalog" not in drives:
        raise ConfigError(f"policy {name!r} does not choose catalog targets (it drives "
                          f"{', '.join(drives)} environments)",
                          "use feature, bo, greedy, round-robin or random")
    return registry.make_policy(name, **params)


def open_night(catalog: Any, source: str, site: Any, night_date: str,
               history: dict[str, np.ndarray] | None, conditions: Conditions,
               alt_min_deg: float | None = None) -> StatedConditionsEnv:
    """The environment for one night of ``catalog`` at ``site``, reset (seed 0).

    Raises:
        ConfigError: no astronomical night (Sun below -12 deg) that date there.
        CatalogError: no target rises above the limit that night.
    """
    from steer.envs.history import empty_history
    from steer.instruments.sim import airmass, get_preset
    from steer.instruments.sim.iers_cache import use_cached_iers

    use_cached_iers()  # ~0.9 s of IERS parsing saved after the first run

    overrides = site.overrides()
    if alt_min_deg is not None:
        if not (math.isfinite(alt_min_deg) and 0.0 <= alt_min_deg < 86.5):
            raise ConfigError(f"--min-alt {alt_min_deg} is outside [0, 86.5) deg")
        overrides["alt_min_deg"] = float(alt_min_deg)
    # the altitude limit is the limit: the airmass cap follows it (2.0 at 30 deg)
    overrides["airmass_max"] = max(get_preset(site.preset).airmass_max,
                                   float(airmass(overrides["alt_min_deg"])) * 1.0001)
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="steer-catalog-")
    os.close(fd)
    try:
        catalog.to_csv(tmp)
        env = StatedConditionsEnv(conditions, preset=site.preset, night_date=night_date,
                                  catalog_path=tmp, cloudiness=0.0, overrides=overrides,
                                  history=history if history is not None else empty_history(),
                                  max_steps=10**6)
    except CatalogError as exc:
        raise CatalogError(str(exc.message).replace(repr(tmp), repr(source))
                           .replace(tmp, source) + f" at {site.name}", exc.hint) from None
    except ConfigError as exc:
        if "the Sun never goes below" not in exc.message:
            raise
        raise ConfigError(f"no night: {exc.message} ({site.name})",
                          "no astronomical darkness there on that date (polar summer); "
                          "choose another date or site") from None
    finally:
        os.unlink(tmp)
    env.reset(seed=0)
    return env


def _date_coords(env: Any, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cat = env.catalog
    ra, dec = env.almanac.to_date_coords(np.asarray(cat.ra_deg)[idx],
                                         np.asarray(cat.dec_deg)[idx])
    return np.atleast_1d(ra), np.atleast_1d(dec)


def _up_hours(env: Any, idx: np.ndarray, t0_mjd: float) -> np.ndarray:
    """Hours from ``t0_mjd`` until each target drops below the limits or dawn comes."""
    from steer.instruments.sim import airmass, altaz_deg

    cfg = env.config
    t = np.arange(t0_mjd, env.end_mjd, _TRACK_STEP_D)
    if len(t) == 0:
        return np.zeros(len(idx))
    ra, dec = _date_coords(env, idx)
    alt, _ = altaz_deg(ra[:, None], dec[:, None], env.almanac.lst_deg(t)[None, :],
                       cfg.site_lat_deg)
    ok = (alt >= cfg.alt_min_deg) & (airmass(np.maximum(alt, 0.1)) <= cfg.airmass_max)
    first_bad = np.where(ok.all(axis=1), len(t), np.argmin(ok, axis=1))
    end = np.where(first_bad >= len(t), env.end_mjd, t[np.minimum(first_bad, len(t) - 1)])
    return np.maximum(end - t0_mjd, 0.0) * 24.0


def _predictions(env: Any, idx: np.ndarray, exptime_s: np.ndarray,
                 mjd: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five-sigma depth, magnitude error (NaN if saturated) and saturation flag."""
    from steer.instruments.sim import mag_error

    o, c = env.observatory, env.conditions
    exps = np.full(env.n_targets, float(env.exptimes_s[env.default_exptime_index]))
    exps[idx] = exptime_s
    m5 = np.asarray(o.predicted_m5(exps, c.seeing_arcsec, c.transparency, mjd=mjd))[idx]
    mag = np.asarray(env.catalog.mag)[idx]
    sat = np.array([env.config.saturation_mag_30s[b] for b in np.asarray(env.catalog.band)[idx]])
    saturated = mag < sat + 2.5 * np.log10(np.asarray(exptime_s) / 30.0)
    err = np.where(saturated, np.nan, mag_error(mag, m5))
    return m5, err, saturated


def _ago(days: float) -> str:
    if not np.isfinite(days):
        return "never observed"
    return f"last seen {days * 24:.1f} h ago" if days < 2 else f"last seen {days:.1f} d ago"


def _reason(policy: str, rank: int, ago_d: float, n_visits: int, up_h: float, night_left_h: float,
            slew_s: float, priority: float, saturated: bool, after_mask: bool = False) -> str:
    top, short = _LEAD.get(policy, (f"best by {policy}", policy))
    lead = top if rank == 0 else f"#{rank + 1} by {short}"
    if after_mask:  # ranked in the second pass, whatever its score
        lead = (f"#{rank + 1}, after the targets that would not saturate: every exposure is "
                f"predicted to (within {SATURATION_MARGIN_MAG:g} mag; by {short} among these)")
        saturated = False  # said already
    seen = _ago(ago_d) + (f" ({n_visits} visits)" if n_visits > 1 else "")
    sets = (f"up until dawn ({up_h:.1f} h)" if up_h >= night_left_h - 0.05
            else f"sets below the limit in {up_h:.1f} h")
    extra = ", saturates at this exposure" if saturated else ""
    return f"{lead}: {seen}, {sets}, {slew_s:.0f} s slew, priority {priority:g}{extra}"


def suggest(env: Any, policy_name: str, when_mjd: float, n: int,
            seed: int = 0, policy_params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The ``n`` best targets at ``when_mjd``, ranked, one dict each.

    Args:
        env: From :func:`open_night` (reset, clock at dusk).
        policy_name: A catalog policy id.
        when_mjd: UTC MJD within the night.
        n: How many suggestions.
        seed: Policy seed.
        policy_params: The policy's settings (e.g. ``rl``'s ``model``).

    Raises:
        ConfigError: ``when_mjd`` outside the night.
        CatalogError: nothing observable at that time.
    """
    from steer.loop import start_policy

    base = env.unwrapped
    o, alm = base.observatory, base.almanac
    if not (o.night_start_mjd <= when_mjd < base.end_mjd):
        sun = float(alm.sun_alt_deg(when_mjd)) if alm.grid_mjd[0] <= when_mjd <= \
            alm.grid_mjd[-1] else float("nan")
        raise ConfigError(
            f"{mjd_to_iso(when_mjd)} is not in the night of {base.night_date} "
            f"(Sun {sun:+.1f} deg); the Sun is below {base.config.sun_alt_max_deg:g} deg from "
            f"{mjd_to_iso(o.night_start_mjd)} to {mjd_to_iso(base.end_mjd)}",
            "pass a --time inside the night")
    if o.mjd > when_mjd and o.feasible_mask(when_mjd).any():
        o.mjd = when_mjd  # reset skipped ahead past an empty stretch; go back to the time asked
    obs, info = base.idle(max((when_mjd - o.mjd) * _S_PER_DAY, 1e-3))
    mask = np.asarray(info["action_mask"], bool)
    if not mask.any():
        raise CatalogError(f"no target is observable at {mjd_to_iso(when_mjd)}: none is above "
                           f"{base.config.alt_min_deg:g} deg altitude (airmass <= "
                           f"{base.config.airmass_max:.2f}, Moon >= "
                           f"{base.config.moon_min_sep_deg:g} deg away)",
                           "try another --time or a lower --min-alt")
    policy = make_catalog_policy(policy_name, **(policy_params or {}))
    start_policy(policy, env, seed)
    proposals: list[Any] = []
    seen: set[int] = set()
    second: set[int] = set()
    # the policy's ranking honours the exposure mask (no frame predicted to saturate);
    # when that leaves fewer than n targets, the rest follow, flagged as saturating
    asks = [info, {k: v for k, v in info.items() if k != "exposure_mask"}]
    unsaturated = 0  # proposals from the first pass
    for k, ask in enumerate(asks):
        for p in policy.suggest(obs, ask, n * len(base.exptimes_s)):  # best exposure per target
            if p.action.target_index not in seen:
                seen.add(p.action.target_index)
                proposals.append(p)
                if k and unsaturated:  # listed behind targets that do not saturate
                    second.add(p.action.target_index)
        unsaturated = len(proposals)
        if len(proposals) >= n:
            break
    proposals = proposals[:n]
    idx = np.array([p.action.target_index for p in proposals], int)
    exps = np.array([p.action.exptime_s for p in proposals], float)
    t = o.mjd
    alt, az = o.targets_altaz()
    am, sep, over = o.airmass(), o.moon_sep_deg(), o.overhead_s()
    ra_date, _ = _date_coords(base, idx)
    ha_h = ((float(alm.lst_deg(t)) - ra_date + 180.0) % 360.0 - 180.0) / 15.0
    up_h = _up_hours(base, idx, t)
    m5, err, sat = _predictions(base, idx, exps)
    counts = np.bincount(base.history["target_index"], minlength=base.n_targets)
    night_left_h = (base.end_mjd - t) * 24.0
    cat = base.catalog
    rows = []
    for r, (p, i) in enumerate(zip(proposals, idx, strict=True)):
        ago = t - base.last_visit_mjd[i]
        rows.append({
            "rank": r + 1, "target_id": str(cat.target_id[i]), "ra_deg": float(cat.ra_deg[i]),
            "dec_deg": float(cat.dec_deg[i]), "alt_deg": float(alt[i]), "az_deg": float(az[i]),
            "airmass": float(np.clip(am[i], 1.0, 99.0)), "moon_sep_deg": float(sep[i]),
            "hour_angle_h": float(ha_h[r]), "up_h": float(up_h[r]),
            "exptime_s": float(exps[r]), "m5_mag": float(m5[r]),
            "mag_err": None if not np.isfinite(err[r]) else float(err[r]),
            "saturates": bool(sat[r]), "slew_s": float(over[i]), "score": float(p.score),
            "reason": _reason(policy_name, r, ago, int(counts[i]), float(up_h[r]), night_left_h,
                              float(over[i]), float(cat.priority[i]), bool(sat[r]),
                              i in second),
            "time_utc": mjd_to_iso(t)})
    return rows
