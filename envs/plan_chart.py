"""The visibility chart of a planned night (matplotlib object API, no pyplot)."""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

__all__ = ["visibility_chart"]

_LABELLED = 10  # targets drawn in colour with a label; the rest in grey


def visibility_chart(env: Any, result: Any, path: str | PathLike[str], title: str) -> None:
    """Altitude against UTC time of the planned targets, with twilight and the Moon.

    Each planned target's altitude track is a thin line over the night and a
    thick segment over each of its visits; the Sun's twilight is shaded (Sun
    above 0, 0 to -12 deg), the Moon's altitude is dashed with its illuminated
    fraction in the legend, and the altitude limit is a horizontal line.

    Args:
        env: The (unwrapped) environment the plan was made on.
        result: The :class:`steer.envs.night_plan.PlanResult`.
        path: PNG file to write.
        title: Chart title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from steer.instruments.sim import altaz_deg

    alm, cfg = env.almanac, env.config
    t0, t1 = result.night_start_mjd - 1.5 / 24.0, result.night_end_mjd + 1.5 / 24.0
    t = np.linspace(t0, t1, 400)
    hours = (t - np.floor(result.night_start_mjd)) * 24.0
    fig = Figure(figsize=(11, 6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    sun = alm.sun_alt_deg(t)
    ax.fill_between(hours, 0, 90, where=sun > 0, color="#f6e7a8", step="mid", label="Sun up")
    ax.fill_between(hours, 0, 90, where=(sun <= 0) & (sun > cfg.sun_alt_max_deg),
                    color="#c9d7ee", step="mid",
                    label=f"twilight (Sun 0 to {cfg.sun_alt_max_deg:g} deg)")
    moon_alt, _ = alm.moon_altaz_deg(t)
    illum = float(alm.moon_illumination(0.5 * (t0 + t1)))
    ax.plot(hours, moon_alt, "--", color="0.35", lw=1.2, label=f"Moon ({illum:.0%} lit)")
    ax.axhline(cfg.alt_min_deg, color="crimson", lw=1.0,
               label=f"altitude limit {cfg.alt_min_deg:g} deg")
    ids = list(dict.fromkeys(v["target_index"] for v in result.visits))
    if ids:
        idx = np.array(ids)
        ra, dec = alm.to_date_coords(np.asarray(env.catalog.ra_deg)[idx],
                                     np.asarray(env.catalog.dec_deg)[idx])
        alt, _ = altaz_deg(np.atleast_1d(ra)[:, None], np.atleast_1d(dec)[:, None],
                           alm.lst_deg(t)[None, :], cfg.site_lat_deg)
        colours = [f"C{k % 10}" for k in range(len(ids))]
        for k, i in enumerate(ids):
            main = k < _LABELLED
            ax.plot(hours, alt[k], color=colours[k] if main else "0.75", lw=0.8,
                    alpha=0.9 if main else 0.5,
                    label=str(env.catalog.target_id[i]) if main else None)
        row = {i: k for k, i in enumerate(ids)}
        for v in result.visits:
            k = row[v["target_index"]]
            a, b = ((np.array([v["start_mjd"], v["end_mjd"]]) - np.floor(result.night_start_mjd))
                    * 24.0)
            track = np.interp([a, b], hours, alt[k])
            ax.plot([a, b], track, color=colours[k] if k < _LABELLED else "0.4", lw=4,
                    solid_capstyle="butt")
    ax.set_xlim(hours[0], hours[-1])
    ax.set_ylim(0, 90)
    day = np.floor(result.night_start_mjd)
    from steer.envs.planner import mjd_to_iso

    ax.set_xlabel(f"hours UTC from {mjd_to_iso(day)[:10]} 00:00 (MJD {day:.0f})")
    ax.set_ylabel("altitude (deg)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
