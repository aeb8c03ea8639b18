"""Experiment settings: dataclasses with a docstring per field, loaded from TOML.

An experiment file (``experiments/*.toml``) describes one scenario::

    [experiment]
    name = "demo"
    env = "steer/TargetSelection-v0"
    policy = "bo"
    seed = 0

    [env]            # keyword arguments of the environment
    preset = "small-robotic"
    night_date = "2026-03-20"
    n_targets = 150

    [policy.bo]      # keyword arguments per policy id
    refit_every = 25

    [loop]           # the closed loop's limits (all optional)
    max_decisions = 0
    max_rejections_per_step = 3
    max_retries = 2

    [campaign]       # optional: consecutive nights per run (--nights overrides)
    nights = 30
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steer.errors import ConfigError

__all__ = ["ExperimentConfig", "load_experiment"]

_KNOWN_SECTIONS = {"experiment", "env", "policy", "loop", "campaign"}
_EXPERIMENT_KEYS = ("name", "env", "policy", "seed")
_LOOP_KEYS = {"max_decisions": 0, "max_rejections_per_step": 3, "max_retries": 2}
_LOOP_MIN = {"max_decisions": 0, "max_rejections_per_step": 1, "max_retries": 0}


@dataclass(frozen=True)
class ExperimentConfig:
    """One scenario, as read from an experiment file.

    Attributes:
        name: Experiment name; also the MLflow experiment name.
        env_id: Registered environment id, e.g. ``steer/TargetSelection-v0``
            (``module:Id`` imports ``module`` first, which registers ``Id``).
        policy: Default policy id when the CLI does not name one (``""``: the
            CLI must name one).
        seed: Default episode seed.
        env_kwargs: Keyword arguments passed to the environment constructor.
        policy_kwargs: Keyword arguments per policy id.
        max_decisions: Safety stop on decisions per episode (0 = until the
            episode ends).
        max_rejections_per_step: How many refused proposals the loop tolerates
            for one step before it waits and moves on.
        max_retries: How many times the loop re-sends an action whose
            execution failed (instrument fault, timeout) before it records the
            step as failed.
        suggest_timeout_s: Seconds one ``suggest`` may take before the
            fallback policy decides instead (0: no limit;
            :class:`steer.fallback.TimedPolicy`).
        fallback_policy: The policy that decides when the budget is missed.
        failure_budget_s: Wall seconds the instrument may keep failing (every
            attempt of consecutive decisions) before the night stops, lost
            decisions counted and resumable (0: never stop).
        nights: Consecutive nights a run plays (``[campaign] nights``; 1: one
            night), with the history and the policy's learned state carried.
        source_text: The file's text, logged with every run for replay.
        source_path: Where the file was read from.
    """

    name: str
    env_id: str = ""
    policy: str = ""
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_decisions: int = 0
    max_rejections_per_step: int = 3
    max_retries: int = 2
    suggest_timeout_s: float = 0.0
    fallback_policy: str = ""
    failure_budget_s: float = 600.0
    nights: int = 1
    source_text: str = ""
    source_path: str = ""

    def policy_params(self, policy: str) -> dict[str, Any]:
        """Return the keyword arguments for ``policy`` (empty if none given)."""
        return dict(self.policy_kwargs.get(policy, {}))


def _expect(value: Any, kind: type | tuple[type, ...], where: str, path: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(
            f"{path}: {where} = {value!r} is not a {names}",
            f"set {where} to a {names} in the experiment file",
        )
    return value


def parse_experiment(text: str, path: str = "<string>") -> ExperimentConfig:
    """Parse the text of an experiment file.

    Raises:
        ConfigError: on malformed TOML, unknown sections or keys, a
            ``[policy.NAME]`` section for a policy that does not exist, or
            wrongly typed values. (Keys of ``[env]`` and ``[policy.NAME]`` are
            checked against the classes by
            :func:`steer.session.validate_experiment`.)
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the line named above") from exc
    unknown = set(data) - _KNOWN_SECTIONS
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {sorted(unknown)}",
            f"use only {sorted(_KNOWN_SECTIONS)}",
        )
    exp = _expect(data.get("experiment", {}), dict, "[experiment]", path)
    unknown_keys = sorted(set(exp) - set(_EXPERIMENT_KEYS))
    if unknown_keys:
        raise ConfigError(f"{path}: unknown [experiment] setting {unknown_keys[0]!r}",
                          f"valid settings: {', '.join(_EXPERIMENT_KEYS)}")
    name = _expect(exp.get("name", Path(path).stem), str, "experiment.name", path)
    env_id = _expect(exp.get("env", ""), str, "experiment.env", path)
    policy = _expect(exp.get("policy", ""), str, "experiment.policy", path)
    seed = _expect(exp.get("seed", 0), int, "experiment.seed", path)
    if seed < 0:
        raise ConfigError(f"{path}: experiment.seed = {seed} is negative", "use a seed >= 0")
    env_kwargs = _expect(data.get("env", {}), dict, "[env]", path)
    policies = _expect(data.get("policy", {}), dict, "[policy]", path)
    from steer.policies import POLICIES

    for pname, params in policies.items():
        if pname not in POLICIES:
            raise ConfigError(f"{path}: section [policy.{pname}] names no registered policy",
                              f"policies: {', '.join(POLICIES)}")
        _expect(params, dict, f"[policy.{pname}]", path)
    loop = _parse_loop(_expect(data.get("loop", {}), dict, "[loop]", path), path)
    campaign = _expect(data.get("campaign", {}), dict, "[campaign]", path)
    if set(campaign) - {"nights"}:
        raise ConfigError(f"{path}: unknown [campaign] setting "
                          f"{sorted(set(campaign) - {'nights'})[0]!r}", "valid settings: nights")
    nights = _expect(campaign.get("nights", 1), int, "campaign.nights", path)
    if nights < 1:
        raise ConfigError(f"{path}: campaign.nights = {nights} is below 1",
                          "set it to the number of consecutive nights, e.g. nights = 30")
    if not env_id:
        raise ConfigError(f"{path}: [experiment] names no environment",
                          'set env = "steer/TargetSelection-v0" (or another registered id)')
    return ExperimentConfig(
        name=name, env_id=env_id, policy=policy, seed=seed, env_kwargs=dict(env_kwargs),
        policy_kwargs={k: dict(v) for k, v in policies.items()}, **loop, nights=nights,
        source_text=text, source_path=path,
    )


