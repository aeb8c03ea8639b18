"""Tiny target-selection experiments and scripted policies, shipped for users' tests too.

Nothing here replaces a real component in an integration test: these are
small settings that make loops short and a policy whose behaviour is scripted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steer.config import ExperimentConfig, parse_experiment
from steer.policies.base import BasePolicy
from steer.types import Proposal

__all__ = ["tiny_config", "tiny_night", "UnsafeFirstPolicy", "TINY_EXPERIMENT"]

TINY_EXPERIMENT = """
[experiment]
name = "tiny"
env = "steer/TargetSelection-v0"
policy = "feature"
seed = 1

[env]
preset = "small-robotic"
night_date = "2026-03-20"
n_targets = 40
exptimes_s = [30.0, 60.0]
max_night_hours = 0.75
cloudiness = 0.1
"""


def tiny_config(extra: str = "") -> ExperimentConfig:
    """A 45-minute night with 40 targets: a closed loop in a second or two."""
    return parse_experiment(TINY_EXPERIMENT + extra, "<tiny>")


def tiny_night(folder: Any, policy: str, seed: int = 0, **settings: Any) -> list[Any]:
    """The executed decision records of a tiny night played by ``policy`` with
    ``settings`` on top of the experiment's (journal in ``folder``; one torch thread)."""
    import dataclasses

    from steer.session import play, set_threads

    set_threads(1)
    config = tiny_config()
    config = dataclasses.replace(config, policy_kwargs={
        **config.policy_kwargs, policy: {**config.policy_params(policy), **settings}})
    return [r for r in play(config, policy, seed, folder).episode.records if r.status == "ok"]


class UnsafeFirstPolicy(BasePolicy):
    """Proposes an infeasible target first, then the feature policy's choice.

    Exercises the safety path: the loop must record the refusal and never
    send the unsafe action.
    """

    name = "unsafe-first"

    def _suggest(self, observation: dict[str, np.ndarray], info: dict[str, Any],
                 n: int) -> list[Proposal]:
        from steer.policies.baselines import FeaturePolicy

        mask = np.asarray(info["action_mask"], bool)
        bad = np.flatnonzero(~mask)
        inner = FeaturePolicy()
        inner.context, inner.rng = self.context, self.rng
        good = inner._suggest(observation, info, n)
        if len(bad) == 0:
            return good
        unsafe = Proposal(self.context.make_action(int(bad[0]), 0), 1e9, {"rule": "deliberately unsafe"})
        return [unsafe, *good][:max(n, 2)]


def run_focus_episode(env: Any, policy_name: str, seed: int) -> tuple[list[float], dict]:
    """One focus run of ``policy_name`` on a focus env: the measured FWHMs and the last info."""
    import warnings

    from steer.loop import start_policy
    from steer.policies import make_policy

    obs, info = env.reset(seed=seed)
    policy = make_policy(policy_name)
    start_policy(policy, env, seed)
    fwhm, done = [], False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while not done:
            prop = policy.suggest(obs, info, 1)[0]
            obs, reward, done, _, info = env.step(prop.action.as_array())
            policy.ingest(prop.action, info, reward)
            fwhm.append(float(info["fwhm_arcsec"]))
    return fwhm, info
