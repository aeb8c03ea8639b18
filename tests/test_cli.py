"""The steer CLI end to end, against a real sqlite MLflow store (and real Ray)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steer.envs.testing import TINY_EXPERIMENT
from tests.cli import steer_started


def steer(*args, cwd, check=None):
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, "-m", "steer.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_EXPERIMENT)
    return path


def _client(tmp_path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")


@pytest.mark.slow
def test_run_logs_every_decision_and_replays_identically(tmp_path, tiny):
    out = steer("run", str(tiny), "--policy", "feature", "--seed", "4", cwd=tmp_path, check=0)
    assert "science score" in out.stdout and "open-shutter fraction" in out.stdout
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    journal = Path(out.stdout.split("journal: ")[1].split()[0])
    n_records = sum(1 for line in journal.read_text().splitlines() if line.strip())
    assert n_records > 10
    client = _client(tmp_path)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["seed"] == "4" and run.data.params["policy"] == "feature"
    assert len(client.get_metric_history(run_id, "reward")) == n_records
    arts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.toml", "decisions.jsonl", "decisions.json"} <= arts

    same = steer("replay", run_id, cwd=tmp_path, check=0)
    assert f"all {n_records} decisions identical" in same.stdout
    other = tmp_path / "other.toml"
    other.write_text(TINY_EXPERIMENT.replace("seed = 1", "seed = 2"))
    diff = steer("replay", run_id, "--config", str(other), cwd=tmp_path, check=1)
    assert "differs at decision" in diff.stdout


@pytest.mark.parametrize("setup,args,needle", [
    (lambda d: (d / "bad.toml").write_text("[experiment\n"), ["run", "bad.toml"],
     "not valid TOML"),
    (lambda d: None, ["run", "missing.toml"], "does not exist"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT), ["run", "t.toml", "--policy", "nope"],
     "unknown policy 'nope'"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT.replace(
        "steer/TargetSelection-v0", "steer/Nope-v0")), ["run", "t.toml"],
     "unknown environment 'steer/Nope-v0'"),
    (lambda d: ((d / "c.csv").write_text("target_id,ra_deg\nA,1\n"),
                (d / "t.toml").write_text(TINY_EXPERIMENT.replace(
                    "n_targets = 40", "catalog_path = 'c.csv'"))), ["run", "t.toml"],
     "missing"),
    (lambda d: ((d / "file").write_text("x"), (d / "t.toml").write_text(TINY_EXPERIMENT)),
     ["run", "t.toml", "--runs-dir", "file/runs"], "file/runs"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT),
     ["run", "t.toml", "--tracking-uri", "http://127.0.0.1:9"], "does not answer"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT + "n_telescopes = 3\n"),
     ["run", "t.toml"], "n_telescopes"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT),
     ["compare", "t.toml", "--policies", "feature,bogus"], "unknown policy 'bogus'"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT),
     ["compare", "t.toml", "--policies", "feature", "--seeds", "0"], "--seeds 0"),
    # a wrong cluster address: Ray would retry it for minutes
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT),
     ["compare", "t.toml", "--policies", "feature", "--address", "127.0.0.1:9"],
     "nothing answers at the Ray address '127.0.0.1:9'"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT),
     ["compare", "t.toml", "--policies", "feature", "--address", "headnode"],
     "--address 'headnode' is not HOST:PORT"),
    # commands that only read runs make no store where there is none (a mistyped folder)
    (lambda d: None, ["runs"], "no runs in"),
    (lambda d: None, ["ui"], "no runs in"),
    (lambda d: None, ["replay", "0123abcd"], "no runs in"),
    # instrument options are checked before the night's run is created
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT.replace(
        "[env]", '[env]\ninstrument = "alpaca"') + "\n[env.instrument_options]\nprot = 1\n"),
     ["run", "t.toml"], "'prot' is not an option of the 'alpaca' instrument"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT.replace(
        "[env]", '[env]\ninstrument = "indi"') + "\n[env.instrument_options]\nport = 7624\n"),
     ["run", "t.toml"], "the simulators' sky has no path"),
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT + "\n[env.instrument_options]\n"
                                         "port = 1\n"),
     ["run", "t.toml"], "apply only to a real instrument"),
    # a model that is not there: refused before a run folder is made
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT),
     ["compare", "t.toml", "--policies", "rl,feature", "--model", "nowhere"],
     "no RL model at "),
    # no terminal to answer on: the gate would accept every proposal unseen
    (lambda d: (d / "t.toml").write_text(TINY_EXPERIMENT), ["run", "t.toml", "--approve"],
     "--approve needs an operator at a terminal"),
])
def test_user_mistakes_get_one_clear_line(tmp_path, setup, args, needle):
    setup(tmp_path)
    proc = steer(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr
    assert proc.stderr.strip().startswith("steer: error:")
    assert not (tmp_path / "runs").exists()  # nothing written


@pytest.mark.slow
def test_compare_on_local_ray_logs_one_run_per_policy_and_seed(tmp_path, tiny, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # Ray's default: it would print a notice
    out = steer("compare", str(tiny), "--policies", "feature,random", "--seeds", "2",
                "--json", "cmp.json", "--all-step-metrics", cwd=tmp_path, check=0)
    assert "paired difference feature - other" in out.stdout
    assert "Token authentication" not in out.stdout + out.stderr  # steer asks for it itself
    data = json.loads((tmp_path / "cmp.json").read_text())
    assert data["policies"] == ["feature", "random"]
    sci = data["metrics"]["feature"]["science_score"]
    assert len(sci["values"]) == 2 and all(v > 0 for v in sci["values"])
    assert "random" in data["paired"] and "lc_rmse_mag" in data["paired"]["random"]
    client = _client(tmp_path)
    exp = client.get_experiment_by_name("tiny")
    every = client.search_runs([exp.experiment_id])
    runs = [r for r in every if r.data.tags.get("steer.kind") != "comparison"]
    assert len(runs) == 4
    assert {(r.data.params["policy"], r.data.params["seed"]) for r in runs} == {
        ("feature", "1"), ("feature", "2"), ("random", "1"), ("random", "2")}
    for r in runs:
        n = int(r.data.metrics["decisions"])
        assert len(client.get_metric_history(r.info.run_id, "reward")) >= n
        executed = int(r.data.metrics["visits"])  # --all-step-metrics: the env's too
        assert executed > 0 and len(client.get_metric_history(r.info.run_id, "airmass")) == executed
        # one id links the journal (written by the driver) and the MLflow run
        journal = tmp_path / "runs" / "journals" / f"{r.info.run_id}.jsonl"
        first = json.loads(journal.read_text().splitlines()[0])
        assert first["run_id"] == r.info.run_id
    (comparison,) = [r for r in every if r.data.tags.get("steer.kind") == "comparison"]
    assert comparison.info.run_id == data["comparison_run_id"]
    assert {a.path for a in client.list_artifacts(comparison.info.run_id, "plots")} == {
        "plots/compare.png"}


@pytest.mark.slow
def test_replay_of_a_run_made_by_an_earlier_bo_restores_that_version(tmp_path, tiny):
    """A run made before bo's default changed (version 3: one amplitude per time scale, no
    faint-frame memory, no precision) logged a config without those settings; replay must
    play it as version 3."""
    old = tmp_path / "old.toml"
    old.write_text(TINY_EXPERIMENT
                   + "\n[policy.bo]\namplitude_bins = 1\nfaint_memory_d = 0\nprecision_mag = 0\n")
    out = steer("run", str(old), "--policy", "bo", cwd=tmp_path, check=0)
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    # what such a run's logged config.toml looks like: neither setting
    logged = next((tmp_path / "runs").rglob(f"{run_id}/artifacts/config.toml"))
    assert "amplitude_bins" in logged.read_text()
    logged.write_text(TINY_EXPERIMENT)
    same = steer("replay", run_id, cwd=tmp_path, check=0)
    assert "made by bo version 3" in same.stdout and "amplitude_bins = 1" in same.stdout
    assert "faint_memory_d = 0" in same.stdout and "precision_mag = 0" in same.stdout
    assert "decisions identical" in same.stdout
    # the same file given by hand is replayed as written, by today's bo: it differs
    diff = steer("replay", run_id, "--config", str(tiny), "--seed", "1", cwd=tmp_path, check=1)
    assert "differs" in diff.stdout


@pytest.mark.slow
def test_ctrl_c_of_compare_says_which_episodes_were_lost(tmp_path, tiny):
    """Episodes in flight on Ray workers are not journaled: Ctrl-C must say so, by name."""
    import signal
    import time

    proc = steer_started("compare", str(tiny), "--policies", "feature,bo", "--seeds", "6",
                         "--workers", "1", cwd=tmp_path)
    journals = tmp_path / "runs" / "journals"
    deadline = time.monotonic() + 300
    while not any(p.stat().st_size for p in journals.glob("*.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends the foreground process
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    line = err.strip().splitlines()[-1]
    finished = int(line.split("steer: interrupted: ")[1].split(" of 12 episodes")[0])
    assert 1 <= finished < 12 and "marked FAILED" in line and "not journaled" in line, line
    client = _client(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    status = [r.info.status for r in runs if r.data.tags.get("steer.kind") != "comparison"]
    assert status.count("FINISHED") == finished and status.count("FAILED") == 12 - finished
    assert not any(r.data.tags.get("steer.kind") == "comparison" for r in runs)
    # the lost ones are named: every FAILED run's (policy, seed) is in the line
    for r in runs:
        if r.info.status == "FAILED":
            assert r.data.params["policy"] in line
