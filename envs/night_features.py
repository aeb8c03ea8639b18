"""The named observation features of a night of target selection, and its visibility check.

``observation["targets"]`` is `N x F` with columns :data:`TARGET_FEATURES`;
``observation["globals"]`` has :data:`GLOBAL_FEATURES`. Policies read them by
name through their :class:`~steer.envs.context.CatalogContext`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steer.errors import CatalogError

__all__ = ["TARGET_FEATURES", "GLOBAL_FEATURES", "check_observable"]

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
