"""A small ``rl`` model, trained once per session on the tiny night (real MaskablePPO)."""

from pathlib import Path

import pytest


def train_tiny(out_dir: Path, timesteps: int = 512, seed: int = 0):
    """Train the deep-set MaskablePPO on the tiny night; return the TrainResult."""
    from steer.envs.testing import tiny_config
    from steer.policies.rl_train import train
    from steer.session import make_env

    cfg = tiny_config()
    logged: list[tuple[dict, int]] = []
    return train(lambda: make_env(cfg), timesteps=timesteps, seed=seed, envs=1,
                 eval_seeds=[cfg.seed], eval_every=256, out_dir=out_dir,
                 log=lambda m, s: logged.append((m, s)), on_progress=lambda s, e: None,
                 hyper={"n_steps": 128, "batch_size": 32, "n_epochs": 2}), logged


@pytest.fixture(scope="session")
def rl_model(tmp_path_factory) -> Path:
    """The folder of a model trained for 512 steps on the tiny night."""
    result, _ = train_tiny(tmp_path_factory.mktemp("rl"))
    return result.model_dir