def _parse_loop(loop: dict[str, Any], path: str) -> dict[str, Any]:
    """Validate the ``[loop]`` section: known keys, integers, not below their minimum."""
    other = ("suggest_timeout_s", "fallback_policy", "failure_budget_s")
    unknown = sorted(set(loop) - set(_LOOP_KEYS) - set(other))
    if unknown:
        raise ConfigError(f"{path}: unknown [loop] setting(s) {unknown}",
                          f"use only {sorted([*_LOOP_KEYS, *other])}")
    out: dict[str, Any] = {}
    timeout = _expect(loop.get("suggest_timeout_s", 0.0), (int, float), "loop.suggest_timeout_s",
                      path)
    fallback = _expect(loop.get("fallback_policy", ""), str, "loop.fallback_policy", path)
    if timeout < 0 or (timeout > 0) != bool(fallback):
        raise ConfigError(f"{path}: loop.suggest_timeout_s = {timeout!r} with fallback_policy "
                          f"= {fallback!r}", "set both (a positive timeout and a policy) or "
                          "neither")
    budget = _expect(loop.get("failure_budget_s", 600.0), (int, float), "loop.failure_budget_s",
                     path)
    if not budget >= 0:
        raise ConfigError(f"{path}: loop.failure_budget_s = {budget!r} is negative",
                          "set it to seconds >= 0 (0: never stop for a failing instrument)")
    out.update(suggest_timeout_s=float(timeout), fallback_policy=fallback,
               failure_budget_s=float(budget))
    for key, default in _LOOP_KEYS.items():
        value = _expect(loop.get(key, default), int, f"loop.{key}", path)
        if value < _LOOP_MIN[key]:
            raise ConfigError(f"{path}: loop.{key} = {value} is below {_LOOP_MIN[key]}",
                              f"set loop.{key} to an integer >= {_LOOP_MIN[key]}")
        out[key] = value
    return out


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an experiment file.

    Raises:
        ConfigError: if the file is missing, unreadable or malformed.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"experiment file {str(p)!r} does not exist",
            "pass a path such as experiments/demo.toml",
        )
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment file {str(p)!r}: {exc}") from exc
    return parse_experiment(text, str(p))
