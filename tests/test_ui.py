"""The MLflow UI over steer's store: a real server, its REST API and a real Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from steer.errors import TrackingError
from steer.ui import UI_HOST, MlflowServer, runs_page_url, ui_command

try:
    from test_tracking import log_night, make_records
except ImportError:  # tests imported as a package
    from tests.test_tracking import log_night, make_records

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A SQLite store holding one finished steer run (table, journal, config, plots)."""
    tmp = tmp_path_factory.mktemp("ui")
    uri, run_id = log_night(tmp, make_records())
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    return {"uri": uri, "run_id": run_id, "experiment_id": run.info.experiment_id,
            "run_name": run.info.run_name}


def _post(url: str, body: dict[str, Any], host: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if host:
        headers["Host"] = host
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_server_serves_runs_and_stops(store: dict[str, Any]) -> None:
    with MlflowServer(store["uri"]) as server:
        pid = server.pid
        assert pid is not None and server.running
        status, body = _post(f"{server.url}/api/2.0/mlflow/runs/search",
                             {"experiment_ids": [store["experiment_id"]]})
        assert status == 200
        assert [r["info"]["run_id"] for r in body["runs"]] == [store["run_id"]]
        assert server.newest_experiment_id() == store["experiment_id"]
        status, _ = _post(f"{server.url}/api/2.0/mlflow/runs/search",
                          {"experiment_ids": [store["experiment_id"]]}, host="evil.example.com")
        assert status == 403
        with urllib.request.urlopen(f"{server.url}/get-artifact?path=decisions.json&run_uuid="
                                    f"{store['run_id']}", timeout=10) as resp:
            assert len(json.loads(resp.read())["data"]) == len(make_records())
    assert server.pid is None and not server.running
    assert _gone(pid), f"MLflow server process group {pid} still alive"
    server.stop()  # idempotent


def test_port_in_use_is_reported(store: dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind((UI_HOST, 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(TrackingError, match=str(port)) as info:
            ui_command(port, store["uri"], open_for_s=0.1)
    assert "--port" in (info.value.hint or "")


def test_missing_store_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match="no MLflow database"):
        MlflowServer(f"sqlite:///{tmp_path / 'nothing' / 'mlflow.db'}").start()


@pytest.mark.slow
def test_ui_command_prints_the_runs_address(store: dict[str, Any],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert ui_command(None, store["uri"], open_for_s=0.5) == 0
    out = capsys.readouterr().out
    assert f"http://{UI_HOST}:" in out
    assert f"/#/experiments/{store['experiment_id']}/runs?workflowType=machine_learning" in out


def test_runs_page_url() -> None:
    assert runs_page_url("http://127.0.0.1:5", None).endswith(
        "/#/experiments?workflowType=machine_learning")


@pytest.mark.browser
def test_browser_shows_run_table_and_plots(store: dict[str, Any], tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    expect = sync_api.expect
    expect.set_options(timeout=30_000)
    eid, run_id = store["experiment_id"], store["run_id"]
    t0 = time.monotonic()
    with MlflowServer(store["uri"]) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            run_url = f"{server.url}/#/experiments/{eid}/runs/{run_id}"
            page.goto(f"{run_url}?workflowType=machine_learning")
            expect(page.get_by_text(store["run_name"]).first).to_be_visible()
            artifacts_tab = page.get_by_role("tab", name="Artifacts")
            expect(artifacts_tab).to_be_visible()
            artifacts_tab.click()
            expect(page.get_by_test_id("artifact-tree-node").first).to_be_visible()
            nodes = page.get_by_test_id("artifact-tree-node")
            nodes.filter(has_text="decisions.json").first.click()
            expect(page.get_by_text("View as table").first).to_be_visible()
            nodes.filter(has_text="plots").first.click()
            nodes.filter(has_text="sky.png").first.click()
            image = page.locator('img[src^="blob:"]').first
            expect(image).to_be_visible()
            page.wait_for_function(
                "() => [...document.querySelectorAll('img[src^=\"blob:\"]')]"
                ".some(i => i.complete && i.naturalWidth > 0)")
            assert image.evaluate("i => i.naturalWidth") > 0
            shot = tmp_path / "mlflow-run-sky.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            keep = os.environ.get("STEER_UI_SCREENSHOT")
            if keep:  # let a developer look at it
                shutil.copyfile(shot, keep)
            # served on 127.0.0.2, the UI offers no LLM assistant panel (on 127.0.0.1 it opens
            # itself within seconds of the first load)
            assert UI_HOST != "127.0.0.1"
            page.wait_for_timeout(3000)
            expect(page.get_by_text("MLflow Assistant")).to_have_count(0)
            assert not errors, errors
        finally:
            browser.close()
    assert time.monotonic() - t0 < 180


def test_remote_store_is_not_served() -> None:
    with pytest.raises(TrackingError, match="http://127.0.0.1:5999"):
        MlflowServer("http://127.0.0.1:5999")


@pytest.mark.slow
def test_server_that_dies_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "runs" / "mlflow.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not a sqlite database" * 100)
    server = MlflowServer(f"sqlite:///{db}")
    server.start()
    pid = server.pid
    with pytest.raises(TrackingError, match="exited with code") as info:
        server.wait_ready()
    assert info.value.hint and "server said" in info.value.hint
    assert pid is not None and _gone(pid) and not server.running
