"""A night killed with ``kill -9`` is resumed from its journal: nothing lost, nothing repeated."""

from __future__ import annotations

import json
import os
import re
import signal
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


def _keys(journal: Path) -> list[tuple]:
    rows = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    return [(r["step"], r["attempt"], r["status"], json.dumps(r["proposal"]["action"],
                                                             sort_keys=True)) for r in rows]


def _status(runs: Path, run_id: str) -> str:
    out = subprocess.run([*STEER, "runs", "--runs-dir", str(runs)], capture_output=True,
                         text=True, env=_env(), check=True).stdout
    return next(line.split()[4] for line in out.splitlines() if line.startswith(run_id))


def _kill_9_after(cmd: list[str], decisions: int) -> tuple[str, Path]:
    """Start ``steer run``, SIGKILL it once ``decisions`` are journaled: (run id, journal)."""
    runs = Path(cmd[cmd.index("--runs-dir") + 1])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=_env())
    first = proc.stdout.readline()  # printed before the first decision
    run_id = re.search(r"run (\w+) started; journal: (\S+)", first).group(1)
    journal = runs / "journals" / f"{run_id}.jsonl"
    t0 = time.time()
    while not journal.exists() or sum(1 for _ in journal.open()) < decisions:
        assert time.time() - t0 < 300 and proc.poll() is None
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return run_id, journal


@pytest.mark.slow
def test_kill_9_then_resume_is_decision_identical(tmp_path: Path) -> None:
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_EXPERIMENT.replace("max_night_hours = 0.75", "max_night_hours = 1.5"))
    ref = subprocess.run([*STEER, "run", str(exp), "--policy", "bo", "--runs-dir",
                          str(tmp_path / "ref")], capture_output=True, text=True, env=_env(),
                         check=True).stdout
    ref_id = re.search(r"MLflow run id: (\w+)", ref).group(1)
    reference = _keys(tmp_path / "ref" / "journals" / f"{ref_id}.jsonl")
    assert len(reference) > 20

    runs = tmp_path / "runs"
    run_id, journal = _kill_9_after(
        [*STEER, "run", str(exp), "--policy", "bo", "--runs-dir", str(runs)], 12)
    assert (runs / "journals" / f"{run_id}.config.toml").read_text() == exp.read_text()
    before = len(_keys(journal))
    assert 12 <= before < len(reference)
    assert _status(runs, run_id) == "KILLED"  # the dead process is seen and said so
    # an operator's command for the dead night is refused, not queued for nobody
    pause = subprocess.run([*STEER, "pause", "--run", run_id, "--runs-dir", str(runs)],
                           capture_output=True, text=True, env=_env())
    assert pause.returncode == 2 and "is gone" in pause.stderr, pause.stderr
    assert not (runs / "control").exists()

    # the local journal replays without the MLflow run having finished
    rep = subprocess.run([*STEER, "replay", str(journal)], capture_output=True, text=True,
                         env=_env())
    assert rep.returncode == 1 and "differs in length" in rep.stdout  # the rest is missing

    res = subprocess.run([*STEER, "run", str(exp), "--resume", run_id, "--runs-dir", str(runs)],
                         capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr
    assert f"resuming run {run_id} after {before} journaled decisions" in res.stdout
    after = _keys(journal)
    assert after == reference  # nothing lost, nothing duplicated, every decision identical
    assert _status(runs, run_id) == "FINISHED"
    assert not (runs / "journals" / f"{run_id}.process.json").exists()  # ended: not running

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.data.tags["steer.resumed"] == "1" and "steer.died" in run.data.tags
    assert len(client.get_metric_history(run_id, "reward")) == len(reference)

    edited = tmp_path / "edited.toml"
    edited.write_text(exp.read_text().replace("cloudiness = 0.1", "cloudiness = 0.2"))
    bad = subprocess.run([*STEER, "run", str(edited), "--resume", run_id, "--runs-dir",
                          str(runs)], capture_output=True, text=True, env=_env())
    assert bad.returncode == 2 and "differs from the one run" in bad.stderr


@pytest.mark.slow
def test_a_night_started_by_an_earlier_bo_resumes_as_that_version(tmp_path: Path) -> None:
    """Killed under bo version 3 (before amplitude_bins = 3, the faint-frame memory and the
    precision), resumed by today's steer: the rest of the night is played by version 3, not
    refused or changed."""
    plain = TINY_EXPERIMENT.replace("max_night_hours = 0.75", "max_night_hours = 1.5")
    old = tmp_path / "old.toml"
    old.write_text(plain + "\n[policy.bo]\namplitude_bins = 1\nfaint_memory_d = 0\nprecision_mag = 0\n")
    ref = subprocess.run([*STEER, "run", str(old), "--policy", "bo", "--runs-dir",
                          str(tmp_path / "ref")], capture_output=True, text=True, env=_env(),
                         check=True).stdout
    ref_id = re.search(r"MLflow run id: (\w+)", ref).group(1)
    reference = _keys(tmp_path / "ref" / "journals" / f"{ref_id}.jsonl")
    runs = tmp_path / "runs"
    run_id, journal = _kill_9_after(
        [*STEER, "run", str(old), "--policy", "bo", "--runs-dir", str(runs)], 12)
    # what a night started before the change looks like: its file never named the setting
    exp = tmp_path / "tiny.toml"
    exp.write_text(plain)
    (runs / "journals" / f"{run_id}.config.toml").write_text(plain)
    res = subprocess.run([*STEER, "run", str(exp), "--resume", run_id, "--runs-dir", str(runs)],
                         capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stdout + res.stderr
    assert "made by bo version 3" in res.stdout
    assert _keys(journal) == reference
    versions = {json.loads(line)["policy_version"] for line in journal.read_text().splitlines()}
    assert versions == {"3"}
