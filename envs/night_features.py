"""The observation of a night of target selection: named features, and its visibility check.

``observation["targets"]`` is `N x F` with columns :data:`TARGET_FEATURES`;
``observation["globals"]`` has :data:`GLOBAL_FEATURES`. Policies read them by
name through their :class:`~steer.envs.context.CatalogContext`.
:class:`NightObservation` computes them for
:class:`~steer.envs.target_selection.TargetSelectionEnv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steer.errors import CatalogError

__all__ = ["TARGET_FEATURES", "GLOBAL_FEATURES", "NightObservation", "check_observable"]

TARGET_FEATURES: tuple[str, ...] = (
    "alt_deg", "az_deg", "airmass", "moon_sep_deg", "depth_margin_mag", "depth_loss_mag",
    "hours_since_visit", "priority", "uncertainty_mag", "overhead_s", "feasible",
)
_T_LOW = np.array([-90, 0, 1, 0, -40, 0, 0, 0, 0, 0, 0], np.float32)
_T_HIGH = np.array([90, 360, 10, 180, 40, 20, 720, 1000, 10, 3600, 1], np.float32)

GLOBAL_FEATURES: tuple[str, ...] = (
    "night_frac", "hours_left", "moon_alt_deg", "moon_illumination", "last_seeing_arcsec",
    "last_transparency", "dome_open",
)
_G_LOW = np.array([0, 0, -90, 0, 0, 0, 0], np.float32)
_G_HIGH = np.array([1, 24, 90, 1, 10, 1, 1], np.float32)

_NEVER_H = 720.0  # "hours since visit" for targets never observed (30 days)


def _clip(x: Any, lo: Any, hi: Any) -> np.ndarray:
    """``np.clip`` without its dispatch overhead (same values, NaN kept)."""
    return np.minimum(np.maximum(x, lo), hi)


def check_observable(catalog: Any, cfg: Any, alm: Any, night_date: str, where: str) -> None:
    """Raise CatalogError if no target of ``catalog`` is ever observable tonight.

    Args:
        catalog: The targets.
        cfg: The observatory configuration (site, altitude and airmass limits).
        alm: The night's almanac.
        night_date: The night, for the message.
        where: Where the catalog came from, for the message.
    """
    from steer.instruments.sim import airmass, altaz_deg

    ra, dec = alm.to_date_coords(np.asarray(catalog.ra_deg), np.asarray(catalog.dec_deg))
    times = np.linspace(alm.night_start_mjd, alm.night_end_mjd, 40)
    best_alt = np.full(len(ra), -90.0)
    for t in times:
        alt, _ = altaz_deg(ra, dec, alm.lst_deg(t), cfg.site_lat_deg)
        best_alt = np.maximum(best_alt, alt)
    ok = (best_alt >= cfg.alt_min_deg) & (airmass(best_alt) <= cfg.airmass_max)
    if not ok.any():
        raise CatalogError(
            f"no target of catalog {where!r} rises above {cfg.alt_min_deg} deg altitude "
            f"(airmass <= {cfg.airmass_max}) on the night of {night_date} at "
            f"latitude {cfg.site_lat_deg} deg",
            "check ra_deg/dec_deg, the night_date or the observatory preset",
        )


class NightObservation:
    """What the agent sees of the night: features, feasibility, the clock (a mixin).

    The host environment provides ``observatory``, ``catalog``, ``config``,
    ``n_targets``, ``end_mjd``, ``exptimes_s``, ``default_exptime_index``,
    ``priority``, ``public``, ``last_visit_mjd``, ``last_seeing_arcsec`` and
    ``last_transparency``.
    """

    def _min_airmass_tonight(self) -> np.ndarray:
        best = np.full(self.n_targets, -90.0)
        for t in np.linspace(self.observatory.night_start_mjd, self.end_mjd, 24):
            alt, _ = self.observatory.targets_altaz(t)
            best = np.maximum(best, alt)
        from steer.instruments.sim import airmass

        return np.clip(airmass(np.maximum(best, 1.0)), 1.0, 10.0)


    def features(self) -> np.ndarray:
        """Return the `N x F` per-target feature matrix (float64, named columns)."""
        o = self.observatory
        alt, az = o.targets_altaz()
        am = np.clip(o.airmass(), 1.0, 10.0)
        default_t = self.exptimes_s[self.default_exptime_index]
        m5 = o.predicted_m5(default_t, self.last_seeing_arcsec, self.last_transparency)
        if getattr(self, "_band_k_n", -1) != self.n_targets:  # once a night (and per ToO)
            self._band_k = np.array([self.config.k_ext[b] for b in self.catalog.band])
            self._band_k_n = self.n_targets
        loss = self._band_k * (am - self._min_airmass) + 1.5 * np.log10(am / self._min_airmass)
        since_h = _clip((o.mjd - self.last_visit_mjd) * 24.0, 0.0, _NEVER_H)
        return np.stack([
            alt, az, am, o.moon_sep_deg(), _clip(m5 - self.catalog.mag, -40, 40),
            _clip(loss, 0, 20), since_h, self.priority, np.sqrt(self.public.ipv),
            _clip(o.overhead_s(), 0, 3600), self.feasible_mask().astype(float),
        ], axis=1)


    def feasible_mask(self) -> np.ndarray:
        """Targets observable right now (night, limits, Moon, dome)."""
        if self.observatory.mjd >= self.end_mjd:
            return np.zeros(self.n_targets, bool)
        return np.asarray(self.observatory.feasible_mask(), bool)


    def _globals(self) -> np.ndarray:
        o, alm = self.observatory, self.observatory.almanac
        span = self.end_mjd - o.night_start_mjd
        moon_alt, _ = alm.moon_altaz_deg(o.mjd)
        return np.array([
            min(max((o.mjd - o.night_start_mjd) / span, 0.0), 1.0),
            min(max((self.end_mjd - o.mjd) * 24.0, 0.0), 24.0), float(moon_alt),
            float(alm.moon_illumination(o.mjd)), self.last_seeing_arcsec, self.last_transparency,
            float(o.weather.dome_open(o.mjd)),
        ])


    def _obs(self) -> dict[str, np.ndarray]:
        t = _clip(self.features(), _T_LOW, _T_HIGH).astype(np.float32)
        g = _clip(self._globals(), _G_LOW, _G_HIGH).astype(np.float32)
        return {"targets": t, "globals": g}


    def night_fraction(self) -> float:
        """Fraction of the observing window already elapsed (0 at dusk, 1 at the end)."""
        return float(self._globals()[0])


    def progress_fraction(self) -> float:
        """Fraction of the episode done: :meth:`night_fraction`."""
        return self.night_fraction()


    def is_over(self) -> bool:
        """Whether the observing window is over."""
        return bool(self.observatory.mjd >= self.end_mjd)


    def record_summary(self, observation: dict[str, np.ndarray],
                       info: dict[str, Any]) -> dict[str, Any]:
        """The clock (``mjd``, ``elapsed_s`` since dusk), feasible targets and global features."""
        mjd = float(info.get("mjd", np.nan))
        out: dict[str, Any] = {
            "mjd": mjd, "n_feasible": int(np.sum(info.get("action_mask", []))),
            "elapsed_s": (mjd - float(self.observatory.night_start_mjd)) * 86400.0}
        g = observation.get("globals")
        if g is not None:
            out.update({name: float(v) for name, v in zip(GLOBAL_FEATURES, g, strict=False)})
        return out
