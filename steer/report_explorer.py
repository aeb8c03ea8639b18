"""The sections every run's report has: the decision explorer and the decision latency.

The explorer lets a scientist pick any decision (a slider, a number, or a
click on any point of any plot whose ``customdata`` is the decision's index)
and shows the chosen action against its runners-up with their scores, the
cost split when the environment reports one, the numbers of the policy's
explanation, the reason in words and who decided. What each decision says
comes from the presenter (:meth:`steer.presenter.Presenter.explain`), so the
explorer knows no environment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from steer.presenter import finite
from steer.report import Section, data_json

if TYPE_CHECKING:
    from steer.presenter import Presenter
    from steer.records import DecisionRecord

__all__ = ["explorer_section", "latency_section", "generic_sections", "explorer_data",
           "round_sig"]


def round_sig(value: Any, digits: int = 5) -> float | None:
    """A finite number rounded to ``digits`` significant digits (smaller JSON), else None."""
    f = finite(value)
    if f is None:
        return None
    if f == 0.0:
        return 0.0
    return round(f, digits - 1 - int(math.floor(math.log10(abs(f)))))


def explorer_data(records: Sequence[DecisionRecord], presenter: Presenter) -> list[dict[str, Any]]:
    """What the explorer shows for each decision (JSON-able, numbers rounded)."""
    out = []
    for i, r in enumerate(records):
        e = presenter.explain(r)
        out.append({
            "i": i, "step": r.step, "attempt": r.attempt, "status": r.status, "by": r.decided_by,
            "choice": e.get("choice", ""), "score": round_sig(e.get("score")),
            "reason": e.get("reason", ""),
            "runners": [[str(label), round_sig(score)] for label, score in e.get("runners", [])],
            "numbers": [[str(k), round_sig(v) if not isinstance(v, str) else v]
                        for k, v in e.get("numbers", {}).items()],
            "cost": [[str(k), round_sig(v)] for k, v in e.get("cost_s", {}).items()],
            "outcome": e.get("outcome", ""),
        })
    return out


_EXPLORER_JS = r"""
(function(){
const D = JSON.parse(document.getElementById('steer-decisions').textContent);
const range = document.getElementById('steer-decision');
const num = document.getElementById('steer-decision-num');
const cfg = {displaylogo:false, responsive:true};
function fmt(v){ if (v===null || v===undefined) return '-'; if (typeof v !== 'number') return String(v);
  const a = Math.abs(v); return (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(3) : String(+v.toPrecision(4)); }
function esc(s){ return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function select(i){
  if (!D.length) return;
  i = Math.max(0, Math.min(D.length - 1, Math.round(+i || 0)));
  const d = D[i]; range.value = i; num.value = i;
  const labels = [d.choice + '  (chosen)'].concat(d.runners.map(r => r[0]));
  const scores = [d.score].concat(d.runners.map(r => r[1]));
  Plotly.react('fig-explorer-scores', [{type:'bar', orientation:'h', y:labels, x:scores,
    marker:{color: labels.map((_, k) => k === 0 ? '#1f5fa8' : '#9aa7b6')},
    text: scores.map(fmt), textposition:'auto', cliponaxis:false,
    hovertemplate:'%{y}: %{x:.4g}<extra></extra>'}],
    {title:{text:'decision ' + i + ' (step ' + d.step + '): chosen vs ' + d.runners.length + ' runners-up'},
     yaxis:{autorange:'reversed', automargin:true}, xaxis:{title:{text:'score (higher is better)'}, zeroline:true},
     margin:{l:10, r:20, t:40, b:45}, height: 140 + 30 * labels.length, bargap:0.25}, cfg);
  const costDiv = document.getElementById('fig-explorer-cost');
  if (d.cost.length) {
    costDiv.style.display = '';
    Plotly.react(costDiv, d.cost.map(c => ({type:'bar', orientation:'h', name:c[0], x:[c[1]], y:['cost'],
      text:[c[0] + ' ' + fmt(c[1]) + ' s'], textposition:'inside', hovertemplate: c[0] + ': %{x:.1f} s<extra></extra>'})),
      {barmode:'stack', height:150, margin:{l:10, r:20, t:35, b:40}, title:{text:'time spent on the chosen action [s]'},
       xaxis:{title:{text:'seconds'}}, yaxis:{automargin:true}, showlegend:false}, cfg);
  } else { costDiv.style.display = 'none'; }
  let h = '<div class="reason">' + esc(d.reason || '(no reason recorded)') + '</div><table class="kv">';
  h += '<tr><th>decision</th><td>' + i + ' (step ' + d.step + (d.attempt ? ', attempt ' + d.attempt : '') + ')</td></tr>';
  h += '<tr><th>status</th><td class="status-' + esc(d.status) + '">' + esc(d.status) + '</td></tr>';
  h += '<tr><th>decided by</th><td>' + esc(d.by) + '</td></tr>';
  h += '<tr><th>chosen</th><td>' + esc(d.choice) + ' (score ' + fmt(d.score) + ')</td></tr>';
  if (d.outcome) h += '<tr><th>outcome</th><td>' + esc(d.outcome) + '</td></tr>';
  for (const [k, v] of d.numbers) h += '<tr><th>' + esc(k) + '</th><td>' + esc(fmt(v)) + '</td></tr>';
  h += '</table><table class="grid" id="steer-runners"><tr><th>runner-up</th><th>score</th></tr>';
  for (const [k, v] of d.runners) h += '<tr><td>' + esc(k) + '</td><td>' + esc(fmt(v)) + '</td></tr>';
  if (!d.runners.length) h += '<tr><td colspan="2">none recorded (one proposal per decision)</td></tr>';
  document.getElementById('steer-details').innerHTML = h + '</table>';
}
range.addEventListener('input', e => select(e.target.value));
num.addEventListener('change', e => select(e.target.value));
document.getElementById('steer-prev').addEventListener('click', () => select(+range.value - 1));
document.getElementById('steer-next').addEventListener('click', () => select(+range.value + 1));
window.steerSelect = select;
window.addEventListener('load', () => {
  document.querySelectorAll('.js-plotly-plot').forEach(div => {
    if (!div.on || div.id.indexOf('fig-explorer') === 0) return;
    div.on('plotly_click', ev => {
      const p = ev.points && ev.points[0]; if (!p) return;
      let c = p.customdata; if (Array.isArray(c)) c = c[0];
      if (typeof c === 'number') { select(c); document.getElementById('sec-decision-explorer').scrollIntoView(); }
    });
  });
  select(+range.value);
});
})();
"""


def explorer_section(records: Sequence[DecisionRecord], presenter: Presenter) -> Section:
    """The decision explorer: pick any decision, see its runners-up, cost and reason."""
    data = explorer_data(records, presenter)
    last = max(len(data) - 1, 0)
    start = next((d["i"] for d in data if d["runners"]), 0)
    html = (
        f'<script type="application/json" id="steer-decisions">{data_json(data)}</script>'
        '<div class="explorer-controls"><button id="steer-prev" type="button">&larr;</button>'
        f'<input type="range" id="steer-decision" min="0" max="{last}" value="{start}" '
        'aria-label="decision">'
        '<button id="steer-next" type="button">&rarr;</button>'
        f'<label>decision <input type="number" id="steer-decision-num" min="0" max="{last}" '
        f'value="{start}" style="width:6em"></label><span>of {len(data)}</span></div>'
        '<div class="explorer-body"><div id="steer-details"></div><div>'
        '<div id="fig-explorer-scores" class="steer-explorer-plot"></div>'
        '<div id="fig-explorer-cost" class="steer-explorer-plot"></div></div></div>'
        f"<script>{_EXPLORER_JS}</script>")
    return Section("Decision explorer", html=html, anchor="sec-decision-explorer",
                   note="Pick a decision with the slider or the number, or click a point in "
                        "any plot below: the chosen action against its runners-up (policy "
                        "score, higher is better), the time it cost, the policy's numbers, "
                        "the reason in words and who decided.")


def latency_section(records: Sequence[DecisionRecord]) -> Section:
    """Decision latency (the policy's suggest time) and reward per decision."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    idx = list(range(len(records)))
    ms = [None if (s := finite((r.timings_s or {}).get("suggest"))) is None else 1000.0 * s
          for r in records]
    reward = [finite(r.reward) for r in records]
    status = [r.status for r in records]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("decision time (policy suggest)", "reward"))
    fig.add_trace(go.Scattergl(x=idx, y=ms, mode="markers", name="decision time",
                               marker={"size": 5, "color": "#7b3fa0"}, customdata=idx,
                               text=status, meta="decisions",
                               hovertemplate="decision %{x} (%{text}): %{y:.3g} ms<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scattergl(x=idx, y=reward, mode="markers", name="reward",
                               marker={"size": 5, "color": "#1f5fa8"}, customdata=idx,
                               hovertemplate="decision %{x}: reward %{y:.4g}<extra></extra>"),
                  row=2, col=1)
    fig.update_yaxes(title_text="ms", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="reward", row=2, col=1)
    fig.update_xaxes(title_text="decision", row=2, col=1)
    fig.update_layout(height=460, showlegend=False, margin={"l": 60, "r": 20, "t": 40, "b": 40})
    return Section("Decision latency", figures=[("fig-latency", fig)],
                   note="Time the policy took to propose each decision, and the reward the "
                        "environment gave it (click a point to explore that decision).")


def generic_sections(records: Sequence[DecisionRecord], presenter: Presenter) -> list[Section]:
    """The sections that fit any environment: the explorer and the latency."""
    return [explorer_section(records, presenter), latency_section(records)]
