"""One self-contained interactive HTML report per run (and per comparison).

The report is assembled from :class:`Section` objects: the environment's
presenter says which sections a run has
(:meth:`steer.presenter.Presenter.report_sections`); this module knows no
environment. Every figure is a Plotly figure; plotly.js is inlined once in
the page (nothing is downloaded when it opens), so the file can be mailed,
logged to MLflow as ``report.html`` and opened from the run's Artifacts tab.

A few lines of inline JavaScript, in the decision explorer's section
(:mod:`steer.report_explorer`), wire its selector: clicking any point whose
``customdata`` is a decision index selects that decision.

Example:
    >>> html = build_report("tiny: feature, seed 1", sections)  # doctest: +SKIP
    >>> write_report(Path("report.html"), html)  # doctest: +SKIP
"""

from __future__ import annotations

import html as html_lib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steer.atomic import write_text_atomic

if TYPE_CHECKING:
    from steer.presenter import Presenter
    from steer.records import DecisionRecord

__all__ = ["Section", "build_report", "write_report", "run_report", "figure_div",
           "mjd_to_utc", "PLOT_CONFIG"]

#: Plotly config of every figure: no Plotly logo, no cloud links, resize with the page.
PLOT_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True,
                               "toImageButtonOptions": {"format": "png", "scale": 2}}

_MJD_UNIX_EPOCH = 40587.0


def mjd_to_utc(mjd: Sequence[float] | Any) -> list[str | None]:
    """MJD values as ``YYYY-MM-DD HH:MM:SS`` UTC strings (Plotly date axes); NaN -> None."""
    out: list[str | None] = []
    for value in list(mjd):
        v = float(value) if value is not None else math.nan
        if not math.isfinite(v):
            out.append(None)
            continue
        stamp = datetime.fromtimestamp((v - _MJD_UNIX_EPOCH) * 86400.0, tz=UTC)
        out.append(stamp.strftime("%Y-%m-%d %H:%M:%S"))
    return out


@dataclass
class Section:
    """One part of a report: a title, a short note, figures and/or raw HTML.

    Attributes:
        title: Heading of the section (also its entry in the page's menu).
        figures: Plotly figures, drawn in order; each is ``(div_id, figure)``
            so tests and links can find it.
        note: One or two plain-text sentences under the title (escaped).
        html: Trusted HTML placed before the figures (built by steer, never
            from user input).
        anchor: The section's HTML id (derived from the title when empty).
    """

    title: str
    figures: list[tuple[str, Any]] = field(default_factory=list)
    note: str = ""
    html: str = ""
    anchor: str = ""

    @property
    def id(self) -> str:
        """The section's HTML id."""
        if self.anchor:
            return self.anchor
        return "sec-" + "".join(c if c.isalnum() else "-" for c in self.title.lower()).strip("-")


def figure_div(div_id: str, fig: Any) -> str:
    """The ``<div>`` of one Plotly figure, without plotly.js (inlined once per page)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config=PLOT_CONFIG, default_width="100%")


_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2430;
background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:14px 24px}
header h1{font-size:20px;margin:0 0 4px 0}
header .sub{font-size:13px;color:#c8d2de}
nav{position:sticky;top:0;z-index:10;background:#fff;border-bottom:1px solid #dde2e8;
padding:6px 24px;font-size:14px}
nav a{margin-right:16px;color:#1f5fa8;text-decoration:none}
main{padding:8px 24px 40px 24px;max-width:1400px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:14px 0;
padding:10px 16px}
section h2{font-size:17px;margin:6px 0}
p.note{font-size:13px;color:#4a5563;margin:4px 0 8px 0}
table.kv{border-collapse:collapse;font-size:13px}
table.kv td,table.kv th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
table.kv th{color:#4a5563;font-weight:600}
table.grid{border-collapse:collapse;font-size:13px;margin:6px 0}
table.grid td,table.grid th{border:1px solid #dde2e8;padding:3px 8px;text-align:right}
table.grid th:first-child,table.grid td:first-child{text-align:left}
.explorer-controls{display:flex;gap:10px;align-items:center;font-size:14px;margin:6px 0}
.explorer-controls input[type=range]{flex:1}
.explorer-body{display:grid;grid-template-columns:minmax(320px,1fr) 2fr;gap:14px}
#steer-details .reason{font-size:14px;margin:6px 0;padding:6px 8px;background:#eef4fb;
border-left:3px solid #1f5fa8}
.status-ok{color:#1a7f37}.status-rejected,.status-failed{color:#c62828}
footer{font-size:12px;color:#6b7480;padding:0 24px 24px 24px}
"""


