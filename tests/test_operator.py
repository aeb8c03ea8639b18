"""The operator in the loop, driven by a script as a person at a terminal would.

``steer run --approve`` under pexpect (a real pseudo-terminal): accept, pick a
runner-up, skip, stop. ``steer pause|continue|stop`` against a running night.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steer.envs.testing import TINY_EXPERIMENT

STEER = [sys.executable, "-m", "steer.cli"]


def _env() -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _records(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_approve_night_driven_by_a_script(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_EXPERIMENT)
    child = pexpect.spawn(STEER[0], [*STEER[1:], "run", str(exp), "--policy", "feature",
                                     "--approve", "--approve-timeout", "120",
                                     "--runs-dir", str(tmp_path / "runs")],
                          cwd=str(tmp_path), env=_env(), encoding="utf-8", timeout=180)
    child.expect(r"run (\w+) started; journal: (\S+)")
    journal = Path(child.match.group(2))
    answers = ["", "1", "s", "q"]  # accept, runner-up 1, skip, stop the night
    shown = []
    for answer in answers:
        child.expect(r"step (\d+): proposed (target \d+) .*?\n(.*?)q: stop the night.*?> ",
                     timeout=180)
        shown.append((int(child.match.group(1)), child.match.group(2),
                      re.findall(r"\[1\] (target \d+)", child.match.group(3))))
        child.sendline(answer)
    child.expect(pexpect.EOF, timeout=180)
    child.close()
    out = child.before
    assert child.exitstatus == 0, out
    records = _records(journal)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    assert [(r["status"], r["decided_by"]) for r in records] == [
        ("ok", "policy"), ("ok", "operator"), ("skipped", "operator"),
        ("skipped", "operator")]
    # step 1 executed the runner-up the operator was shown, not the proposal
    step1 = records[1]["proposal"]["action"]
    assert f"target {step1['target_index']}" == shown[1][2][0] != shown[1][1]
    assert records[2]["measurement"] is None and records[3]["measurement"] is None


@pytest.mark.slow
def test_pause_continue_stop_at_decision_boundaries(tmp_path: Path) -> None:
    exp = tmp_path / "night.toml"
    exp.write_text(TINY_EXPERIMENT.replace("max_night_hours = 0.75", "max_night_hours = 12"))
    runs = tmp_path / "runs"
    proc = subprocess.Popen([*STEER, "run", str(exp), "--policy", "bo", "--runs-dir", str(runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    run_id = re.search(r"run (\w+) started", proc.stdout.readline()).group(1)
    journal = runs / "journals" / f"{run_id}.jsonl"

    def n() -> int:
        return len(_records(journal)) if journal.exists() else 0

    def control(command: str) -> None:
        subprocess.run([*STEER, command, "--run", run_id, "--runs-dir", str(runs)], env=_env(),
                       check=True, capture_output=True)

    t0 = time.time()
    while n() < 5:
        assert time.time() - t0 < 300 and proc.poll() is None
        time.sleep(0.05)
    control("pause")
    time.sleep(3.0)
    paused_at = n()
    time.sleep(3.0)
    assert n() == paused_at  # nothing decided while paused
    control("continue")
    t1 = time.time()
    while n() <= paused_at:
        assert time.time() - t1 < 60
        time.sleep(0.05)
    control("stop")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped before its end" in err
    assert "--resume " + run_id in err
    # the stopped night reads no more commands: refused, with how to resume it
    late = subprocess.run([*STEER, "continue", "--run", run_id, "--runs-dir", str(runs)],
                          capture_output=True, text=True, env=_env())
    assert late.returncode == 2 and "is not running" in late.stderr, late.stderr
    assert "--resume " + run_id in late.stderr
    bad = subprocess.run([*STEER, "stop", "--run", "nope", "--runs-dir", str(runs)],
                         capture_output=True, text=True, env=_env())
    assert bad.returncode == 2 and "no night 'nope'" in bad.stderr
