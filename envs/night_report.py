"""The report sections of a night of target selection (used by ``NightPresenter``).

* the sky: alt/az of every visit coloured by target class, the telescope's
  path, the Moon, refused actions, and a time slider that moves the
  telescope and the Moon through the night;
* the timeline: visits (target against time, coloured by class), dome-closed
  and idle periods, and the seeing, transparency, sky-brightness and cloud
  strips;
* light curves of the most observed and the highest-priority targets: the
  measurements with error bars, the policy's prediction before each visit
  (when it recorded one) and, in simulation, the hidden truth.

Drawn from the records plus the environment's extras
(:func:`steer.envs.night_extras.night_extras`); without extras (a run logged
before they existed) the truth, the classes, the Moon's path and the weather
strips are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from steer.presenter import finite
from steer.records import DecisionRecord
from steer.report import Section, mjd_to_utc

__all__ = ["night_sections", "sky_section", "timeline_section", "light_curve_section"]

_CLASS_COLOURS = {"constant": "#7f8c99", "periodic": "#1f77b4", "transient": "#d62728",
                  "visits": "#1f77b4"}
_SLIDER_STEPS = 32
_IDLE_MIN_S = 120.0  # gaps longer than this between visits are shown as idle


_CLOUDY_MAG = 0.3  # cloud extinction shown on the sky view


def _f(value: Any) -> float:
    f = finite(value)
    return math.nan if f is None else f


def _visits(records: Sequence[DecisionRecord]) -> list[dict[str, Any]]:
    """One dict per executed visit (decision index, target, time, pointing, conditions)."""
    out = []
    for i, r in enumerate(records):
        m = r.measurement
        if r.status != "ok" or not m:
            continue
        action = (r.proposal or {}).get("action") or {}
        cond = m.get("conditions") or {}
        over = m.get("overheads_s") or {}
        out.append({"i": i, "target": int(action.get("target_index", -1)),
                    "target_id": str(action.get("target_id", "")),
                    "start_mjd": _f(r.sim_mjd), "mjd": _f(m.get("mjd_mid")),
                    "end_mjd": _f(r.sim_mjd) + sum(_f(v) for v in over.values()
                                                   if finite(v) is not None) / 86400.0,
                    "exptime_s": _f(m.get("exptime_s")), "alt": _f(cond.get("alt_deg")),
                    "az": _f(cond.get("az_deg")), "mag": _f(m.get("value_mag")),
                    "err": _f(m.get("error_mag")),
                    "seeing": _f(cond.get("seeing_fwhm_arcsec")),
                    "transparency": _f(cond.get("transparency")),
                    "sky": _f(cond.get("sky_mag_arcsec2")),
                    "expl": (r.proposal or {}).get("explanation") or {}})
    return out


def _class_of(extras: dict[str, Any]) -> tuple[list[str], Any]:
    """Class names and a function target index -> class name (``visits`` without truth)."""
    names = extras.get("class_names") or []
    kinds = extras.get("target_class") or []

    def of(i: int) -> str:
        return names[kinds[i]] if names and 0 <= i < len(kinds) else "visits"

    return (names or ["visits"]), of


def sky_section(records: Sequence[DecisionRecord], extras: dict[str, Any]) -> Section:
    """Alt/az of the night (zenith at the centre, North up, East left) with a time slider."""
    import plotly.graph_objects as go

    visits = [v for v in _visits(records) if math.isfinite(v["alt"]) and math.isfinite(v["az"])]
    names, class_of = _class_of(extras)
    fig = go.Figure()
    r_all = [round(90.0 - v["alt"], 2) for v in visits]
    th_all = [round(v["az"], 2) for v in visits]
    fig.add_trace(go.Scatterpolar(r=r_all, theta=th_all, mode="lines", name="telescope path",
                                  line={"color": "rgba(90,100,115,0.35)", "width": 1},
                                  hoverinfo="skip"))
    for name in names:
        sel = [k for k, v in enumerate(visits) if class_of(v["target"]) == name]
        if not sel:
            continue
        fig.add_trace(go.Scatterpolar(
            r=[r_all[k] for k in sel], theta=[th_all[k] for k in sel], mode="markers",
            name=name if name != "visits" else "visits", meta="visits",
            marker={"size": 7, "color": _CLASS_COLOURS.get(name, "#1f77b4"),
                    "line": {"width": 0.5, "color": "#222"}},
            customdata=[visits[k]["i"] for k in sel],
            text=[f"{visits[k]['target_id']} at {t}" for k, t in
                  zip(sel, mjd_to_utc([visits[k]["mjd"] for k in sel]), strict=True)],
            hovertemplate="%{text}<br>decision %{customdata}<extra></extra>"))
    rejected = []
    for i, r in enumerate(records):
        cond = ((r.proposal or {}).get("explanation") or {})
        if r.status == "rejected" and finite(cond.get("alt_deg")) is not None:
            rejected.append((i, _f(cond.get("alt_deg")), _f(cond.get("az_deg"))))
    if rejected:
        fig.add_trace(go.Scatterpolar(r=[90 - a for _, a, _ in rejected],
                                      theta=[z for _, _, z in rejected], mode="markers",
                                      name="refused", customdata=[i for i, _, _ in rejected],
                                      marker={"symbol": "x", "size": 9, "color": "#c62828"}))
    grid = np.asarray(extras.get("grid_mjd") or [], float)
    moon_alt = np.asarray(extras.get("moon_alt_deg") or [], float)
    moon_az = np.asarray(extras.get("moon_az_deg") or [], float)
    if grid.size and moon_alt.size == grid.size:
        up = moon_alt > 0
        fig.add_trace(go.Scatterpolar(r=np.where(up, 90 - moon_alt, np.nan).round(2),
                                      theta=moon_az.round(2), mode="lines", name="Moon path",
                                      line={"color": "#c9a227", "dash": "dot", "width": 2},
                                      text=mjd_to_utc(grid),
                                      hovertemplate="Moon at %{text}<extra></extra>"))
    # traces the slider moves: the path so far, the telescope now, the Moon now, the clouds
    clouds = extras.get("cloud_map") or {}
    cloud_t = np.asarray(clouds.get("mjd") or [], float)
    cloud_r = 90.0 - np.asarray(clouds.get("alt_deg") or [], float)
    cloud_th = np.asarray(clouds.get("az_deg") or [], float)

    def cloudy_at(t: float) -> tuple[list[float], list[float]]:
        """The grid points with more than 0.3 mag of cloud at the cloud map nearest ``t``."""
        if not cloud_t.size:
            return [], []
        ext = np.asarray(clouds["extinction_mag"][int(np.argmin(np.abs(cloud_t - t)))], float)
        sel = np.nan_to_num(ext) > _CLOUDY_MAG
        return cloud_r[sel].round(1).tolist(), cloud_th[sel].round(1).tolist()

    first = len(fig.data)
    fig.add_trace(go.Scatterpolar(r=[], theta=[], mode="lines", name="path, last hour",
                                  line={"color": "#ff7f0e", "width": 2}, hoverinfo="skip"))
    fig.add_trace(go.Scatterpolar(r=[], theta=[], mode="markers", name="telescope",
                                  marker={"symbol": "star", "size": 16, "color": "#ff7f0e",
                                          "line": {"width": 1, "color": "#222"}}))
    fig.add_trace(go.Scatterpolar(r=[], theta=[], mode="markers", name="Moon",
                                  marker={"size": 18, "color": "#f2d45c",
                                          "line": {"width": 1, "color": "#8a7414"}}))
    fig.add_trace(go.Scatterpolar(r=[], theta=[], mode="markers",
                                  name=f"cloud > {_CLOUDY_MAG} mag", hoverinfo="skip",
                                  marker={"size": 22, "color": "rgba(110,110,125,0.28)",
                                          "symbol": "circle"}))
    steps = []
    times = [v["mjd"] for v in visits]
    if visits:
        t0, t1 = min(times), max(times)
        for t in np.linspace(t0, t1, min(_SLIDER_STEPS, len(visits))):
            k = int(np.searchsorted(times, t, side="right"))
            k0 = int(np.searchsorted(times, t - 1.0 / 24.0, side="left"))
            moon_r, moon_th = [], []
            if grid.size and moon_alt.size == grid.size:
                a = float(np.interp(t, grid, moon_alt))
                if a > 0:
                    moon_r, moon_th = [round(90 - a, 2)], [round(float(np.interp(t, grid, moon_az)), 2)]
            cl_r, cl_th = cloudy_at(float(t))
            steps.append({"method": "restyle", "label": (mjd_to_utc([t])[0] or "")[11:16],
                          "args": [{"r": [r_all[k0:k], r_all[k - 1:k], moon_r, cl_r],
                                    "theta": [th_all[k0:k], th_all[k - 1:k], moon_th, cl_th]},
                                   [first, first + 1, first + 2, first + 3]]})
    fig.update_layout(
        height=640, margin={"l": 40, "r": 40, "t": 40, "b": 40},
        polar={"radialaxis": {"range": [0, 90], "tickvals": [0, 15, 30, 45, 60, 75, 90],
                              "ticktext": ["90°", "75°", "60°", "45°", "30°", "15°", "0°"],
                              "angle": 90, "tickangle": 90},
               "angularaxis": {"rotation": 90, "direction": "counterclockwise",
                               "tickvals": [0, 90, 180, 270],
                               "ticktext": ["N", "E", "S", "W"]}},
        legend={"orientation": "v", "x": 1.02, "y": 1.0},
        title={"text": "the sky: alt/az (zenith at the centre, North up, East left)"},
        sliders=[{"active": len(steps) - 1, "steps": steps, "pad": {"t": 30},
                  "currentvalue": {"prefix": "time (UTC): "}}] if steps else [])
    if steps:  # start at the end of the night
        for key in ("r", "theta"):
            for j, values in enumerate(steps[-1]["args"][0][key]):
                fig.data[first + j][key] = values
    return Section("Sky", figures=[("fig-sky", fig)],
                   note="Every visit at its altitude and azimuth, coloured by the target's "
                        "class (known in simulation), the telescope's path and the Moon. The "
                        "slider moves the telescope (star), its path over the last hour, the "
                        f"Moon and the clouds (grey: more than {_CLOUDY_MAG} mag of "
                        "extinction) through the night. Click a visit to explore its decision.")


def _shade(fig: Any, intervals: Sequence[Sequence[float]], colour: str, name: str) -> None:
    """Shade ``intervals`` (MJD) over every row; one layout update (``add_vrect`` costs 0.2 s
    a rectangle)."""
    shapes = []
    for start, end in intervals:
        a, b = mjd_to_utc([start, end])
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": a, "x1": b,
                       "y0": 0, "y1": 1, "fillcolor": colour, "opacity": 0.35,
                       "line": {"width": 0}, "layer": "below"})
    if shapes:
        fig.update_layout(shapes=[*fig.layout.shapes, *shapes])
    if intervals:  # a legend entry for the shading
        import plotly.graph_objects as go

        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker={"symbol": "square", "size": 12, "color": colour}),
                      row=1, col=1)


def _idle(visits: list[dict[str, Any]], closed: Sequence[Sequence[float]],
          start_mjd: float | None) -> list[list[float]]:
    """Gaps longer than two minutes between visits that the dome-closed periods do not cover."""
    out = []
    prev_end = start_mjd if start_mjd is not None else (visits[0]["start_mjd"] if visits else 0)
    for v in visits:
        if (v["start_mjd"] - prev_end) * 86400.0 > _IDLE_MIN_S:
            out.extend(_minus([prev_end, v["start_mjd"]], closed))
        prev_end = max(prev_end, v["end_mjd"])
    return [g for g in out if (g[1] - g[0]) * 86400.0 > _IDLE_MIN_S]


def _minus(gap: list[float], closed: Sequence[Sequence[float]]) -> list[list[float]]:
    """The parts of ``gap`` outside every interval of ``closed``."""
    parts = [gap]
    for a, b in closed:
        parts = [q for lo, hi in parts for q in ([lo, min(hi, a)], [max(lo, b), hi])
                 if q[1] > q[0]]
    return parts


def timeline_section(records: Sequence[DecisionRecord], extras: dict[str, Any]) -> Section:
    """Visits against time with the dome-closed and idle periods and the condition strips."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    visits = _visits(records)
    names, class_of = _class_of(extras)
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.025,
                        row_heights=[0.44, 0.14, 0.14, 0.14, 0.14])
    x_all = mjd_to_utc([v["mjd"] for v in visits])
    for name in names:
        sel = [k for k, v in enumerate(visits) if class_of(v["target"]) == name]
        if not sel:
            continue
        fig.add_trace(go.Scattergl(
            x=[x_all[k] for k in sel], y=[visits[k]["target"] for k in sel], mode="markers",
            name=name, meta="visits", customdata=[visits[k]["i"] for k in sel],
            marker={"size": [5 + 6 * min(visits[k]["exptime_s"] / 120.0, 1.5) for k in sel],
                    "color": _CLASS_COLOURS.get(name, "#1f77b4"),
                    "line": {"width": 0.4, "color": "#222"}},
            text=[f"{visits[k]['target_id']}, {visits[k]['exptime_s']:.0f} s" for k in sel],
            hovertemplate="%{x}<br>%{text}<br>decision %{customdata}<extra></extra>"),
            row=1, col=1)
    grid = extras.get("grid_mjd") or []
    strips = (("seeing", "seeing FWHM [arcsec]", "#ff7f0e", "zenith_seeing_arcsec",
               "zenith seeing"),
              ("transparency", "transparency", "#1f77b4", None, ""),
              ("sky", "sky [mag/arcsec²]", "#6a3d9a", None, ""),
              (None, "cloud fraction", "#7f8c99", "cloud_fraction", "cloud fraction"))
    for row, (key, label, colour, grid_key, grid_name) in enumerate(strips, start=2):
        if key is not None:
            fig.add_trace(go.Scattergl(x=x_all, y=[v[key] for v in visits], mode="markers",
                                       name=label, showlegend=False,
                                       customdata=[v["i"] for v in visits],
                                       marker={"size": 4, "color": colour}), row=row, col=1)
        if grid_key and extras.get(grid_key):
            fig.add_trace(go.Scatter(x=mjd_to_utc(grid), y=extras[grid_key], mode="lines",
                                     name=grid_name, showlegend=False,
                                     line={"color": colour, "width": 1, "dash": "dot"}),
                          row=row, col=1)
        fig.update_yaxes(title_text=label, title_font={"size": 11}, row=row, col=1)
    closed = extras.get("dome_closed") or []
    _shade(fig, closed, "#5b6b7f", "dome closed (clouds)")
    _shade(fig, _idle(visits, closed, extras.get("night_start_mjd")), "#f5c26b",
           "idle (nothing observable)")
    fig.update_yaxes(title_text="target (catalog row)", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=4, col=1)
    fig.update_yaxes(range=[-0.02, 1.02], row=5, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=5, col=1)
    if extras.get("night_start_mjd") is not None:
        lo, hi = mjd_to_utc([extras["night_start_mjd"], extras["night_end_mjd"]])
        fig.update_xaxes(range=[lo, hi])
    fig.update_layout(height=820, margin={"l": 70, "r": 20, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0,
                              "xanchor": "right"},
                      title={"text": "timeline: visits (size: exposure time) and conditions"})
    return Section("Timeline", figures=[("fig-timeline", fig)],
                   note="Visits coloured by target class; shaded: dome closed (clouds) and idle "
                        "(nothing observable). Strips: seeing (dotted: at the zenith), "
                        "transparency and sky brightness of each visit, and the cloud fraction.")


