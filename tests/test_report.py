"""The HTML reports built from real episodes, without a browser (steer.report and friends)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from steer.envs.testing import tiny_config
from steer.records import DecisionRecord
from steer.report import run_report, write_report
from steer.report_explorer import explorer_data
from steer.session import play, presenter_for, set_threads


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real tiny nights through the real loop: feature and bo, seeds 1-2."""
    set_threads(1)
    tmp = tmp_path_factory.mktemp("report")
    config = tiny_config()
    out = {}
    for policy in ("feature", "bo"):
        for seed in (1, 2):
            out[(policy, seed)] = play(config, policy, seed, tmp)
    return {"config": config, "runs": out, "tmp": tmp}


def _figure_json(html: str, div_id: str) -> dict[str, Any]:
    """The data Plotly draws into ``div_id`` (parsed from the page's newPlot call)."""
    start = html.index("[", html.index(f'"{div_id}",'))
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(html, start)
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return {"data": data, "layout": layout}


def test_night_report_is_self_contained_and_has_every_section(tiny_runs: dict[str, Any]) -> None:
    result = tiny_runs["runs"][("bo", 1)]
    records = result.episode.records
    html = run_report(records, presenter_for(tiny_runs["config"].env_id), result.extras,
                      title="tiny: bo, seed 1", metrics=result.episode.metrics)
    assert html.startswith("<!DOCTYPE html>")
    assert "Plotly.newPlot" in html and len(html) > 3_000_000  # plotly.js inlined
    assert not re.search(r'<script[^>]+src=', html), "nothing may be loaded from elsewhere"
    assert "cdn.plot.ly" not in html.split("</head>")[1]
    for section in ("sec-sky", "sec-timeline", "sec-decision-explorer", "sec-light-curves",
                    "sec-decision-latency"):
        assert f'id="{section}"' in html
    visits = [r for r in records if r.status == "ok" and r.measurement]
    timeline = _figure_json(html, "fig-timeline")
    n_points = sum(len(t["x"]) for t in timeline["data"] if t.get("meta") == "visits")
    assert n_points == len(visits)
    assert {t["name"] for t in timeline["data"] if t.get("meta") == "visits"} <= {
        "constant", "periodic", "transient"}
    latency = _figure_json(html, "fig-latency")
    assert len(latency["data"][0]["x"]) == len(records)
    assert "science score" in html and "0 rejected" not in html


def test_explorer_shows_runners_up_cost_and_reason(tiny_runs: dict[str, Any]) -> None:
    result = tiny_runs["runs"][("bo", 1)]
    records = result.episode.records
    data = explorer_data(records, presenter_for(tiny_runs["config"].env_id))
    assert len(data) == len(records)
    d = data[3]
    runners = records[3].proposal["explanation"]["runners_up"]
    assert [r[0] for r in d["runners"]] == [f"{a['target_id']}, {a['exptime_s']:.0f} s"
                                            for a in runners]
    assert {c[0] for c in d["cost"]} == {"slew + settle", "filter change", "exposure", "readout"}
    total = sum(c[1] for c in d["cost"])
    overheads = records[3].measurement["overheads_s"]
    assert total == pytest.approx(sum(overheads.values()), rel=1e-3)
    assert "expected information on the light curve to 0.005 mag (" in d["reason"]
    assert "Next best" in d["reason"] and d["by"] == "policy"
    assert dict(d["numbers"])["posterior_std_mag"] > 0


def test_night_extras_are_small_and_hold_the_truth(tiny_runs: dict[str, Any]) -> None:
    extras = tiny_runs["runs"][("feature", 1)].extras
    text = json.dumps(extras, allow_nan=False)
    assert len(text) < 60_000
    assert len(extras["target_class"]) == 40
    curves = extras["light_curves"]
    assert curves and all(len(c["true_mag"]) == len(extras["curve_mjd"]) for c in curves.values())
    most = extras["curve_targets"]["most_observed"]
    counts = [c["visits"] for c in (curves[str(i)] for i in most)]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 1


def test_report_without_extras_still_draws(tiny_runs: dict[str, Any]) -> None:
    result = tiny_runs["runs"][("feature", 2)]
    reread = [DecisionRecord.from_dict(r.to_dict()) for r in result.episode.records]
    html = run_report(reread, presenter_for(tiny_runs["config"].env_id), {})
    timeline = _figure_json(html, "fig-timeline")
    assert [t["name"] for t in timeline["data"] if t.get("meta") == "visits"] == ["visits"]
    assert 'id="sec-light-curves"' in html


def test_comparison_report_from_real_episodes(tiny_runs: dict[str, Any], tmp_path: Path) -> None:
    from steer.report_compare import comparison_report
    from steer.runner import summarise

    runs = tiny_runs["runs"]
    results = {k: v.episode.metrics for k, v in runs.items()}
    summary = summarise(results, ["bo", "feature"], [1, 2],
                        {p: [runs[(p, s)].local_id for s in (1, 2)] for p in ("bo", "feature")})
    presenter = presenter_for(tiny_runs["config"].env_id)
    html = comparison_report(summary, presenter.comparison_metrics())
    path = write_report(tmp_path / "cmp" / "report.html", html)
    assert path.stat().st_size == len(html.encode())
    dist = _figure_json(html, "fig-compare")
    boxes = [t for t in dist["data"] if t.get("meta") == "seeds"]
    assert len(boxes) == 2 * len([m for m in presenter.comparison_metrics()
                                  if m in summary["metrics"]["bo"]])
    assert all(len(b["y"]) == 2 for b in boxes)
    paired = _figure_json(html, "fig-paired")
    assert {t["name"] for t in paired["data"] if t.get("meta") == "paired"} == {"feature"}
    assert 'id="steer-comparison-table"' in html and "bo - feature" in html


def test_live_report_refreshes_then_writes_the_final_one(tmp_path: Path) -> None:
    from steer.live import LiveReport

    config = tiny_config()
    seen: list[Path] = []
    live = LiveReport(tmp_path / "live", presenter_for(config.env_id), "tiny live", every=5,
                      min_interval_s=0.0, announce=seen.append)
    result = play(config, "feature", 1, tmp_path, callbacks=[live])
    assert seen == [tmp_path / "live" / f"{result.local_id}.html"]
    n = len(result.episode.records)
    assert live.writes == 1 + n // 5 + 1  # start, every 5 decisions, the end
    html = seen[0].read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' not in html  # the final report does not reload
    assert f"{n} decisions" in html
    assert not list((tmp_path / "live").glob(".*.tmp*"))


def test_point_reports_have_their_own_views(tmp_path: Path) -> None:
    from steer.config import load_experiment

    root = Path(__file__).resolve().parents[1]
    config = load_experiment(root / "experiments" / "branin.toml")
    result = play(config, "sobol", 0, tmp_path)
    html = run_report(result.episode.records, presenter_for(config.env_id), result.extras)
    regret = _figure_json(html, "fig-regret")
    evals = [t for t in regret["data"] if t.get("meta") == "evaluations"]
    assert len(evals[0]["x"]) == len(result.episode.records)
    assert 'id="fig-points"' in html and 'id="sec-decision-explorer"' in html
    assert 'id="sec-sky"' not in html
