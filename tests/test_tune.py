"""``steer tune``: BO over a policy's declared settings, nights on a real local Ray, real MLflow."""

import tomllib

import pytest

from steer.envs.testing import TINY_EXPERIMENT
from tests.cli import steer_cli, steer_started

_steer = steer_cli


@pytest.mark.slow
def test_tune_feature_writes_a_snippet_and_judges_it_on_held_out_nights(tmp_path):
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPERIMENT)
    out = _steer("tune", str(tiny), "--policy", "feature", "--trials", "3", "--seeds", "2",
                 "--holdout", "2", "--q", "2", "--out", str(tmp_path / "best.toml"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "held-out nights [1000, 1001]" in out.stdout
    snip = tomllib.loads((tmp_path / "best.toml").read_text())
    params = snip["policy"]["feature"]
    assert set(params) == {"w_depth", "w_slew", "w_priority", "w_revisit", "revisit_h"}
    from steer.policies.baselines import FeaturePolicy

    for k, v in params.items():
        lo, hi = FeaturePolicy.tunable[k]
        assert lo <= v <= hi
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["steer.kind"] == "tune"
    hist = client.get_metric_history(run_id, "trial_science_score")
    assert sorted(m.step for m in hist) == [0, 1, 2, 3]  # the defaults, then 3 trials
    best = client.get_metric_history(run_id, "best_science_score")
    assert [m.value for m in sorted(best, key=lambda m: m.step)] == sorted(m.value for m in best)
    assert {"feature.toml", "tune.json"} <= {a.path for a in client.list_artifacts(run_id)}
    # the snippet is an experiment section steer accepts as it is
    exp = tmp_path / "tuned.toml"
    exp.write_text(TINY_EXPERIMENT + "\n" + (tmp_path / "best.toml").read_text())
    assert _steer("run", str(exp), "--policy", "feature", cwd=tmp_path).returncode == 0


def test_a_policy_without_tunable_settings_is_a_one_line_error(tmp_path):
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPERIMENT)
    out = _steer("tune", str(tiny), "--policy", "greedy", "--runs-dir", str(tmp_path / "r"),
                 cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "declares no tunable settings" in lines[0] and "feature" in lines[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_ctrl_c_of_tune_says_how_far_it_got(tmp_path):
    """Ctrl-C mid-tuning: exit 130, the settings scored so far and the best of them."""
    import os
    import signal
    import time

    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPERIMENT)
    proc = steer_started("tune", str(tiny), "--policy", "feature", "--trials", "60", "--seeds",
                         "2", "--holdout", "2", cwd=tmp_path)
    run_id = proc.stdout.readline().split("MLflow run id: ")[1].strip()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    deadline = time.monotonic() + 300
    while not client.get_metric_history(run_id, "trial_science_score"):  # one setting scored
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    line = err.strip().splitlines()[-1]
    scored = int(line.split("stopped with ")[1].split(" of 61 settings scored")[0])
    assert 1 <= scored < 61 and "the best so far, trial" in line and "does not resume" in line
    logged = len(client.get_metric_history(run_id, "trial_science_score"))
    assert scored - 1 <= logged <= scored  # (Ctrl-C may land between counting and logging)
