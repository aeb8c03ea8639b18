"""A real night's report opens from its run's Artifacts tab in the MLflow UI (real Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from steer.envs.testing import TINY_EXPERIMENT
from steer.ui import MlflowServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.mark.browser
@pytest.mark.slow
def test_report_opens_from_the_artifacts_tab(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_EXPERIMENT)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-m", "steer.cli", "run", str(exp), "--runs-dir",
                          str(tmp_path / "runs")], capture_output=True, text=True, env=env,
                         check=True).stdout
    run_id = re.search(r"MLflow run id: (\w+)", out).group(1)
    n_visits = int(re.search(r"visits\s+(\d+)", out).group(1))
    uri = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    expect = sync_api.expect
    expect.set_options(timeout=30_000)
    with MlflowServer(uri) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{server.url}/#/experiments/1/runs/{run_id}?workflowType=machine_learning")
            page.get_by_role("tab", name="Artifacts").click()
            nodes = page.get_by_test_id("artifact-tree-node")
            expect(nodes.filter(has_text="report.html").first).to_be_visible()
            nodes.filter(has_text="report.html").first.click()
            report = page.frame_locator("iframe").first
            expect(report.get_by_text("Decision explorer").first).to_be_visible()
            expect(report.locator(".js-plotly-plot .main-svg").nth(4)).to_be_attached()
            expect(report.get_by_text(f"{n_visits} decisions").first).to_be_visible()
            page.screenshot(path=str(tmp_path / "artifacts-report.png"))
            assert (tmp_path / "artifacts-report.png").stat().st_size > 10_000
        finally:
            browser.close()
