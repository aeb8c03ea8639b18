"""Targets of opportunity and journaled operator decisions: taken, journaled, honoured.

``steer inject`` against a running ``steer run`` (real processes); in-process
nights where a ToO arrives mid-night and is observed, and whose replay and
resume (from a journal cut after the ToO) are decision-identical; an
environment that takes no new targets journals the ToO as refused; an
operator's runner-up choice is honoured by replay.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from steer.callbacks import LoopCallback
from steer.envs.testing import TINY_EXPERIMENT, tiny_config
from steer.operator import ApprovalGate, night_process
from steer.session import play, set_threads
from steer.too import TooInbox, inbox_path, inject
from tests.test_contract import DIAL

STEER = [sys.executable, "-m", "steer.cli"]
NIGHT = TINY_EXPERIMENT.replace("max_night_hours = 0.75", "max_night_hours = 2.0")


def _keys(records: list[Any]) -> list[tuple]:
    return [r.decision_key for r in records]


class InjectAt(LoopCallback):
    """Injects a ToO beside the target observed at ``step`` (so it is up and feasible)."""

    def __init__(self, runs: Path, run_id: str, step: int, target_id: str = "AT2026abc"):
        self.runs, self.run_id, self.step, self.target_id = runs, run_id, step, target_id
        self.env: Any = None
        self.sent: dict[str, Any] | None = None

    def on_episode_start(self, env: Any, policy: Any, seed: int, run_id: str) -> None:
        self.env = env.unwrapped

    def on_decision(self, record: Any) -> None:
        if record.step == self.step and record.status == "ok" and self.sent is None:
            i = record.proposal["action"]["target_index"]
            cat = self.env.catalog
            self.sent = inject(self.runs, self.run_id, {
                "target_id": self.target_id, "ra_deg": float(cat.ra_deg[i]),
                "dec_deg": float(min(cat.dec_deg[i] + 0.5, 89.0)), "priority": 10.0,
                "mag": 17.0, "band": "r"})


def _night(tmp_path: Path, policy: str, config_text: str = NIGHT, step: int = 5):
    runs = tmp_path / "runs"
    (runs / "journals").mkdir(parents=True)
    run_id = f"too-{policy}"
    (runs / "journals" / f"{run_id}.jsonl").touch()  # the night exists: inject accepts it
    from steer.config import parse_experiment

    config = parse_experiment(config_text, "<too>")
    injector = InjectAt(runs, run_id, step)
    with night_process(runs, run_id):  # running, as steer run marks it
        result = play(config, policy, 0, runs / "journals", run_id=run_id,
                      callbacks=[injector, TooInbox(inbox_path(runs, run_id))])
    return config, result, injector


@pytest.mark.parametrize("policy", ["feature", "bo"])
def test_a_too_joins_the_night_is_observed_and_replays_identically(tmp_path: Path,
                                                                   policy: str) -> None:
    set_threads(1)
    config, result, injector = _night(tmp_path, policy)
    records = result.episode.records
    carried = [r for r in records if r.events]
    assert len(carried) == 1 and len(carried[0].events) == 1
    event = carried[0].events[0]
    assert event["step"] == injector.step + 1 and event["row"] == 40  # a new, 41st row
    assert event["id"] == injector.sent["id"]
    assert event["arrival_unix"] <= event["applied_unix"] and event["sim_mjd"] > 0
    on_journal = [json.loads(x) for x in result.journal_path.read_text().splitlines()]
    assert [r["events"] for r in on_journal if r["events"]] == [[event]]
    seen = [r.step for r in records if r.status == "ok"
            and r.proposal["action"]["target_id"] == "AT2026abc"]
    assert seen, f"{policy} never observed the ToO"
    print(f"{policy}: ToO arrived before step {event['step']}, first observed at step "
          f"{seen[0]} ({seen[0] - event['step']} decisions later), {len(seen)} visits")
    # replay honours it; without the journal's ToO the night differs
    replayed = play(config, policy, 0, tmp_path / "replay", recorded=records).episode.records
    assert _keys(replayed) == _keys(records)
    bare = play(config, policy, 0, tmp_path / "bare").episode.records
    assert _keys(bare) != _keys(records)
    # resume from a journal cut after the ToO joined
    cut = records.index(carried[0]) + 3
    resumed = play(config, policy, 0, tmp_path / "resume", run_id="r",
                   resume=records[:cut]).episode.records
    assert _keys(resumed) == _keys(records)


def test_an_env_without_new_targets_journals_the_too_refused(tmp_path: Path) -> None:
    from steer.config import parse_experiment

    runs = tmp_path / "runs"
    (runs / "journals").mkdir(parents=True)
    (runs / "journals" / "dial.jsonl").touch()
    config = parse_experiment(DIAL, "<dial>")
    with night_process(runs, "dial"):  # running, as steer run marks it
        inject(runs, "dial", {"target_id": "X", "ra_deg": 10.0, "dec_deg": 5.0,
                              "priority": 5.0, "mag": 17.0, "band": "r"})
        records = play(config, "random-pool", 0, runs / "journals", run_id="dial",
                       callbacks=[TooInbox(inbox_path(runs, "dial"))]).episode.records
    events = [e for r in records for e in (r.events or [])]
    assert len(events) == 1 and "takes no targets of opportunity" in events[0]["refused"]
    assert records[0].events == events  # journaled with the first decision


def test_replay_honours_an_operators_runner_up(tmp_path: Path) -> None:
    set_threads(1)
    config = tiny_config()
    answers = io.StringIO("1\n\n1\ns\n" + "\n" * 200)  # runner-up, accept, runner-up, skip
    gate = ApprovalGate(60.0, stdin=answers, stdout=io.StringIO())
    records = play(config, "feature", 0, tmp_path / "a", callbacks=[gate]).episode.records
    assert [r.decided_by for r in records[:4]] == ["operator", "policy", "operator", "operator"]
    replayed = play(config, "feature", 0, tmp_path / "b", recorded=records).episode.records
    assert _keys(replayed) == _keys(records)
    assert _keys(play(config, "feature", 0, tmp_path / "c").episode.records) != _keys(records)
    resumed = play(config, "feature", 0, tmp_path / "d", resume=records[:3],
                   callbacks=[ApprovalGate(60.0, stdin=io.StringIO("\n" * 200),
                                           stdout=io.StringIO())]).episode.records
    assert _keys(resumed)[:3] == _keys(records)[:3]


def _env() -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def test_inject_refuses_bad_input_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "journals").mkdir(parents=True)
    (runs / "journals" / "abc.jsonl").touch()
    for args, text in ((["--run", "abc", "--ra", "400"], "--ra 400.0 is out of range"),
                       (["--run", "abc", "--dec", "-95"], "--dec -95.0 is out of range"),
                       (["--run", "abc", "--priority", "0"], "--priority 0.0"),
                       (["--run", "abc", "--band", "V"], "--band 'V' is not a band"),
                       (["--run", "nope"], "no night 'nope'")):
        base = {"--ra": "10", "--dec": "5", "--target-id": "X"}
        for k, v in zip(args[2::2], args[3::2], strict=True):
            base[k] = v
        flat = [x for kv in base.items() for x in kv]
        out = subprocess.run([*STEER, "inject", *args[:2], *flat, "--runs-dir", str(runs)],
                             capture_output=True, text=True, env=_env())
        assert out.returncode == 2 and text in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) <= 2 and "Traceback" not in out.stderr
    assert not (runs / "control").exists()


@pytest.mark.slow
def test_steer_inject_reaches_a_running_night(tmp_path: Path) -> None:
    exp = tmp_path / "night.toml"
    exp.write_text(NIGHT.replace("max_night_hours = 2.0", "max_night_hours = 4.0"))
    runs = tmp_path / "runs"
    proc = subprocess.Popen([*STEER, "run", str(exp), "--policy", "bo",
                             "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    run_id = re.search(r"run (\w+) started", proc.stdout.readline()).group(1)
    journal = runs / "journals" / f"{run_id}.jsonl"
    t0 = time.time()
    while not journal.exists() or len(journal.read_text().splitlines()) < 3:
        assert time.time() - t0 < 120 and proc.poll() is None
        time.sleep(0.02)
    def steer(*args: str) -> str:
        return subprocess.run([*STEER, *args, "--run", run_id, "--runs-dir", str(runs)],
                              capture_output=True, text=True, env=_env(), check=True).stdout

    steer("pause")  # a short night: hold it while the alert comes in
    n = -1
    while n != len(journal.read_text().splitlines()):
        n = len(journal.read_text().splitlines())
        time.sleep(1.0)
    out = steer("inject", "--target-id", "AT2026xyz", "--ra", "150.0", "--dec", "10.0")
    assert "queued" in out
    paused_at = json.loads(journal.read_text().splitlines()[-1])  # the last before the pause
    steer("continue")
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    events = [e for r in records for e in (r["events"] or [])]
    assert len(events) == 1 and events[0]["target"]["target_id"] == "AT2026xyz"
    assert events[0]["row"] == 40 and events[0]["step"] == paused_at["step"] + 1
    replay = subprocess.run([*STEER, "replay", run_id, "--runs-dir", str(runs)],
                            capture_output=True, text=True, env=_env())
    assert replay.returncode == 0, replay.stdout + replay.stderr
