"""``rl``: a reinforcement-learned target selector (MaskablePPO, deep-set network).

Trained by ``steer train EXPERIMENT`` (:mod:`steer.policies.rl_train`) on the
environment's reward in simulation; here it only acts: the saved network
(:mod:`steer.policies.rl_net`) scores every target and exposure of the
observation, infeasible targets are masked, and the most probable action is
chosen (``deterministic = true``, the default) or one is drawn from the
policy's distribution with the policy's seeded generator. Either way the same
configuration and seed give the same decisions, so an ``rl`` run replays.

Each decision's explanation carries the action probability of the chosen
target and exposure and of the runners-up (softmax over the feasible
actions), the entropy of that distribution and the critic's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from steer.envs.context import CatalogContext, require_context
from steer.errors import ConfigError
from steer.policies.base import BasePolicy, allowed_actions
from steer.types import Proposal

__all__ = ["RLPolicy"]


class RLPolicy(BasePolicy):
    """Acts with a network trained by ``steer train``.

    Args:
        model: The trained model: the folder holding ``model.pt`` (``steer
            run --model runs:/<id>/model`` downloads the MLflow artifact and
            writes its local folder here).
        deterministic: Take the most probable action (default) or sample one.
    """

    name = "rl"
    version = "1"

    def __init__(self, model: str = "", deterministic: bool = True) -> None:
        super().__init__(model=model, deterministic=deterministic)
        if not model:
            raise ConfigError("policy rl needs a trained model",
                              "pass --model runs:/<id>/model (printed by `steer train`) or set "
                              "model in [policy.rl]")
        from steer.policies.rl_net import load_model

        self.net = load_model(model)
        self.deterministic = bool(deterministic)

    def _reset(self) -> None:
        ctx = require_context(self.context, CatalogContext, self.name,
                              "use it with steer/TargetSelection-v0")
        cfg = self.net.cfg
        checks = (("target features", tuple(cfg.target_features), tuple(ctx.target_features)),
                  ("global features", tuple(cfg.global_features), tuple(ctx.global_features)),
                  ("exposures (s)", tuple(cfg.exptimes_s),
                   tuple(float(e) for e in ctx.exptimes_s)))
        for what, trained, here in checks:
            if trained != here:
                raise ConfigError(f"the RL model was trained with {what} {list(trained)}, this "
                                  f"experiment has {list(here)}",
                                  "train a model on this experiment (`steer train`) or use "
                                  "the experiment it was trained on")

    def _suggest(self, observation: dict[str, np.ndarray], info: dict[str, Any],
                 n: int) -> list[Proposal]:
        mask = np.asarray(info["action_mask"], bool)
        with torch.no_grad():
            logits, value = self.net(torch.from_numpy(np.asarray(observation["targets"]))[None],
                                     torch.from_numpy(np.asarray(observation["globals"]))[None])
        lg = logits[0].double().numpy()
        allowed = allowed_actions(info, lg.shape[1])
        masked = np.where(allowed, lg, -np.inf)
        finite = np.isfinite(masked)
        prob = np.zeros_like(lg)
        if finite.any():
            z = masked[finite] - masked[finite].max()
            p = np.exp(z)
            prob[finite] = p / p.sum()
        entropy = float(-(prob[prob > 0] * np.log(prob[prob > 0])).sum())
        if self.deterministic or not finite.any():
            scores = prob
        else:  # one draw first, then the rest by probability
            pick = self.rng.choice(prob.size, p=prob.ravel())
            scores = prob.copy()
            scores.flat[pick] = 2.0
        why = {"rule": "MaskablePPO policy: most probable feasible action"
                       if self.deterministic else "MaskablePPO policy: sampled action",
               "entropy_nats": entropy, "value": float(value[0]),
               "trained": dict(self.net.cfg.extra)}
        proposals = self.rank(scores, mask, n, why, exposure_mask=allowed)
        out = []
        for p in proposals:
            i = p.action.target_index
            e = int(np.argmin(np.abs(np.asarray(self.context.exptimes_s) - p.action.exptime_s)))
            expl = dict(p.explanation)
            for r in expl.get("runners_up", []):
                r["probability"] = float(r.pop("score"))
            out.append(Proposal(p.action, float(prob[i, e]),
                                {**expl, "probability": float(prob[i, e]),
                                 "logit": float(lg[i, e])}))
        return out
