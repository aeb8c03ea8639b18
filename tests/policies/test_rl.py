"""The ``rl`` policy: a deep-set network trained with real MaskablePPO, deployed in the loop."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from steer.envs.night_features import GLOBAL_FEATURES, TARGET_FEATURES
from steer.envs.testing import TINY_EXPERIMENT, tiny_config
from steer.errors import ConfigError
from steer.loop import run_episode
from steer.policies import make_policy
from steer.policies.rl_net import NetConfig, SetScorer, load_model
from steer.session import make_env
from steer.testing import ListSink
from tests.cli import steer_cli, steer_started

from .conftest import train_tiny


def _obs(n, rng):
    lo = np.array([30, 0, 1, 0, -2, 0, 0, 1, 0, 5, 0], np.float32)
    hi = np.array([90, 360, 2, 180, 3, 1, 720, 10, 1, 120, 1], np.float32)
    t = (lo + rng.random((n, len(lo))) * (hi - lo)).astype(np.float32)
    t[:, -1] = rng.random(n) < 0.7
    g = rng.random(len(GLOBAL_FEATURES)).astype(np.float32)
    return torch.from_numpy(t)[None], torch.from_numpy(g)[None]


def test_network_is_permutation_equivariant_and_takes_any_catalog_size():
    torch.manual_seed(0)
    net = SetScorer(NetConfig(TARGET_FEATURES, GLOBAL_FEATURES, (30.0, 60.0, 120.0)))
    t, g = _obs(150, np.random.default_rng(1))
    perm = torch.from_numpy(np.random.default_rng(2).permutation(150))
    with torch.no_grad():
        a, va = net(t, g)
        b, vb = net(t[:, perm], g)
        big, _ = net(*_obs(1000, np.random.default_rng(3)))
    assert torch.allclose(a[0, perm], b[0], atol=1e-5)
    assert torch.allclose(va, vb, atol=1e-5)
    assert big.shape == (1, 1000, 3)
    assert not torch.allclose(a[0, 0], a[0, 1])  # targets are told apart


def test_training_logs_curves_and_writes_a_loadable_model(tmp_path):
    result, logged = train_tiny(tmp_path, timesteps=256)
    keys = {k for m, _ in logged for k in m}
    assert {"train_entropy_loss", "train_value_loss", "eval_reward",
            "eval_frac_characterised"} <= keys, keys
    assert result.timesteps >= 256 and result.checkpoint.is_file()
    net = load_model(result.model_dir)
    assert net.cfg.exptimes_s == (30.0, 60.0) and net.cfg.target_features == TARGET_FEATURES
    # resumed from its checkpoint: continues to the new total, does not start over
    from steer.policies.rl_train import train

    cfg = tiny_config()
    more = train(lambda: make_env(cfg), timesteps=512, seed=0, envs=1, eval_seeds=[1],
                 eval_every=10_000, out_dir=tmp_path / "more", log=lambda m, s: None,
                 on_progress=lambda s, e: None, resume_from=result.checkpoint)
    assert more.timesteps == 512


def test_rl_decisions_explain_probabilities_and_repeat_for_a_seed(rl_model):
    def night():
        sink = ListSink()
        run_episode(make_env(tiny_config()), make_policy("rl", model=str(rl_model)), 2,
                    [sink], "t")
        return sink.records

    a, b = night(), night()
    assert [r.decision_key for r in a] == [r.decision_key for r in b]
    ok = [r for r in a if r.status == "ok"]
    assert ok and all(r.safety["allowed"] for r in ok)
    ex = ok[0].proposal["explanation"]
    assert 0.0 < ex["probability"] <= 1.0 and ex["entropy_nats"] >= 0.0
    ups = ex["runners_up"]
    assert ups and all(0.0 <= u["probability"] <= ex["probability"] + 1e-12 for u in ups)


def test_a_model_trained_on_40_targets_drives_1000(rl_model):
    from dataclasses import replace

    config = replace(tiny_config(), env_kwargs=tiny_config().env_kwargs | {"n_targets": 1000})
    sink = ListSink()
    res = run_episode(make_env(config), make_policy("rl", model=str(rl_model)), 5, [sink], "t",
                      max_decisions=8)
    assert len(res.records) == 8
    assert max(r.proposal["action"]["target_index"] for r in sink.records) < 1000


def test_a_model_for_other_exposures_is_refused(rl_model):
    from dataclasses import replace

    config = replace(tiny_config(), env_kwargs=tiny_config().env_kwargs
                     | {"exptimes_s": [30.0, 60.0, 120.0]})
    with pytest.raises(ConfigError, match=r"exposures \(s\) \[30.0, 60.0\].*\[30.0, 60.0, 120.0\]"):
        run_episode(make_env(config), make_policy("rl", model=str(rl_model)), 1, [ListSink()],
                    "t", max_decisions=1)


_steer = steer_cli


@pytest.mark.slow
def test_train_run_replay_end_to_end_on_a_real_store(tmp_path):
    """`steer train` -> runs:/<id>/model -> `steer run --policy rl` -> `steer replay`."""
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPERIMENT)
    out = _steer("train", str(tiny), "--timesteps", "512", "--eval-every", "256",
                 "--eval-nights", "1", "--envs", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    uri = out.stdout.split("model: ")[1].split()[0]
    train_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    assert uri == f"runs:/{train_id}/model"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    run = client.get_run(train_id)
    assert run.info.status == "FINISHED" and run.data.tags["steer.kind"] == "train"
    arts = {a.path for a in client.list_artifacts(train_id, "model")}
    assert arts == {"model/model.pt", "model/config.json"}
    assert len(client.get_metric_history(train_id, "eval_frac_characterised")) >= 2

    out = _steer("run", str(tiny), "--policy", "rl", "--model", uri, "--seed", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    journal = Path(out.stdout.split("journal: ")[1].split()[0])
    rec = json.loads(journal.read_text().splitlines()[0])
    assert rec["policy"] == "rl" and "probability" in rec["proposal"]["explanation"]
    out = _steer("replay", run_id, cwd=tmp_path)
    assert out.returncode == 0 and "identical" in out.stdout, out.stdout + out.stderr


def test_missing_or_foreign_models_are_one_line_errors_and_write_nothing(tmp_path):
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPERIMENT)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    cases = [(("--policy", "rl"), "policy rl needs a trained model"),
             (("--policy", "rl", "--model", str(tmp_path / "nowhere")), "no RL model at"),
             (("--policy", "rl", "--model", str(tmp_path / "junk.pt")), "is not a steer RL model"),
             (("--policy", "rl", "--model", "models:/x/1"), "is not a run's model")]
    for extra, message in cases:
        out = _steer("run", str(tiny), *extra, "--runs-dir", str(tmp_path / "r"), cwd=tmp_path)
        assert out.returncode == 2, out.stdout + out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.stderr
        assert not (tmp_path / "r" / "journals").exists()


def test_suggest_ranks_with_an_rl_model_and_refuses_one_for_other_exposures(tmp_path, rl_model):
    """`steer suggest --policy rl --model DIR`: the same network ranks a real catalog."""
    from dataclasses import replace

    from steer.policies.rl_train import train

    cfg = replace(tiny_config(), env_kwargs=tiny_config().env_kwargs
                  | {"exptimes_s": [30.0, 60.0, 120.0]})  # what suggest's nights offer
    res = train(lambda: make_env(cfg), timesteps=128, seed=0, envs=1, eval_seeds=[1],
                eval_every=10_000, out_dir=tmp_path / "m", log=lambda m, s: None,
                on_progress=lambda s, e: None, hyper={"n_steps": 64, "batch_size": 32})
    cat = Path(__file__).parents[2] / "experiments" / "catalogs" / "bright-stars.csv"
    base = ("suggest", str(cat), "--site", "lasilla", "--time", "2026-03-21T04:00:00Z",
            "--policy", "rl", "--format", "json", "--n", "4")
    out = _steer(*base, "--model", str(res.model_dir), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = json.loads(out.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4] and all(r["alt_deg"] >= 30 for r in rows)
    out = _steer(*base, "--model", str(rl_model), cwd=tmp_path)  # trained on 30/60 s only
    assert out.returncode == 2 and "exposures (s) [30.0, 60.0]" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_ctrl_c_of_train_names_the_checkpoint_and_resume_finishes(tmp_path):
    """Ctrl-C mid-training: exit 130 with the command that continues it, which works.

    The checkpoint appears only whole (it is written beside and renamed), so the
    Ctrl-C, sent as soon as it exists, may land in a later save: that one is
    dropped and the last whole checkpoint resumes. A checkpoint cut short some
    other way is a one-line error."""
    import os
    import signal
    import time

    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPERIMENT)
    args = ["--eval-every", "256", "--eval-nights", "1", "--envs", "1"]
    proc = steer_started("train", str(tiny), "--timesteps", "100000", *args, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "runs" / "train").glob("*/checkpoint.zip")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    run_id = out.split("MLflow run id: ")[1].split()[0]
    line = err.strip().splitlines()[-1]
    assert f"--resume {run_id}" in line and "checkpoint.zip" in line, line
    done = _steer("train", str(tiny), "--timesteps", "2048", "--resume", run_id, *args,
                  cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trained 2048 steps" in done.stdout
    assert not list((tmp_path / "runs" / "train").glob("*/.checkpoint.*.tmp*"))
    ckpt = tmp_path / "runs" / "train" / run_id / "checkpoint.zip"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # as a save cut short would leave it
    bad = _steer("train", str(tiny), "--timesteps", "4096", "--resume", run_id, *args,
                 cwd=tmp_path)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr, bad.stderr
    assert bad.stderr.strip().startswith("steer: error:") and "cannot be read" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) <= 2, bad.stderr
