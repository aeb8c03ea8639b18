"""The report of a policy comparison (``steer compare ... --report PATH``).

From :func:`steer.runner.compare`'s summary: each metric's distribution per
policy over the seeds (box, seeds as points, mean with its 95% interval),
the paired differences against the first policy with their 95% intervals,
and the numbers as a table.
"""

from __future__ import annotations

import html as html_lib
import math
from collections.abc import Sequence
from typing import Any

from steer.presenter import finite
from steer.report import Section, build_report

__all__ = ["comparison_report", "comparison_sections"]

_COLS = 3
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def _shown(summary: dict[str, Any], metrics: Sequence[str]) -> list[str]:
    first = summary["metrics"][summary["policies"][0]]
    named = [k for k in metrics if k in first]
    return named or sorted(first)


def _grid(n: int) -> tuple[int, int]:
    cols = min(_COLS, max(n, 1))
    return math.ceil(max(n, 1) / cols), cols


def _distribution_fig(summary: dict[str, Any], shown: list[str]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    policies, seeds = summary["policies"], summary["seeds"]
    rows, cols = _grid(len(shown))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=shown, vertical_spacing=0.12 / rows
                        * 3 if rows > 1 else 0.1, horizontal_spacing=0.08)
    for k, metric in enumerate(shown):
        r, c = k // cols + 1, k % cols + 1
        for j, p in enumerate(policies):
            d = summary["metrics"][p][metric]
            vals = [finite(v) for v in d["values"]]
            colour = _PALETTE[j % len(_PALETTE)]
            fig.add_trace(go.Box(y=vals, x=[p] * len(vals), name=p, boxpoints="all",
                                 jitter=0.4, pointpos=0, marker={"color": colour, "size": 6},
                                 line={"color": colour}, fillcolor="rgba(0,0,0,0.04)",
                                 showlegend=k == 0, legendgroup=p, meta="seeds",
                                 text=[f"seed {s}" for s in seeds],
                                 hovertemplate="%{text}: %{y:.4g}<extra>" + p + "</extra>"),
                          row=r, col=c)
            mean, low, high = (finite(d.get(x)) for x in ("mean", "low", "high"))
            if mean is not None:
                err = None if low is None or high is None else {
                    "type": "data", "symmetric": False, "array": [high - mean],
                    "arrayminus": [mean - low], "color": "#111"}
                fig.add_trace(go.Scatter(x=[p], y=[mean], mode="markers", error_y=err,
                                         marker={"symbol": "diamond", "size": 9,
                                                 "color": "#111"},
                                         name="mean ± 95% interval", showlegend=k == 0 and j == 0,
                                         legendgroup="mean",
                                         hovertemplate=f"{p} mean %{{y:.4g}}<extra></extra>"),
                              row=r, col=c)
    fig.update_layout(height=300 * rows + 80, boxmode="overlay",
                      margin={"l": 60, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": 1.0 + 0.12 / rows, "yanchor": "bottom"})
    return fig


def _paired_fig(summary: dict[str, Any], shown: list[str]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ref = summary["reference"]
    others = [p for p in summary["policies"] if p != ref]
    rows, cols = _grid(len(shown))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{m}: {ref} - other"
                                                              for m in shown],
                        vertical_spacing=0.12 / rows * 3 if rows > 1 else 0.1,
                        horizontal_spacing=0.1)
    for k, metric in enumerate(shown):
        r, c = k // cols + 1, k % cols + 1
        for j, p in enumerate(others):
            d = summary["paired"][p].get(metric, {})
            mean, low, high = (finite(d.get(x)) for x in ("mean", "low", "high"))
            if mean is None:
                continue
            err = None if low is None or high is None else {
                "type": "data", "symmetric": False, "array": [high - mean],
                "arrayminus": [mean - low]}
            colour = _PALETTE[(j + 1) % len(_PALETTE)]
            fig.add_trace(go.Scatter(x=[mean], y=[p], mode="markers", error_x=err,
                                     meta="paired", name=p, showlegend=False,
                                     marker={"size": 10, "color": colour},
                                     hovertemplate=f"{ref} - {p}: %{{x:.4g}}<extra></extra>"),
                          row=r, col=c)
        fig.add_vline(x=0, line_color="#888", line_dash="dot", row=r, col=c)
    fig.update_layout(height=max(220, 60 * len(others) + 120) * rows,
                      margin={"l": 90, "r": 20, "t": 60, "b": 40})
    return fig


def _cell(d: dict[str, Any]) -> str:
    mean, low, high = (finite(d.get(x)) for x in ("mean", "low", "high"))
    if mean is None:
        return "-"
    if low is None or high is None:
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.3g}, {high:.3g}]"


def _table(summary: dict[str, Any], shown: list[str]) -> str:
    pols, ref = summary["policies"], summary["reference"]
    others = [p for p in pols if p != ref]
    head = "".join(f"<th>{html_lib.escape(p)}</th>" for p in pols) + "".join(
        f"<th>{html_lib.escape(ref)} - {html_lib.escape(p)}</th>" for p in others)
    rows = []
    for m in shown:
        cells = [_cell(summary["metrics"][p][m]) for p in pols]
        cells += [_cell(summary["paired"][p].get(m, {})) for p in others]
        rows.append(f"<tr><td>{html_lib.escape(m)}</td>" + "".join(
            f"<td>{html_lib.escape(c)}</td>" for c in cells) + "</tr>")
    return (f'<table class="grid" id="steer-comparison-table"><tr><th>metric</th>{head}</tr>'
            + "".join(rows) + "</table>")


def comparison_sections(summary: dict[str, Any], metrics: Sequence[str]) -> list[Section]:
    """The comparison's sections: distributions, paired differences, the table."""
    shown = _shown(summary, metrics)
    n = len(summary["seeds"])
    out = [Section("Per policy over seeds", figures=[("fig-compare", _distribution_fig(
                       summary, shown))],
                   note=f"Each metric's values over the {n} seeded nights (points: seeds; "
                        "box: quartiles; black diamond: mean with its 95% Student-t interval)."),
           Section("Table", html=_table(summary, shown),
                   note="Mean [95% interval] per policy, then the paired difference against "
                        f"{summary['reference']} (same seeds).")]
    if summary.get("paired"):
        out.insert(1, Section(
            "Paired differences", figures=[("fig-paired", _paired_fig(summary, shown))],
            note=f"{summary['reference']} minus each other policy, seed by seed (the same "
                 "weather, sky and hidden light curves), mean with its 95% interval. An "
                 "interval that crosses the dotted zero line is no verdict."))
    return out


def comparison_report(summary: dict[str, Any], metrics: Sequence[str], title: str = "") -> str:
    """The comparison report as one HTML document (plotly.js inlined).

    Args:
        summary: What :func:`steer.runner.compare` returns.
        metrics: The rows to show, in order (the presenter's comparison metrics).
        title: Heading (default: the experiment and the policies).
    """
    pols = summary["policies"]
    meta = {"experiment": str(summary.get("experiment", "")),
            "policies": ", ".join(pols), "reference": summary["reference"],
            "seeds": ", ".join(str(s) for s in summary["seeds"])}
    if summary.get("comparison_run_id"):
        meta["comparison run id"] = summary["comparison_run_id"]
    for p, ids in (summary.get("run_ids") or {}).items():
        meta[f"runs of {p}"] = ", ".join(ids)
    meta = {k: v for k, v in meta.items() if v}
    return build_report(title or f"comparison: {', '.join(pols)}",
                        comparison_sections(summary, metrics), meta,
                        subtitle=f"{len(pols)} policies x {len(summary['seeds'])} seeds")
