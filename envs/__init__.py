"""Gymnasium environments over simulated and real instruments.

Importing this package registers every steer environment with Gymnasium under
the ``steer/`` namespace, with lazily imported string entry points.
"""

from __future__ import annotations

import gymnasium

__all__ = ["ENV_IDS", "register_envs"]

ENV_IDS: dict[str, str] = {
    "steer/TargetSelection-v0": "steer.envs.target_selection:TargetSelectionEnv",
    "steer/BlackBox-v0": "steer.envs.blackbox:BlackBoxEnv",
    "steer/Autofocus-v0": "steer.envs.autofocus:AutofocusEnv",
    "steer/CandidatePool-v0": "steer.envs.pool:CandidatePoolEnv",
}


def register_envs() -> None:
    """Register every steer environment id with Gymnasium (idempotent)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point, disable_env_checker=True)


register_envs()
