"""What a night adds for its report beyond the decision records (``extras.json``).

:func:`night_extras` is :meth:`steer.envs.target_selection.TargetSelectionEnv.episode_extras`:
the hidden truth the records do not hold (true light curves of the most
observed and the highest-priority targets, every target's class), the Moon
over the night, the weather (zenith seeing, cloud fraction, dome-closed
intervals) and the night's limits. Small (tens of KB for a 1,000-target
night) and fast (a few milliseconds): it is computed once per episode and
again by the live report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["night_extras", "dome_closed_intervals"]

_GRID_POINTS = 120  # Moon and weather samples over the night
_CURVE_POINTS = 160  # truth samples per light curve
_DOME_STEP_S = 60.0  # resolution of the dome-closed intervals


def _rounded(values: Any, decimals: int) -> list[float | None]:
    arr = np.round(np.asarray(values, float), decimals)
    return [None if not np.isfinite(v) else float(v) for v in arr]


def dome_closed_intervals(weather: Any, start_mjd: float, end_mjd: float,
                          step_s: float = _DOME_STEP_S) -> list[list[float]]:
    """``[start_mjd, end_mjd]`` of every stretch the dome is closed (clouds), at ``step_s``."""
    t = np.arange(start_mjd, end_mjd + step_s / 86400.0, step_s / 86400.0)
    closed = np.asarray(weather.cloud_fraction(t), float) > weather.dome_close_cloud_fraction
    out: list[list[float]] = []
    i = 0
    while i < t.size:
        if closed[i]:
            j = i
            while j + 1 < t.size and closed[j + 1]:
                j += 1
            out.append([round(float(t[i]), 6), round(float(min(t[j] + step_s / 86400.0,
                                                                end_mjd)), 6)])
            i = j + 1
        else:
            i += 1
    return out


def _curve_targets(visits: np.ndarray, priority: np.ndarray, n_curves: int) -> dict[str, list[int]]:
    """The ``n_curves`` most observed targets and the ``n_curves`` highest-priority ones
    (among the observed, if any was)."""
    counts = np.bincount(visits, minlength=priority.size) if visits.size else \
        np.zeros(priority.size, int)
    observed = np.flatnonzero(counts > 0)
    most = observed[np.lexsort((-priority[observed], -counts[observed]))][:n_curves]
    pool = observed if observed.size else np.arange(priority.size)
    top = pool[np.lexsort((-counts[pool], -priority[pool]))][:n_curves]
    return {"most_observed": [int(i) for i in most], "highest_priority": [int(i) for i in top]}


_CLOUD_TIMES = 24  # cloud maps over the night
_CLOUD_ALT_DEG = np.arange(25.0, 90.0, 10.0)
_CLOUD_AZ_DEG = np.arange(0.0, 360.0, 20.0)


def cloud_map(weather: Any, start_mjd: float, end_mjd: float) -> dict[str, Any]:
    """Cloud extinction on an alt/az grid at times through the night (for the sky view).

    Returns:
        ``mjd`` (times), ``alt_deg`` and ``az_deg`` (the grid's points) and
        ``extinction_mag`` (per time, per point; magnitudes, 0 = clear).
    """
    alt, az = (a.ravel() for a in np.meshgrid(_CLOUD_ALT_DEG, _CLOUD_AZ_DEG, indexing="ij"))
    times = np.linspace(start_mjd, end_mjd, _CLOUD_TIMES)
    ext = [_rounded(weather.extinction_mag(alt, az, float(t)), 2) for t in times]
    return {"mjd": _rounded(times, 6), "alt_deg": _rounded(alt, 1), "az_deg": _rounded(az, 1),
            "extinction_mag": ext}


def night_extras(env: Any, n_curves: int = 6) -> dict[str, Any]:
    """The report's extras of one night (JSON-able).

    Args:
        env: A reset :class:`~steer.envs.target_selection.TargetSelectionEnv`.
        n_curves: Light curves of this many most observed and this many
            highest-priority targets.

    Returns:
        ``night_start_mjd``, ``night_end_mjd``, ``class_names``,
        ``target_class`` (per target, when the truth is known), ``priority``
        (per target), ``grid_mjd`` with ``moon_alt_deg``, ``moon_az_deg``,
        ``moon_illumination``, ``zenith_seeing_arcsec`` and
        ``cloud_fraction`` on it, ``dome_closed`` (intervals, MJD),
        ``cloud_map`` (:func:`cloud_map`),
        ``curve_targets`` and ``light_curves`` (per target index: id, class,
        priority and the true magnitude on ``curve_mjd``).
    """
    o = env.observatory
    start, end = float(o.night_start_mjd), float(env.end_mjd)
    grid = np.linspace(start, end, _GRID_POINTS)
    alm = o.almanac
    moon_alt, moon_az = alm.moon_altaz_deg(grid)
    out: dict[str, Any] = {
        "night_start_mjd": start, "night_end_mjd": end,
        "site": {"lat_deg": float(env.config.site_lat_deg),
                 "lon_deg": float(env.config.site_lon_deg)},
        "grid_mjd": _rounded(grid, 6), "moon_alt_deg": _rounded(moon_alt, 2),
        "moon_az_deg": _rounded(moon_az, 2),
        "moon_illumination": _rounded(alm.moon_illumination(grid), 3),
        "priority": _rounded(env.priority, 3),
    }
    weather = getattr(o, "weather", None)
    if weather is not None:
        out["zenith_seeing_arcsec"] = _rounded(weather.zenith_seeing_arcsec(grid), 3)
        out["cloud_fraction"] = _rounded(weather.cloud_fraction(grid), 3)
        out["dome_closed"] = dome_closed_intervals(weather, start, end)
        out["cloud_map"] = cloud_map(weather, start, end)
    visits = np.asarray(env.log["target_index"], int)
    picks = _curve_targets(visits, np.asarray(env.priority, float), n_curves)
    out["curve_targets"] = picks
    truth = getattr(o, "truth", None)
    if truth is None:
        return out
    from steer.instruments.sim.truth import KIND_NAMES

    out["class_names"] = [KIND_NAMES[k] for k in sorted(KIND_NAMES)]
    out["target_class"] = [int(k) for k in truth.kind]
    chosen = sorted(set(picks["most_observed"]) | set(picks["highest_priority"]))
    pad = 0.05 * (end - start)
    t = np.linspace(start - pad, end + pad, _CURVE_POINTS)
    out["curve_mjd"] = _rounded(t, 6)
    curves = {}
    if chosen:
        mags = truth.mag(np.asarray(chosen)[:, None], t[None, :])
        for row, i in zip(mags, chosen, strict=True):
            curves[str(i)] = {"target_id": str(env.catalog.target_id[i]),
                              "class": KIND_NAMES[int(truth.kind[i])],
                              "priority": round(float(env.priority[i]), 3),
                              "visits": int(np.sum(visits == i)),
                              "true_mag": _rounded(row, 4)}
    out["light_curves"] = curves
    return out
