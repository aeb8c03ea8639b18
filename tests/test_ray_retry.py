"""A Ray worker killed (SIGKILL) in the middle of an episode: the episode is retried and the
comparison completes with the numbers of an undisturbed one (real embedded Ray, real MLflow)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steer.envs.testing import TINY_EXPERIMENT

pytestmark = pytest.mark.slow


def _compare(tmp_path, name):
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "TMPDIR": str(tmp_path / "tmp")}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "steer.cli", "compare", "tiny.toml",
                             "--policies", "bo", "--seeds", "2", "--json", f"{name}.json",
                             "--runs-dir", name], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _episode_workers() -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split(None, 1)[0]) for line in out.splitlines()
            if "ray::_episode" in line]


def _open_episode_folder(pid: int) -> Path | None:
    """The episode folder a worker has a file open in (its journal), if any."""
    try:
        targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return None
    for target in targets:
        parts = Path(target).parts
        for i, part in enumerate(parts):
            if part.startswith("steer-episode-"):
                return Path(*parts[:i + 1])
    return None


def test_a_killed_worker_is_retried_and_the_numbers_do_not_change(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_EXPERIMENT)
    (tmp_path / "tmp").mkdir()
    plain = _compare(tmp_path, "plain")
    assert plain.wait(timeout=600) == 0, plain.stderr.read()
    killed = _compare(tmp_path, "killed")
    victim, folder, t0 = None, None, time.monotonic()
    while victim is None and killed.poll() is None and time.monotonic() - t0 < 300:
        for pid in _episode_workers():
            # kill it inside the episode: while it writes its journal
            folder = _open_episode_folder(pid)
            if folder is not None:
                victim = pid
                os.kill(victim, signal.SIGKILL)
                break
        time.sleep(0.05)
    out, err = killed.communicate(timeout=600)
    assert victim is not None, "no episode was seen running"
    assert killed.returncode == 0, out + err
    # the killed worker's journal folder went with the embedded Ray's folder: nothing is left
    assert not folder.exists(), f"the killed worker's {folder} was left behind"
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == []
    a = json.loads((tmp_path / "plain.json").read_text())["metrics"]["bo"]
    b = json.loads((tmp_path / "killed.json").read_text())["metrics"]["bo"]
    for metric in ("science_score", "frac_characterised", "lc_rmse_mag", "visits"):
        assert a[metric]["values"] == b[metric]["values"], metric
