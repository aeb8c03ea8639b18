"""Report size, generation time and page load time for a 1,000-target whole night.

Runs ``experiments/full-night.toml`` (1,000 targets, the whole night)
through the real loop, then times ``episode_extras()``, the report's
sections and the whole HTML (median of 3 builds), and the page load in
Debian's headless Chromium (``goto`` until the decision explorer has drawn,
median of 3 loads). Writes ``benchmarks/results/report.json``.

Usage:
    .venv/bin/python benchmarks/bench_report.py [--policy feature] [--policy bo]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def _load_s(path: Path, repeats: int = 3) -> list[float]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(path.resolve().as_uri(), timeout=120_000)
            page.wait_for_selector("#fig-explorer-scores .main-svg", timeout=120_000)
            page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                                   ".every(d => d.querySelector('.main-svg'))", timeout=120_000)
            out.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return out


def bench(policy: str, seed: int = 0) -> dict[str, Any]:
    """One night of ``policy``; the report's size and timings."""
    from steer.config import load_experiment
    from steer.report import run_report, write_report
    from steer.session import play, presenter_for, set_threads

    set_threads(1)
    config = load_experiment(ROOT / "experiments" / "full-night.toml")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = play(config, policy, seed, Path(tmp), )
        night_s = time.perf_counter() - t0
        extras = result.extras
        records = result.episode.records
        presenter = presenter_for(config.env_id)
        sections_s, build_s = [], []
        for _ in range(3):
            t1 = time.perf_counter()
            presenter.report_sections(records, extras)
            sections_s.append(time.perf_counter() - t1)
            t1 = time.perf_counter()
            html = run_report(records, presenter, extras, title=f"full-night: {policy}",
                              metrics=result.episode.metrics)
            build_s.append(time.perf_counter() - t1)
        path = write_report(Path(tmp) / "report.html", html)
        from plotly.offline import get_plotlyjs

        loads = _load_s(path)
        return {
            "policy": policy, "seed": seed, "decisions": len(records),
            "visits": sum(1 for r in records if r.status == "ok" and r.measurement),
            "night_wall_s": round(night_s, 2),
            "extras_bytes": len(json.dumps(extras)),
            "report_bytes": path.stat().st_size,
            "plotlyjs_bytes": len(get_plotlyjs()),
            "sections_s_median": round(statistics.median(sections_s), 3),
            "report_build_s_median": round(statistics.median(build_s), 3),
            "page_load_s": [round(v, 2) for v in loads],
            "page_load_s_median": round(statistics.median(loads), 2),
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--policy", action="append", default=None)
    args = p.parse_args()
    results = [bench(policy) for policy in (args.policy or ["feature", "bo"])]
    out = {"experiment": "experiments/full-night.toml", "n_targets": 1000,
           "python": platform.python_version(), "machine": platform.machine(),
           "chromium": CHROMIUM, "results": results}
    path = ROOT / "benchmarks" / "results" / "report.json"
    path.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
