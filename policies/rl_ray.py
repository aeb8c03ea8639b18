"""Rollouts on Ray workers: an SB3 ``VecEnv`` whose environments live in Ray actors.

``steer train --workers K`` steps its training environments in ``K`` Ray
actors (one CPU and one torch thread each; on an embedded local Ray or a
cluster joined with ``--address``). Each actor holds a contiguous block of the
environments and steps them in one call, so a rollout step costs one round
trip per worker. The environments are built from the experiment's text in the
worker (nothing relies on a filesystem shared with the driver) and behave
exactly as in SB3's ``DummyVecEnv``: same seeds, same automatic resets, same
float32 rewards, so training with workers gives the same model as training
without them (tested). The action masks MaskablePPO asks for after every step
come back with the step, not in a second round trip.

A worker that dies loses its environments' episodes in progress: training
stops with an error naming the checkpoint to resume from (the checkpoint is
written at every evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from steer.errors import SteerError

__all__ = ["RayVecEnv", "EnvWorker"]

_DROP_FROM_RESET_INFO = ("history",)  # large and unused by the learner


class EnvWorker:
    """A block of training environments in one process (a Ray actor's body).

    Args:
        config_text: The experiment file's text.
        source_path: Its path (for messages and relative paths).
    """

    def __init__(self, config_text: str, source_path: str, n_envs: int) -> None:
        from steer.config import parse_experiment
        from steer.policies.rl_train import FlatActions
        from steer.session import make_env, set_threads

        set_threads(1)
        config = parse_experiment(config_text, source_path)
        self.envs = [FlatActions(make_env(config)) for _ in range(int(n_envs))]

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """Observation and action space of the block's environments."""
        return self.envs[0].observation_space, self.envs[0].action_space

    def reset(self, seeds: list[int | None], options: list[dict | None]) -> list[Any]:
        """Reset every environment; return ``(obs, info, mask)`` per environment."""
        out = []
        for env, seed, opt in zip(self.envs, seeds, options, strict=True):
            obs, info = env.reset(seed=seed, **({"options": opt} if opt else {}))
            out.append((obs, _lean(info), env.action_masks()))
        return out

    def step(self, actions: Sequence[int]) -> list[Any]:
        """Step every environment (auto-reset as ``DummyVecEnv``); per environment
        ``(obs, reward, done, info, reset_info, mask)``."""
        out = []
        for env, action in zip(self.envs, actions, strict=True):
            obs, reward, term, trunc, info = env.step(action)
            done = bool(term or trunc)
            info["TimeLimit.truncated"] = bool(trunc and not term)
            reset_info = None
            if done:
                info["terminal_observation"] = obs
                obs, reset_info = env.reset()
                reset_info = _lean(reset_info)
            out.append((obs, float(reward), done, info, reset_info, env.action_masks()))
        return out

    def call(self, local: list[int], name: str, args: tuple, kwargs: dict) -> list[Any]:
        """``env.get_wrapper_attr(name)(*args, **kwargs)`` on environments ``local``."""
        return [self.envs[i].get_wrapper_attr(name)(*args, **kwargs) for i in local]

    def get_attr(self, local: list[int], name: str) -> list[Any]:
        """Attribute ``name`` of environments ``local``."""
        return [self.envs[i].get_wrapper_attr(name) for i in local]

    def has_attr(self, name: str) -> bool:
        """Whether every environment has ``name``."""
        try:
            for env in self.envs:
                env.get_wrapper_attr(name)
        except AttributeError:
            return False
        return True

    def set_attr(self, local: list[int], name: str, value: Any) -> None:
        """Set attribute ``name`` on environments ``local``."""
        for i in local:
            setattr(self.envs[i], name, value)

    def is_wrapped(self, local: list[int], wrapper_class: type[gym.Wrapper]) -> list[bool]:
        """Whether environments ``local`` are wrapped in ``wrapper_class``."""
        from stable_baselines3.common import env_util

        return [env_util.is_wrapped(self.envs[i], wrapper_class) for i in local]

    def close(self) -> None:
        """Close the block's environments."""
        for env in self.envs:
            env.close()


def _lean(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k not in _DROP_FROM_RESET_INFO}


class RayVecEnv(VecEnv):
    """``n_envs`` environments of an experiment stepped in ``workers`` Ray actors.

    Args:
        config_text: The experiment file's text.
        source_path: Its path.
        n_envs: Environments in all (at least ``workers``).
        workers: Ray actors; environment ``j`` lives in the actor of its block.
        ray: The initialised ``ray`` module (embedded or a joined cluster).
    """

    def __init__(self, config_text: str, source_path: str, n_envs: int, workers: int,
                 ray: Any) -> None:
        if workers < 1 or n_envs < workers:
            raise SteerError(f"--workers {workers} needs at least as many --envs (got {n_envs})",
                             f"use --envs {max(workers, 1)} or more")
        self._ray = ray
        actor = ray.remote(num_cpus=1, max_restarts=0)(EnvWorker)
        sizes = [n_envs // workers + (1 if w < n_envs % workers else 0) for w in range(workers)]
        self._blocks: list[range] = []
        start = 0
        for size in sizes:
            self._blocks.append(range(start, start + size))
            start += size
        self._actors = [actor.remote(config_text, source_path, size) for size in sizes]
        obs_space, act_space = self._get(self._actors[0].spaces.remote())
        super().__init__(n_envs, obs_space, act_space)
        self._masks = [np.ones(int(act_space.n), bool) for _ in range(n_envs)]
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------ Ray calls
    def _get(self, refs: Any) -> Any:
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayActorError as exc:
            raise SteerError(f"a rollout worker died: {exc.__class__.__name__}",
                             "resume from the last checkpoint with steer train --resume "
                             "RUN_ID") from None

    def _where(self, indices: VecEnvIndices) -> dict[int, list[int]]:
        """Global environment indices -> {worker: local indices}, in order."""
        by_worker: dict[int, list[int]] = {}
        for j in self._get_indices(indices):
            for w, block in enumerate(self._blocks):
                if j in block:
                    by_worker.setdefault(w, []).append(j - block.start)
        return by_worker

    def _stack(self, obs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        spaces_ = self.observation_space.spaces  # type: ignore[attr-defined]
        return {k: np.stack([o[k] for o in obs]).astype(spaces_[k].dtype, copy=False)
                for k in spaces_}

    # -------------------------------------------------------------------- VecEnv
    def reset(self) -> dict[str, np.ndarray]:
        refs = [a.reset.remote([self._seeds[j] for j in b], [self._options[j] for j in b])
                for a, b in zip(self._actors, self._blocks, strict=True)]
        rows = [row for block in self._get(refs) for row in block]
        for j, (_, info, mask) in enumerate(rows):
            self.reset_infos[j] = info
            self._masks[j] = mask
        self._reset_seeds()
        self._reset_options()
        return self._stack([r[0] for r in rows])

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        assert self._actions is not None, "step_async first"
        refs = [a.step.remote([int(self._actions[j]) for j in b])
                for a, b in zip(self._actors, self._blocks, strict=True)]
        rows = [row for block in self._get(refs) for row in block]
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos = []
        for j, (_, reward, done, info, reset_info, mask) in enumerate(rows):
            rewards[j], dones[j] = reward, done
            infos.append(info)
            if reset_info is not None:
                self.reset_infos[j] = reset_info
            self._masks[j] = mask
        return self._stack([r[0] for r in rows]), rewards, dones, infos

    def action_masks(self) -> np.ndarray:
        """The masks that came back with the last reset or step, ``n_envs x actions``."""
        return np.stack(self._masks)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        if method_name == "action_masks" and not method_args and not method_kwargs:
            return [self._masks[j].copy() for j in self._get_indices(indices)]
        where = self._where(indices)
        refs = [self._actors[w].call.remote(local, method_name, method_args, method_kwargs)
                for w, local in where.items()]
        return [v for block in self._get(refs) for v in block]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        where = self._where(indices)
        refs = [self._actors[w].get_attr.remote(local, attr_name) for w, local in where.items()]
        return [v for block in self._get(refs) for v in block]

    def has_attr(self, attr_name: str) -> bool:
        return all(self._get([a.has_attr.remote(attr_name) for a in self._actors]))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._get([self._actors[w].set_attr.remote(local, attr_name, value)
                   for w, local in self._where(indices).items()])

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        where = self._where(indices)
        refs = [self._actors[w].is_wrapped.remote(local, wrapper_class)
                for w, local in where.items()]
        return [v for block in self._get(refs) for v in block]

    def close(self) -> None:
        if not self._actors:
            return
        try:
            self._ray.get([a.close.remote() for a in self._actors], timeout=30)
        except Exception:  # noqa: BLE001 - a dead worker has nothing left to close
            pass
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
