"""Rollouts on Ray workers (a real embedded Ray) train the same model as in-process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from steer.envs.testing import TINY_EXPERIMENT, tiny_config
from steer.errors import SteerError
from steer.session import make_env

pytestmark = pytest.mark.slow

HYPER = {"n_steps": 64, "batch_size": 32, "n_epochs": 2}


def _train(tmp_path, make_vec=None):
    from steer.policies.rl_train import train

    cfg = tiny_config()
    logged: list[tuple[dict, int]] = []
    res = train(lambda: make_env(cfg), timesteps=256, seed=3, envs=3, eval_seeds=[cfg.seed],
                eval_every=128, out_dir=tmp_path, log=lambda m, s: logged.append((m, s)),
                on_progress=lambda s, e: None, hyper=HYPER, make_vec=make_vec)
    return res, logged


def test_ray_workers_train_the_same_model_as_dummy_vec_env(tmp_path):
    from steer.policies.rl_ray import RayVecEnv
    from steer.ray_setup import init_ray, shutdown_ray

    here, here_log = _train(tmp_path / "here")
    ray = init_ray(None, 2)
    try:
        made: list[RayVecEnv] = []

        def make_vec(n):
            made.append(RayVecEnv(TINY_EXPERIMENT, "tiny.toml", n, 2, ray))
            return made[-1]

        there, there_log = _train(tmp_path / "ray", make_vec)
        vec = made[0]
        assert [len(b) for b in vec._blocks] == [2, 1]  # 3 environments on 2 workers
        with pytest.raises(SteerError, match="at least as many --envs"):
            RayVecEnv(TINY_EXPERIMENT, "tiny.toml", 1, 2, ray)
    finally:
        shutdown_ray(ray)
    assert there.timesteps == here.timesteps == 384  # 3 envs x 64 steps x 2 rollouts
    from steer.policies.rl_net import load_model

    na, nb = load_model(here.model_dir), load_model(there.model_dir)
    for (ka, va), (kb, vb) in zip(na.state_dict().items(), nb.state_dict().items(),
                                  strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    assert here.evaluations == there.evaluations
    drop = {"time_fps", "env_steps_per_s", "time_time_elapsed"}  # wall-clock seconds
    clean = [({k: v for k, v in m.items() if k not in drop}, s) for m, s in here_log]
    clean_ray = [({k: v for k, v in m.items() if k not in drop}, s) for m, s in there_log]
    assert clean == clean_ray and len(clean) > 4


def test_vec_env_plumbing_over_ray(tmp_path):
    from steer.policies.rl_ray import RayVecEnv
    from steer.policies.rl_train import FlatActions
    from steer.ray_setup import init_ray, shutdown_ray

    ray = init_ray(None, 2)
    try:
        vec = RayVecEnv(TINY_EXPERIMENT, "tiny.toml", 2, 2, ray)
        vec.seed(11)
        obs = vec.reset()
        assert obs["targets"].dtype == np.float32 and obs["targets"].shape[0] == 2
        masks = vec.env_method("action_masks")
        assert len(masks) == 2 and all(m.any() for m in masks)
        assert vec.has_attr("action_masks") and not vec.has_attr("no_such_thing")
        assert vec.env_is_wrapped(FlatActions) == [True, True]
        assert vec.get_attr("n_e", indices=[1]) == [2]
        done = np.zeros(2, bool)
        for _ in range(400):  # to the end of a night: auto-reset as DummyVecEnv
            acts = [int(np.flatnonzero(m)[0]) for m in vec.env_method("action_masks")]
            vec.step_async(np.array(acts))
            obs, rew, dones, infos = vec.step_wait()
            assert rew.dtype == np.float32
            done |= dones
            if dones.any():
                j = int(np.flatnonzero(dones)[0])
                assert "terminal_observation" in infos[j]
                break
        assert done.any()
        vec.close()
    finally:
        shutdown_ray(ray)
