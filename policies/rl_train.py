"""Training the ``rl`` policy: sb3-contrib's MaskablePPO with the deep-set network.

* :class:`FlatActions` turns ``steer/TargetSelection-v0``'s ``(target,
  exposure)`` action into one discrete choice over `N x E` with its
  feasibility mask (``action_masks()``, what MaskablePPO asks for).
* :class:`SetActorCritic` is MaskablePPO's actor-critic with the whole network
  in the features extractor (:class:`steer.policies.rl_net.SetScorer`): the
  "features" are the `N x E` logits and the value, so no layer depends on the
  catalog size; SB3's action and value heads only slice them.
* :func:`train` runs it on an experiment's environment (training nights drawn
  from seeds far from the evaluation ones), logs SB3's losses, entropy and
  speed and, every ``eval_every`` steps, the reward-independent metrics of
  fixed evaluation nights to an MLflow run, and writes the model as the run's
  ``model`` artifact and a resumable SB3 checkpoint.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from torch import nn

from steer.atomic import replacing
from steer.errors import ConfigError
from steer.policies.base import allowed_actions
from steer.policies.rl_net import NetConfig, SetScorer

__all__ = ["FlatActions", "SetActorCritic", "TrainResult", "train", "TRAIN_SEED_OFFSET"]

#: Training nights are seeded from here on; evaluation nights use the experiment's seeds.
TRAIN_SEED_OFFSET = 1_000_000


class FlatActions(gym.Wrapper):
    """``(target, exposure)`` as one discrete action ``target * E + exposure``, masked."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        base = env.unwrapped
        self.n_e = len(base.exptimes_s)
        self.action_space = spaces.Discrete(int(base.n_targets) * self.n_e)
        self._mask = np.zeros(int(base.n_targets) * self.n_e, bool)

    def _take(self, info: dict[str, Any]) -> None:
        self._mask = allowed_actions(info, self.n_e).reshape(-1)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._take(info)
        return obs, info

    def step(self, action: Any):
        a = int(action)
        obs, reward, term, trunc, info = self.env.step((a // self.n_e, a % self.n_e))
        self._take(info)
        return obs, reward, term, trunc, info

    def action_masks(self) -> np.ndarray:
        """Feasible (target, exposure) pairs: the environment's exposure mask (all
        allowed when nothing is: the night's last step)."""
        return self._mask.copy() if self._mask.any() else np.ones_like(self._mask)


class _Net(BaseFeaturesExtractor):
    """The whole network as SB3's features extractor: `N*E` logits, then the value."""

    def __init__(self, observation_space: spaces.Dict, net_cfg: NetConfig) -> None:
        n = observation_space["targets"].shape[0]
        super().__init__(observation_space, features_dim=n * len(net_cfg.exptimes_s) + 1)
        self.net = SetScorer(net_cfg)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        logits, value = self.net(obs["targets"], obs["globals"])
        return torch.cat([logits.flatten(1), value.unsqueeze(-1)], -1)


class _Slice(nn.Module):
    def __init__(self, lo: int, hi: int) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., self.lo:self.hi]


class SetActorCritic(MaskableActorCriticPolicy):
    """MaskablePPO's actor-critic whose heads slice the deep set's logits and value."""

    def _build(self, lr_schedule: Any) -> None:
        self._build_mlp_extractor()  # net_arch = []: the identity
        k = self.features_dim - 1
        self.action_net = _Slice(0, k)
        self.value_net = _Slice(k, k + 1)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)


class _MLflowWriter(KVWriter):
    """SB3's logger output into an MLflow run (``train/value_loss`` -> ``train_value_loss``)."""

    def __init__(self, log: Callable[[dict[str, float], int], None]) -> None:
        self.log = log

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any],
              step: int = 0) -> None:
        metrics = {k.replace("/", "_"): float(v) for k, v in key_values.items()
                   if isinstance(v, (int, float, np.floating, np.integer))
                   and not isinstance(v, bool) and np.isfinite(float(v))}
        if metrics:
            self.log(metrics, int(step))

    def close(self) -> None:
        pass


@dataclass
class TrainResult:
    """What :func:`train` made: the model folder, the checkpoint, the evaluations."""

    model_dir: Path
    checkpoint: Path
    timesteps: int
    evaluations: list[dict[str, float]]
    steps_per_s: float


