"""``steer compare --address`` on a real two-node Ray cluster started with ``ray start``.

The cluster runs in a network namespace of its own (only loopback exists
there), so every Ray server listens on loopback only; the head node and a
second worker node are started with ``ray start`` and stopped by their PIDs.
A worker is killed mid-episode: the episode is retried and the comparison's
numbers are identical to the same comparison on the embedded local Ray.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from steer.envs.testing import TINY_EXPERIMENT

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="needs root and iproute2 for a network namespace")]


def _env() -> dict[str, str]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true",
           "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("RAY_AUTH_MODE", None)  # steer must turn token mode on by itself
    # a user's shell is not in Ray's single-machine mode (the embedded Ray's setting)
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    return env


@pytest.fixture
def cluster(tmp_path: Path):
    from steer.ray_setup import loopback_cluster

    with loopback_cluster(_env(), head_cpus=1, worker_nodes=1) as c:  # head + a worker node
        yield c


def _listening_outside_loopback(ns: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-ltn"], capture_output=True,
                         text=True).stdout.splitlines()[1:]
    return [line for line in out if not any(a in line for a in ("127.0.0.1:", "[::1]:", "*:"))]


def test_compare_joins_a_ray_start_cluster_and_survives_a_killed_worker(tmp_path: Path,
                                                                      cluster) -> None:
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_EXPERIMENT)
    killed: dict[str, int] = {}

    def killer() -> None:  # kill the first episode worker seen busy
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for pid in subprocess.run(["ip", "netns", "pids", cluster["ns"]],
                                      capture_output=True, text=True).stdout.split():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if "ray::_episode" in cmd:
                    time.sleep(1.0)
                    os.kill(int(pid), signal.SIGKILL)
                    killed["pid"] = int(pid)
                    return
            time.sleep(0.1)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    out = subprocess.run([*cluster["inside"], sys.executable, "-m", "steer.cli", "compare",
                          str(exp), "--policies", "feature,random", "--seeds", "2",
                          "--address", cluster["address"], "--runs-dir", str(tmp_path / "c"),
                          "--json", str(tmp_path / "cluster.json")],
                         capture_output=True, text=True, env=_env(), timeout=600)
    th.join(5)
    assert out.returncode == 0, out.stderr[-2000:]
    assert killed, "no episode worker was seen to kill"
    # inside the namespace only loopback exists: nothing listens anywhere else
    assert _listening_outside_loopback(cluster["ns"]) == []

    local = subprocess.run([sys.executable, "-m", "steer.cli", "compare", str(exp),
                            "--policies", "feature,random", "--seeds", "2",
                            "--runs-dir", str(tmp_path / "l"),
                            "--json", str(tmp_path / "local.json")],
                           capture_output=True, text=True, env=_env(), timeout=600)
    assert local.returncode == 0, local.stderr[-2000:]
    a = json.loads((tmp_path / "cluster.json").read_text())
    b = json.loads((tmp_path / "local.json").read_text())
    for policy in ("feature", "random"):
        for metric in ("science_score", "lc_rmse_mag", "frac_characterised", "visits"):
            assert a["metrics"][policy][metric]["values"] == \
                b["metrics"][policy][metric]["values"], (policy, metric)


def _train(args: list[str], runs: Path, prefix: list[str] = ()) -> Path:
    """``steer train`` of the tiny experiment; the trained model's folder."""
    out = subprocess.run([*prefix, sys.executable, "-m", "steer.cli", "train", *args,
                          "--timesteps", "256", "--envs", "2", "--eval-every", "512",
                          "--eval-nights", "1", "--runs-dir", str(runs)],
                         capture_output=True, text=True, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    run_id = out.stdout.split("model: runs:/")[1].split("/")[0]
    return runs / "train" / run_id / "model"


def test_train_rolls_out_on_a_ray_start_cluster_and_trains_the_same_model(tmp_path: Path,
                                                                         cluster) -> None:
    import torch

    from steer.policies.rl_net import load_model

    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_EXPERIMENT)
    # two rollout actors of one CPU each on a cluster of two one-CPU nodes: one per node
    there = _train([str(exp), "--workers", "2", "--address", cluster["address"]],
                   tmp_path / "c", cluster["inside"])
    assert _listening_outside_loopback(cluster["ns"]) == []
    here = _train([str(exp)], tmp_path / "l")
    a, b = load_model(there).state_dict(), load_model(here).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
