"""The reports of real runs in a real headless Chromium (Debian's, through Playwright).

Runs go through the real CLI (``steer run``, ``steer report``) into a
temporary store. Screenshots go to ``$STEER_REPORT_SHOTS`` when set (so a
developer can look at them), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from steer.cli import main
from steer.envs.testing import TINY_EXPERIMENT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("STEER_REPORT_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _run(experiment: Path, runs_dir: Path, capsys: pytest.CaptureFixture[str],
         *extra: str) -> str:
    assert main(["run", str(experiment), "--runs-dir", str(runs_dir), *extra]) == 0
    out = capsys.readouterr().out
    return next(line.split()[-1] for line in out.splitlines()
                if line.startswith("MLflow run id:"))


@pytest.fixture(scope="module")
def browser() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=30_000)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str], float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    t0 = time.monotonic()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("#fig-explorer-scores .main-svg")
    return page, errors, time.monotonic() - t0


def _points(page: Any, div_id: str, meta: str) -> int:
    return page.evaluate(
        "([id, meta]) => document.getElementById(id).data.filter(t => t.meta === meta)"
        ".reduce((n, t) => n + (t.x || t.r || t.y).length, 0)", [div_id, meta])


def test_night_report_in_chromium(browser: Any, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from steer.records import read_journal

    experiment = tmp_path / "tiny.toml"
    experiment.write_text(TINY_EXPERIMENT.replace('policy = "feature"', 'policy = "bo"'),
                          encoding="utf-8")
    runs = tmp_path / "runs"
    run_id = _run(experiment, runs, capsys)
    live = runs / "live" / f"{run_id}.html"
    assert live.is_file()
    out = tmp_path / "night.html"
    assert main(["report", run_id, "--runs-dir", str(runs), "--out", str(out)]) == 0
    records = list(read_journal(runs / "journals" / f"{run_id}.jsonl"))
    visits = [r for r in records if r.status == "ok" and r.measurement]
    page, errors, load_s = _open(browser, out)
    assert load_s < 30
    assert _points(page, "fig-timeline", "visits") == len(visits)
    assert _points(page, "fig-sky", "visits") == len(visits)
    assert _points(page, "fig-latency", "decisions") == len(records)
    shots = _shots(tmp_path)
    for sec in ("sec-summary", "sec-sky", "sec-timeline", "sec-light-curves"):
        page.locator(f"#{sec}").screenshot(path=str(shots / f"night-{sec}.png"))
    # choose decision 7 with the number box: its runners-up appear, in order
    k = 7
    runners = records[k].proposal["explanation"]["runners_up"]
    box = page.locator("#steer-decision-num")
    box.fill(str(k))
    box.dispatch_event("change")
    rows = page.locator("#steer-runners tr")
    assert rows.count() == 1 + len(runners)
    assert runners[0]["target_id"] in rows.nth(1).inner_text()
    bars = page.evaluate("() => document.getElementById('fig-explorer-scores').data[0].y")
    assert len(bars) == 1 + len(runners) and bars[0].endswith("(chosen)")
    assert f"decision {k} (step {records[k].step})" in page.locator(
        "#fig-explorer-scores").inner_text()
    page.locator("#sec-decision-explorer").screenshot(path=str(shots / "night-explorer.png"))
    # the time slider moves the telescope: the path so far shrinks at the first step
    page.locator("#sec-sky").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, 300)")
    page.locator("#fig-sky .slider-rail-touch-rect").first.click(position={"x": 3, "y": 23})
    page.wait_for_timeout(500)
    first_path = page.evaluate("() => document.getElementById('fig-sky').data"
                               ".find(t => t.name === 'path, last hour').r.length")
    assert first_path < len(visits)
    page.locator("#sec-sky").screenshot(path=str(shots / "night-sky-slider-start.png"))
    assert not errors, errors
    page.close()


def test_autofocus_report_in_chromium(browser: Any, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    run_id = _run(ROOT / "experiments" / "autofocus.toml", runs, capsys, "--policy",
                  "bo-continuous")
    out = tmp_path / "focus.html"
    assert main(["report", run_id, "--runs-dir", str(runs), "--out", str(out)]) == 0
    page, errors, _ = _open(browser, out)
    assert _points(page, "fig-focus", "evaluations") == 20
    assert _points(page, "fig-vcurve", "evaluations") == 20
    shots = _shots(tmp_path)
    for sec in ("sec-focus-per-exposure", "sec-v-curve", "sec-decision-explorer"):
        page.locator(f"#{sec}").screenshot(path=str(shots / f"focus-{sec}.png"))
    assert page.locator("#steer-details .reason").inner_text()
    assert not errors, errors
    page.close()


def test_comparison_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    from steer.envs.testing import tiny_config
    from steer.report import write_report
    from steer.report_compare import comparison_report
    from steer.runner import summarise
    from steer.session import play, presenter_for, set_threads

    set_threads(1)
    config = tiny_config()
    policies, seeds = ["bo", "feature", "greedy"], [1, 2, 3]
    results = {(p, s): play(config, p, s, tmp_path).episode.metrics
               for p in policies for s in seeds}
    summary = summarise(results, policies, seeds, {p: [] for p in policies})
    out = write_report(tmp_path / "compare.html", comparison_report(
        summary, presenter_for(config.env_id).comparison_metrics(), title="tiny comparison"))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(out.resolve().as_uri())
    page.wait_for_selector("#fig-compare .main-svg")
    n_metrics = len([m for m in presenter_for(config.env_id).comparison_metrics()
                     if m in summary["metrics"]["bo"]])
    assert _points(page, "fig-compare", "seeds") == len(policies) * len(seeds) * n_metrics
    assert _points(page, "fig-paired", "paired") == (len(policies) - 1) * n_metrics
    shots = _shots(tmp_path)
    for sec in ("sec-per-policy-over-seeds", "sec-paired-differences", "sec-table"):
        page.locator(f"#{sec}").screenshot(path=str(shots / f"compare-{sec}.png"))
    page.close()