def evaluate(net: SetScorer, make_env: Callable[[], gym.Env], seeds: list[int]
             ) -> dict[str, float]:
    """Mean reward-independent metrics of the greedy policy on nights ``seeds``."""
    rows = []
    for seed in seeds:
        env = make_env()
        obs, info = env.reset(seed=seed)
        done, total = False, 0.0
        n_e = len(env.unwrapped.exptimes_s)
        while not done:
            mask = np.asarray(info["action_mask"], bool)
            allowed = allowed_actions(info, n_e)
            with torch.no_grad():
                logits, _ = net(torch.from_numpy(obs["targets"])[None],
                                torch.from_numpy(obs["globals"])[None])
            lg = np.where(allowed, logits[0].numpy(), -np.inf)
            a = int(np.argmax(lg)) if mask.any() else 0
            obs, r, term, trunc, info = env.step((a // n_e, a % n_e))
            total += float(r)
            done = term or trunc
        m = env.unwrapped.episode_metrics()
        env.close()
        rows.append({"reward": total, **{k: float(v) for k, v in m.items()
                                         if isinstance(v, (int, float)) and np.isfinite(v)}})
    keys = set.intersection(*(set(r) for r in rows))
    return {k: float(np.mean([r[k] for r in rows])) for k in sorted(keys)}


class _Progress(BaseCallback):
    """Evaluation every ``eval_every`` steps, a checkpoint, and the progress bar."""

    def __init__(self, every: int, on_eval: Callable[[int], None],
                 report: Callable[[int], None]) -> None:
        super().__init__()
        self.every, self.on_eval, self.report = int(every), on_eval, report
        self.next_eval = int(every)

    def _on_step(self) -> bool:
        self.report(self.num_timesteps)
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.every
            self.on_eval(self.num_timesteps)
        return True


def save_checkpoint(model: MaskablePPO, path: Path) -> None:
    """Save ``model`` to ``path`` whole or not at all: it is written beside it, forced
    to disk and renamed over ``path``, so a Ctrl-C or a crash mid-save leaves the
    previous checkpoint readable (and no partial file)."""
    with replacing(path) as partial:
        model.save(partial)


def train(make_env: Callable[[], gym.Env], *, timesteps: int, seed: int, envs: int,
          eval_seeds: list[int], eval_every: int, out_dir: Path,
          log: Callable[[dict[str, float], int], None],
          on_progress: Callable[[int, dict[str, float] | None], None],
          resume_from: Path | None = None, extra: dict[str, Any] | None = None,
          hyper: dict[str, Any] | None = None,
          make_vec: Callable[[int], VecEnv] | None = None) -> TrainResult:
    """Train MaskablePPO with the deep-set network on ``make_env``'s nights.

    Args:
        make_env: Builds one (unwrapped-action) environment of the experiment.
        timesteps: Environment steps to train for (in total, with a resumed checkpoint).
        seed: Seeds SB3, torch and the training nights (``TRAIN_SEED_OFFSET + seed * 1000``).
        envs: Environments stepped side by side (SB3's ``DummyVecEnv``, or ``make_vec``).
        eval_seeds: Evaluation nights (the experiment's seeds: never trained on).
        eval_every: Steps between evaluations.
        out_dir: Where the checkpoint and the model folder are written.
        log: Receives metrics and their step (MLflow).
        on_progress: Receives the step count and, after an evaluation, its metrics.
        resume_from: An SB3 checkpoint to continue.
        extra: Facts stored with the model (experiment, algorithm...).
        hyper: MaskablePPO keyword arguments overriding the defaults.
        make_vec: Builds the vectorised environments from their number instead of a
            ``DummyVecEnv`` (:class:`~steer.policies.rl_ray.RayVecEnv`: rollouts on Ray
            workers); the same seeds give the same model either way.

    Raises:
        ConfigError: ``resume_from`` is not a readable checkpoint.
    """
    probe = make_env()
    probe.reset(seed=int(eval_seeds[0]) if eval_seeds else 0)
    ctx = probe.unwrapped.policy_context()
    cfg = NetConfig(tuple(ctx.target_features), tuple(ctx.global_features),
                    tuple(float(e) for e in ctx.exptimes_s), 64, dict(extra or {}))
    probe.close()
    train_seed = TRAIN_SEED_OFFSET + int(seed) * 1000
    vec = (make_vec(int(envs)) if make_vec is not None
           else DummyVecEnv([lambda: FlatActions(make_env()) for _ in range(int(envs))]))
    vec.seed(train_seed)
    kwargs = {"n_steps": 256, "batch_size": 64, "n_epochs": 4, "learning_rate": 3e-4,
              "gamma": 0.99, "ent_coef": 0.01, **(hyper or {})}
    if resume_from is not None:
        try:
            model = MaskablePPO.load(resume_from, env=vec, device="cpu")
        except (ValueError, KeyError, zipfile.BadZipFile) as exc:
            vec.close()
            raise ConfigError(f"the checkpoint {str(resume_from)!r} cannot be read ({exc})",
                              "start the training again without --resume") from None
    else:
        model = MaskablePPO(SetActorCritic, vec, seed=int(seed), device="cpu", verbose=0,
                            policy_kwargs={"features_extractor_class": _Net,
                                           "features_extractor_kwargs": {"net_cfg": cfg},
                                           "net_arch": [], "ortho_init": False}, **kwargs)
    model.set_logger(Logger(folder=None, output_formats=[_MLflowWriter(log)]))
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.zip"
    evaluations: list[dict[str, float]] = []
    net: SetScorer = model.policy.features_extractor.net

    def on_eval(step: int) -> None:
        net.eval()
        m = evaluate(net, make_env, eval_seeds)
        net.train()
        evaluations.append({"step": step, **m})
        log({f"eval_{k}": v for k, v in m.items()}, step)
        save_checkpoint(model, checkpoint)
        on_progress(step, m)

    t0 = time.perf_counter()
    start = int(model.num_timesteps)
    remaining = max(int(timesteps) - start, 0)
    if remaining:
        model.learn(remaining, callback=_Progress(eval_every, on_eval,
                                                  lambda s: on_progress(s, None)),
                    reset_num_timesteps=resume_from is None)
    wall = time.perf_counter() - t0
    save_checkpoint(model, checkpoint)
    if not evaluations or evaluations[-1]["step"] != model.num_timesteps:
        on_eval(int(model.num_timesteps))
    from steer.policies.rl_net import save_model

    model_dir = save_model(net, out_dir / "model")
    vec.close()
    done = int(model.num_timesteps) - start
    return TrainResult(model_dir, checkpoint, int(model.num_timesteps), evaluations,
                       done / wall if wall > 0 else 0.0)

