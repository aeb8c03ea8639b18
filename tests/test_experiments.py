"""Every experiment file the project ships loads, builds its environment and its policies.

A README command names these files; a setting renamed in the code (or a typo in a
file nobody ran since) would otherwise surface only when a user runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from steer.config import load_experiment
from steer.policies import make_policy
from steer.session import make_env

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").rglob("*.toml"))


def test_the_project_ships_its_experiments():
    names = {p.relative_to(ROOT / "experiments").as_posix() for p in EXPERIMENTS}
    assert {"demo.toml", "campaign.toml", "campaign-fast-north.toml",
            "campaign-south-winter.toml", "rubin-like.toml", "indi-sim.toml",
            "alpaca-sim.toml"} <= names
    assert len([n for n in names if n.startswith("suite/")]) >= 8


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_shipped_experiment_builds_its_environment_and_policies(path: Path) -> None:
    config = load_experiment(path)
    env = make_env(config)  # checks [env] and [env.instrument_options]; connects to nothing
    try:
        for name in {config.policy, *config.policy_kwargs}:
            policy = make_policy(name, **config.policy_params(name))  # refuses unknown settings
            assert policy.name == name
    finally:
        env.close()
