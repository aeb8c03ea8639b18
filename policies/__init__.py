"""Policies: classical scheduler baselines, BoTorch active learning, RL.

Policies are registered by id with lazily imported entry points, so asking
for ``random`` never imports torch. Each policy class declares the kinds of
environment it drives (``drives``, matched against the environment
presenter's ``kind``).
"""

from __future__ import annotations

import importlib
from typing import Any

from steer.errors import RegistryError

__all__ = ["POLICIES", "make_policy", "policy_names", "policy_class", "policies_for"]

POLICIES: dict[str, str] = {
    "random": "steer.policies.baselines:RandomPolicy",
    "round-robin": "steer.policies.baselines:RoundRobinPolicy",
    "greedy": "steer.policies.baselines:GreedyPolicy",
    "feature": "steer.policies.baselines:FeaturePolicy",
    "bo": "steer.policies.bo:BOPolicy",
    "bo-continuous": "steer.policies.bo_continuous:BOContinuousPolicy",
    "bo-pool": "steer.policies.bo_pool:BOPoolPolicy",
    "random-pool": "steer.policies.bo_pool:RandomPoolPolicy",
    "sobol": "steer.policies.box:SobolPolicy",
    "vcurve": "steer.policies.vcurve:VCurvePolicy",
    "rl": "steer.policies.rl:RLPolicy",
}


def policy_class(name: str) -> type:
    """The class of a registered policy (imports its module).

    Raises:
        RegistryError: if ``name`` is not registered.
    """
    if name not in POLICIES:
        raise RegistryError(f"unknown policy {name!r}", f"choose one of {', '.join(POLICIES)}")
    module, cls = POLICIES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def policies_for(kind: str) -> list[str]:
    """The registered policies whose class declares it drives environments of ``kind``."""
    return [name for name in POLICIES if kind in getattr(policy_class(name), "drives", ())]


def policy_names() -> list[str]:
    """Return the registered policy ids."""
    return list(POLICIES)


def make_policy(name: str, **params: Any) -> Any:
    """Instantiate a registered policy by id.

    Raises:
        RegistryError: if ``name`` is not registered.
    """
    policy_cls = policy_class(name)
    try:
        return policy_cls(**params)
    except TypeError as exc:
        raise RegistryError(f"bad parameters for policy {name!r}: {exc}",
                            f"check [policy.{name}] in the experiment file") from exc
