"""Policies: classical scheduler baselines, BoTorch active learning, RL.

Policies are registered by id with lazily imported entry points, so asking
for ``random`` never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from steer.errors import RegistryError

__all__ = ["POLICIES", "CATALOG_POLICIES", "POLICY_KINDS", "make_policy", "policy_names"]

POLICIES: dict[str, str] = {
    "random": "steer.policies.baselines:RandomPolicy",
    "round-robin": "steer.policies.baselines:RoundRobinPolicy",
    "greedy": "steer.policies.baselines:GreedyPolicy",
    "feature": "steer.policies.baselines:FeaturePolicy",
    "bo": "steer.policies.bo:BOPolicy",
    "bo-continuous": "steer.policies.bo_continuous:BOContinuousPolicy",
    "bo-pool": "steer.policies.bo_pool:BOPoolPolicy",
    "random-pool": "steer.policies.bo_pool:RandomPoolPolicy",
    "sobol": "steer.policies.bo_continuous:SobolPolicy",
    "vcurve": "steer.policies.bo_continuous:VCurvePolicy",
}


CATALOG_POLICIES: tuple[str, ...] = ("random", "round-robin", "greedy", "feature", "bo")
"""Policies that choose among catalog targets (``steer/TargetSelection-v0``)."""

POLICY_KINDS: dict[str, str] = {
    **{name: "catalog" for name in CATALOG_POLICIES},
    "bo-continuous": "point", "sobol": "point", "vcurve": "point",
    "bo-pool": "pool", "random-pool": "pool",
}
"""The ``action_kind`` of the environments each policy acts on (see
:mod:`steer.envs.hooks`): ``catalog`` (targets and exposures), ``point`` (a
point of a box: ``steer/BlackBox-v0``, ``steer/Autofocus-v0``) or ``pool``
(an index into a fixed candidate pool: ``steer/CandidatePool-v0``)."""


def policy_names() -> list[str]:
    """Return the registered policy ids."""
    return list(POLICIES)


def make_policy(name: str, **params: Any) -> Any:
    """Instantiate a registered policy by id.

    Raises:
        RegistryError: if ``name`` is not registered.
    """
    if name not in POLICIES:
        raise RegistryError(f"unknown policy {name!r}", f"choose one of {', '.join(POLICIES)}")
    module, cls = POLICIES[name].split(":")
    policy_cls = getattr(importlib.import_module(module), cls)
    try:
        return policy_cls(**params)
    except TypeError as exc:
        raise RegistryError(f"bad parameters for policy {name!r}: {exc}",
                            f"check [policy.{name}] in the experiment file") from exc