def _curve_order(visits: list[dict[str, Any]], extras: dict[str, Any]) -> list[tuple[int, str]]:
    picks = extras.get("curve_targets") or {}
    order: list[tuple[int, str]] = []
    for group, label in (("most_observed", "most observed"),
                         ("highest_priority", "highest priority")):
        for i in picks.get(group, []):
            if all(i != j for j, _ in order):
                order.append((int(i), label))
    if not order:  # no extras: the most observed targets of the records
        counts: dict[int, int] = {}
        for v in visits:
            counts[v["target"]] = counts.get(v["target"], 0) + 1
        order = [(i, "most observed") for i, _ in
                 sorted(counts.items(), key=lambda kv: -kv[1])[:6]]
    return order


def light_curve_section(records: Sequence[DecisionRecord], extras: dict[str, Any]) -> Section:
    """Measurements with error bars, the policy's prediction and the hidden truth, per target."""
    import plotly.graph_objects as go

    visits = _visits(records)
    order = _curve_order(visits, extras)
    curves = extras.get("light_curves") or {}
    curve_x = mjd_to_utc(extras.get("curve_mjd") or [])
    fig = go.Figure()
    buttons, owner = [], []
    for n, (i, group) in enumerate(order):
        mine = [v for v in visits if v["target"] == i]
        c = curves.get(str(i), {})
        tid = c.get("target_id") or (mine[0]["target_id"] if mine else f"#{i}")
        if c.get("true_mag"):
            fig.add_trace(go.Scatter(x=curve_x, y=c["true_mag"], mode="lines",
                                     name="truth (simulator)", visible=n == 0,
                                     line={"color": "#555", "width": 1.5}))
            owner.append(n)
        pred = [v for v in mine if finite(v["expl"].get("posterior_mean_mag")) is not None]
        if pred:
            fig.add_trace(go.Scatter(
                x=mjd_to_utc([v["mjd"] for v in pred]),
                y=[v["expl"]["posterior_mean_mag"] for v in pred], mode="markers",
                name="policy's prediction (before the visit)", visible=n == 0,
                marker={"symbol": "diamond-open", "size": 9, "color": "#2ca02c"},
                error_y={"type": "data", "array": [_f(v["expl"].get("posterior_std_mag"))
                                                   for v in pred], "color": "#2ca02c"}))
            owner.append(n)
        fig.add_trace(go.Scatter(
            x=mjd_to_utc([v["mjd"] for v in mine]), y=[v["mag"] for v in mine],
            mode="markers", name="measured", visible=n == 0, meta="measurements",
            customdata=[v["i"] for v in mine],
            marker={"size": 7, "color": "#1f5fa8"},
            error_y={"type": "data", "array": [v["err"] for v in mine], "color": "#1f5fa8"},
            hovertemplate="%{x}<br>%{y:.3f} mag<br>decision %{customdata}<extra></extra>"))
        owner.append(n)
        label = (f"{tid} ({c.get('class', '?')}, {len(mine)} visits"
                 + (f", priority {c['priority']:.2f}" if "priority" in c else "") + f"; {group})")
        buttons.append({"label": label, "method": "restyle", "args": [{"visible": None}]})
    for n, b in enumerate(buttons):
        b["args"][0]["visible"] = [o == n for o in owner]
    fig.update_layout(
        height=480, margin={"l": 70, "r": 20, "t": 60, "b": 40},
        title={"text": "" if buttons else "no visits", "x": 0.5},
        yaxis={"autorange": "reversed", "title": {"text": "magnitude"}},
        xaxis={"title": {"text": "time (UTC)"}},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                      "y": 1.16, "yanchor": "top", "showactive": True}] if buttons else [])
    return Section("Light curves", figures=[("fig-light-curves", fig)],
                   note="Pick a target in the menu: the most observed and the highest-priority "
                        "targets. Measurements with 1-sigma error bars, the policy's predicted "
                        "magnitude before each visit (bo), and the hidden true light curve "
                        "(simulation only). Brighter is up.")


def night_sections(records: Sequence[DecisionRecord], extras: dict[str, Any]) -> list[Section]:
    """Sky, timeline and light curves (the explorer and latency are added by the presenter)."""
    return [sky_section(records, extras), timeline_section(records, extras),
            light_curve_section(records, extras)]
