"""A private indiserver that dies (SIGKILL) or hangs (SIGSTOP) mid-night is restarted by steer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("indiserver") is None,
                                 reason="indiserver not installed (apt-get install -y indi-bin)")]

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "indi-sim.toml"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP])
def test_private_server_is_restarted_and_the_night_loses_nothing(tmp_path: Path,
                                                                 sig: signal.Signals) -> None:
    from steer.config import parse_experiment
    from steer.instruments.indi.server import IndiServer
    from steer.session import make_env, play

    srv_dir = tmp_path / "srv"
    text = EXPERIMENT.read_text(encoding="utf-8").replace("max_decisions = 25",
                                                          "max_decisions = 8")
    text = text.replace("\nstart_server = true\n",
                        f"\nstart_server = true\nrun_dir = {json.dumps(str(srv_dir))}\n")
    text = text.replace("timeout_s = 10.0", "timeout_s = 3.0")
    config = parse_experiment(text, str(EXPERIMENT))
    env = make_env(config)
    journal = tmp_path / "journal"
    hit: dict[str, float] = {}

    def saboteur() -> None:
        deadline = time.time() + 180
        while time.time() < deadline:
            files = list(journal.glob("*.jsonl"))
            state = IndiServer(srv_dir).status()
            if files and state and len(files[0].read_text().splitlines()) >= 3:
                time.sleep(0.3)
                os.killpg(state.pid, sig) if sig == signal.SIGSTOP else os.kill(state.pid, sig)
                hit["t"] = time.time()
                return
            time.sleep(0.05)

    th = threading.Thread(target=saboteur, daemon=True)
    th.start()
    result = play(config, "feature", seed=0, journal_dir=journal, env=env)
    th.join(5)
    assert "t" in hit, "the night ended before the server could be hit"
    records = [json.loads(x) for x in result.journal_path.read_text().splitlines()]
    ok_steps = [r["step"] for r in records if r["status"] == "ok"]
    assert ok_steps == list(range(8))  # every decision carried out once: none lost or repeated
    assert not any(r["status"] == "failed" for r in records)
    restarts = env.unwrapped.observatory.restart_log
    print(f"{sig.name}: hit at {hit['t']:.1f}, restarts {restarts}, records "
          f"{[(r['step'], r['attempt'], r['status']) for r in records]}")
    assert len(restarts) == 1 and restarts[0]["wall_s"] < 30
    assert not srv_dir.joinpath("server.json").exists()  # stopped at the end
