"""Report sections of episodes whose actions are points of a box or of a pool.

Used by the presenters of :mod:`steer.envs.point_view`:

* :func:`focus_sections` (autofocus): FWHM per exposure with the best so
  far, the true FWHM and the seeing floor; the focuser position against the
  true best focus; and the V-curve (FWHM against focuser position);
* :func:`regret_sections` (black box, candidate pool): the measured value
  with its best so far, the true regret on a log scale, and the points
  evaluated (the first two coordinates).

Drawn from the decision records alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from steer.presenter import finite
from steer.records import DecisionRecord
from steer.report import Section

__all__ = ["focus_sections", "regret_sections"]


def _evaluations(records: Sequence[DecisionRecord]) -> list[dict[str, Any]]:
    """One dict per executed evaluation: its decision index, point and every measured number."""
    out = []
    for i, r in enumerate(records):
        m = r.measurement
        if r.status != "ok" or not m:
            continue
        action = (r.proposal or {}).get("action") or {}
        row = {k: f for k, v in m.items() if (f := finite(v)) is not None}
        row["i"] = i
        row["x"] = action.get("x") or action.get("x_unit") or []
        row["objective_name"] = str(m.get("objective_name") or "value")
        out.append(row)
    return out


def _best_so_far(values: list[float | None]) -> list[float | None]:
    best, out = math.inf, []
    for v in values:
        if v is not None and v < best:
            best = v
        out.append(None if math.isinf(best) else best)
    return out


def _objective_fig(evals: list[dict[str, Any]], label: str, truth_key: str | None,
                   second: tuple[str, str, str | None] | None, log_second: bool) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    name = evals[0]["objective_name"] if evals else "value"
    n = list(range(1, len(evals) + 1))
    idx = [e["i"] for e in evals]
    y = [e.get(name) for e in evals]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(go.Scatter(x=n, y=y, mode="markers", name=f"measured {name}",
                             meta="evaluations", customdata=idx,
                             marker={"size": 8, "color": "#1f5fa8"},
                             hovertemplate="evaluation %{x}: %{y:.4g}<br>decision %{customdata}"
                                           "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=n, y=_best_so_far(y), mode="lines", name="best so far",
                             line={"shape": "hv", "color": "#c62828"}), row=1, col=1)
    if truth_key and any(e.get(truth_key) is not None for e in evals):
        fig.add_trace(go.Scatter(x=n, y=[e.get(truth_key) for e in evals], mode="markers",
                                 name="true (simulator)",
                                 marker={"symbol": "circle-open", "size": 11, "color": "#555"}),
                      row=1, col=1)
    floor = [e.get("truth_fwhm_min_arcsec") for e in evals if e.get("truth_fwhm_min_arcsec")]
    if floor:
        fig.add_hline(y=min(floor), line_dash="dot", line_color="#333", row=1, col=1,
                      annotation_text="seeing floor", annotation_position="bottom right")
    if second is not None:
        key, label2, truth2 = second
        fig.add_trace(go.Scatter(x=n, y=[e.get(key) for e in evals], mode="lines+markers",
                                 name=label2, customdata=idx,
                                 line={"color": "#2ca02c", "width": 1}), row=2, col=1)
        if truth2 and any(e.get(truth2) is not None for e in evals):
            fig.add_trace(go.Scatter(x=n, y=[e.get(truth2) for e in evals], mode="lines",
                                     name=f"true {label2} (simulator)",
                                     line={"dash": "dash", "color": "#333"}), row=2, col=1)
        fig.update_yaxes(title_text=label2, type="log" if log_second else "linear", row=2, col=1)
    fig.update_yaxes(title_text=label, row=1, col=1)
    fig.update_xaxes(title_text="evaluation", dtick=max(1, len(n) // 20), row=2, col=1)
    fig.update_layout(height=620, margin={"l": 70, "r": 20, "t": 30, "b": 40},
                      legend={"orientation": "h", "y": 1.06})
    return fig


def focus_sections(records: Sequence[DecisionRecord]) -> list[Section]:
    """Autofocus: FWHM and focuser position per exposure, and the V-curve."""
    import plotly.graph_objects as go

    evals = _evaluations(records)
    per_exposure = _objective_fig(evals, "star FWHM [arcsec]", "truth_fwhm_arcsec",
                                  ("position_steps", "focuser position [steps]",
                                   "truth_best_position_steps"), log_second=False)
    vcurve = go.Figure()
    vcurve.add_trace(go.Scatter(
        x=[e.get("position_steps") for e in evals], y=[e.get("fwhm_arcsec") for e in evals],
        mode="markers+text", name="measured", meta="evaluations",
        customdata=[e["i"] for e in evals], text=[str(k + 1) for k in range(len(evals))],
        textposition="top center",
        marker={"size": 9, "color": list(range(len(evals))), "colorscale": "Viridis",
                "colorbar": {"title": {"text": "exposure"}}},
        hovertemplate="position %{x:.0f}: %{y:.3f} arcsec<br>decision %{customdata}"
                      "<extra></extra>"))
    best = [e.get("truth_best_position_steps") for e in evals if e.get("truth_best_position_steps")]
    if best:
        vcurve.add_vline(x=best[-1], line_dash="dash", line_color="#333",
                         annotation_text="true best focus at the end")
    vcurve.update_layout(height=480, xaxis={"title": {"text": "focuser position [steps]"}},
                         yaxis={"title": {"text": "star FWHM [arcsec]"}},
                         margin={"l": 70, "r": 20, "t": 30, "b": 40})
    return [Section("Focus per exposure", figures=[("fig-focus", per_exposure)],
                    note="Measured FWHM per exposure with its best so far and (simulation) "
                         "the true FWHM and the seeing floor; below, the focuser position "
                         "against the true best focus, which drifts with temperature."),
            Section("V-curve", figures=[("fig-vcurve", vcurve)],
                    note="FWHM against focuser position, numbered in the order measured.")]


def regret_sections(records: Sequence[DecisionRecord]) -> list[Section]:
    """Black box and pool: the objective, the true regret and the points evaluated."""
    import plotly.graph_objects as go

    evals = _evaluations(records)
    has_regret = any(e.get("simple_regret") is not None for e in evals)
    fig = _objective_fig(evals, f"measured {evals[0]['objective_name'] if evals else 'value'}",
                         None, ("simple_regret", "true simple regret", None) if has_regret
                         else None, log_second=True)
    sections = [Section("Objective and regret", figures=[("fig-regret", fig)],
                        note="The measured value per evaluation with its best so far; below, "
                             "the true simple regret (simulation), log scale.")]
    pts = [e for e in evals if len(e["x"]) >= 2]
    if pts:
        name = pts[0]["objective_name"]
        scatter = go.Figure(go.Scatter(
            x=[e["x"][0] for e in pts], y=[e["x"][1] for e in pts], mode="markers+text",
            text=[str(k + 1) for k in range(len(pts))], textposition="top center",
            customdata=[e["i"] for e in pts], meta="evaluations",
            marker={"size": 10, "color": [e.get(name) for e in pts], "colorscale": "Viridis",
                    "colorbar": {"title": {"text": name}}},
            hovertemplate="x0 %{x:.3g}, x1 %{y:.3g}<br>decision %{customdata}<extra></extra>"))
        scatter.update_layout(height=520, xaxis={"title": {"text": "x[0]"}},
                              yaxis={"title": {"text": "x[1]"}},
                              margin={"l": 70, "r": 20, "t": 30, "b": 40})
        sections.append(Section("Points evaluated", figures=[("fig-points", scatter)],
                                note="The first two coordinates of every evaluated point, "
                                     "numbered in order, coloured by the measured value."))
    return sections