def _header(title: str, subtitle: str, meta: dict[str, str]) -> tuple[str, str]:
    rows = "".join(f"<tr><th>{html_lib.escape(k)}</th><td>{html_lib.escape(v)}</td></tr>"
                   for k, v in meta.items())
    table = f'<table class="kv" id="steer-meta">{rows}</table>' if rows else ""
    return (f"<header><h1>{html_lib.escape(title)}</h1>"
            f'<div class="sub">{html_lib.escape(subtitle)}</div></header>',
            f'<section id="sec-summary"><h2>Summary</h2>{table}</section>')


def build_report(title: str, sections: Sequence[Section], meta: dict[str, str] | None = None,
                 subtitle: str = "", refresh_s: float | None = None) -> str:
    """The whole report as one HTML string with plotly.js inlined.

    Args:
        title: Page title and heading.
        sections: The sections, in order.
        meta: Rows of the summary table (label -> text), e.g. run id, policy,
            seed and the run's summary metrics.
        subtitle: A line under the heading.
        refresh_s: Reload the page every this many seconds (the live report
            of a running night); ``None``: a finished report.

    Returns:
        The HTML document.
    """
    from plotly.offline import get_plotlyjs

    refresh = "" if refresh_s is None else \
        f'<meta http-equiv="refresh" content="{max(1, round(refresh_s))}">'
    nav = "".join(f'<a href="#{s.id}">{html_lib.escape(s.title)}</a>' for s in sections)
    body = []
    for s in sections:
        parts = [f'<section id="{s.id}"><h2>{html_lib.escape(s.title)}</h2>']
        if s.note:
            parts.append(f'<p class="note">{html_lib.escape(s.note)}</p>')
        parts.append(s.html)
        parts.extend(figure_div(div_id, fig) for div_id, fig in s.figures)
        parts.append("</section>")
        body.append("".join(parts))
    made = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    live = "" if refresh_s is None else f" (live: reloads every {round(refresh_s)} s)"
    head, summary = _header(title, subtitle, meta or {})
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"{refresh}<title>{html_lib.escape(title)}</title>"
            f"<style>{_STYLE}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f"{head}<nav>{nav}</nav><main>{summary}{''.join(body)}</main>"
            f"<footer>made by steer on {made}{live}</footer></body></html>")


def write_report(path: Path, html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a browser reloading it never sees half a file).

    Returns:
        ``path``.
    """
    return write_text_atomic(path, html)


def run_meta(records: Sequence[DecisionRecord], presenter: Presenter,
             metrics: dict[str, float] | None = None,
             params: dict[str, Any] | None = None) -> dict[str, str]:
    """The summary table of one run: who, what, and the presenter's summary rows."""
    meta: dict[str, str] = {}
    params = params or {}
    first = records[0] if records else None
    for label, value in (("run id", params.get("run_id") or (first.run_id if first else "")),
                         ("experiment", params.get("experiment", "")),
                         ("environment", params.get("env_id", "")),
                         ("policy", params.get("policy") or (first.policy if first else "")),
                         ("seed", params.get("seed", first.seed if first else ""))):
        if value not in ("", None):
            meta[label] = str(value)
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    meta["decisions"] = f"{len(records)} (" + ", ".join(
        f"{n} {s}" for s, n in sorted(statuses.items())) + ")" if records else "0"
    deciders = sorted({r.decided_by for r in records})
    if deciders:
        meta["decided by"] = ", ".join(deciders)
    for label, text in presenter.summary_lines(metrics or {}):
        meta[label] = text
    return meta


def run_report(records: Sequence[DecisionRecord], presenter: Presenter,
               extras: dict[str, Any] | None = None, title: str = "",
               metrics: dict[str, float] | None = None,
               params: dict[str, Any] | None = None,
               refresh_s: float | None = None) -> str:
    """The report of one run, from its decision records (and the env's extras).

    Args:
        records: The run's decisions, in order.
        presenter: The environment's presenter (says which sections to draw).
        extras: The environment's ``episode_extras()`` (``extras.json``), or ``{}``.
        title: Heading (e.g. ``"demo: bo, seed 0"``).
        metrics: The run's summary metrics (rows of the summary table).
        params: The run's parameters (``run_id``, ``experiment``, ``env_id``,
            ``policy``, ``seed``).
        refresh_s: See :func:`build_report`.

    Returns:
        The HTML document.
    """
    t0 = time.perf_counter()
    records = list(records)
    sections = presenter.report_sections(records, dict(extras or {}))
    built_s = time.perf_counter() - t0
    meta = run_meta(records, presenter, metrics, params)
    subtitle = (f"{len(records)} decisions; sections: {', '.join(s.title for s in sections)}"
                f"; figures built in {built_s:.2f} s")
    return build_report(title or "steer run", sections, meta, subtitle, refresh_s=refresh_s)


def data_json(value: Any) -> str:
    """``value`` as JSON safe to embed in a ``<script type="application/json">``."""
    from steer.records import json_safe

    text = json.dumps(json_safe(value), allow_nan=False, separators=(",", ":"))
    return text.replace("</", "<\\/")
