"""Run one configured episode: build env and policy, journal it, log it to MLflow.

This is the glue between the small core (:mod:`steer.loop`) and the edges
(MLflow in :mod:`steer.tracking`, Ray in :mod:`steer.runner`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steer.config import ExperimentConfig
from steer.errors import ConfigError, RegistryError, SteerError
from steer.loop import EpisodeResult, run_episode
from steer.records import DecisionRecord, Journal

__all__ = ["make_env", "play", "log_to_mlflow", "PlayResult", "run_params", "set_threads",
           "check_policy_fits"]

log = logging.getLogger(__name__)


def set_threads(n: int = 1) -> None:
    """Pin torch to ``n`` threads (2 cores: oversubscription costs 10x)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # torch is only needed by the BoTorch policies
        pass


def make_env(config: ExperimentConfig) -> Any:
    """Build the experiment's environment by id.

    Raises:
        RegistryError: unknown environment id.
        ConfigError: environment arguments it does not accept.
    """
    import gymnasium

    import steer.envs  # noqa: F401  (registers the ids)

    if config.env_id not in gymnasium.registry:
        known = sorted(k for k in gymnasium.registry if k.startswith("steer/"))
        raise RegistryError(f"unknown environment {config.env_id!r}",
                            f"set experiment.env to one of {', '.join(known)}")
    try:
        return gymnasium.make(config.env_id, **config.env_kwargs)
    except TypeError as exc:
        raise ConfigError(f"{config.source_path}: bad [env] setting: {exc}",
                          "check the names in the [env] section") from exc


def _action_kind(env_id: str) -> str | None:
    """The ``action_kind`` of a registered env's class, read without building it."""
    import gymnasium
    from gymnasium.envs.registration import load_env_creator

    import steer.envs  # noqa: F401  (registers the ids)

    spec = gymnasium.registry.get(env_id)
    if spec is None or not isinstance(spec.entry_point, str):
        return None
    return getattr(load_env_creator(spec.entry_point), "action_kind", None)


def check_policy_fits(config: ExperimentConfig, policy: str) -> None:
    """Refuse a catalog policy on a continuous env, or a continuous policy on a catalog env.

    Raises:
        ConfigError: the policy cannot act on the experiment's environment.
    """
    from steer.policies import POLICIES, POLICY_KINDS

    kind = _action_kind(config.env_id)
    if kind is None or policy not in POLICIES:
        return  # unknown ids are reported by make_env / make_policy
    fits = [p for p in POLICIES if POLICY_KINDS.get(p) == kind]
    if policy not in fits:
        acts = {"catalog": "catalog targets", "point": "points of a box",
                "pool": "indices into a candidate pool"}
        what = acts.get(POLICY_KINDS.get(policy, ""), "other actions")
        raise ConfigError(f"policy {policy!r} proposes {what}, but {config.env_id} takes "
                          f"{acts.get(kind, kind)}", f"use one of {', '.join(fits)}")


def run_params(config: ExperimentConfig, policy: str, seed: int) -> dict[str, Any]:
    """The parameters logged with every run (enough to replay it)."""
    return {"experiment": config.name, "env_id": config.env_id, "policy": policy, "seed": seed,
            "env": config.env_kwargs, "policy_params": config.policy_params(policy),
            "max_decisions": config.max_decisions, "max_retries": config.max_retries,
            "config_path": config.source_path}


@dataclass
class PlayResult:
    """One episode's outcome plus where it was journaled."""

    episode: EpisodeResult
    journal_path: Path
    local_id: str


def play(config: ExperimentConfig, policy_name: str, seed: int, journal_dir: Path,
         extra_sinks: list[Any] | None = None, run_id: str | None = None,
         progress: Callable[[float], None] | None = None, env: Any = None) -> PlayResult:
    """Run one closed-loop episode, journaling every decision first.

    Args:
        config: The experiment.
        policy_name: Registered policy id.
        seed: Episode seed.
        journal_dir: Folder for the decision journal.
        extra_sinks: Sinks after the journal (e.g. a live MLflow sink).
        run_id: Identifier to write into records (a fresh one if ``None``).
        progress: Called with the fraction of the episode done.

    Raises:
        ConfigError: the policy does not fit the environment, or bad settings.
        env: A prebuilt environment for ``config`` (built here if ``None``).
    """
    from steer.policies import make_policy

    try:
        check_policy_fits(config, policy_name)
        policy = make_policy(policy_name, **config.policy_params(policy_name))
    except SteerError:
        if env is not None:
            env.close()
        raise
    env = env if env is not None else make_env(config)
    local_id = run_id or uuid.uuid4().hex
    journal_path = Path(journal_dir) / f"{local_id}.jsonl"
    journal = Journal(journal_path)
    sinks = [journal, *(extra_sinks or [])]
    try:
        episode = run_episode(env, policy, seed, sinks, local_id,
                              max_decisions=config.max_decisions,
                              max_rejections_per_step=config.max_rejections_per_step,
                              max_retries=config.max_retries, progress=progress)
    finally:
        journal.close()
        env.close()
    return PlayResult(episode, journal_path, local_id)


def log_to_mlflow(tracking_uri: str, config: ExperimentConfig, policy: str, seed: int,
                  records: list[DecisionRecord], metrics: dict[str, float],
                  journal_path: Path, sink: Any = None) -> str:
    """Log a finished episode to MLflow (summary, config, journal, table, plots).

    Args:
        sink: An already-open :class:`steer.tracking.MLflowSink` that saw the
            records live; ``None`` opens one and writes the records now.

    Returns:
        The MLflow run id.
    """
    from steer.plots import run_figures
    from steer.tracking import MLflowSink

    if sink is None:
        sink = MLflowSink(tracking_uri, config.name, f"{policy}-seed{seed}",
                          run_params(config, policy, seed),
                          tags={"steer.policy": policy, "steer.seed": str(seed)})
        for rec in records:
            sink.write(rec)
    config_file = journal_path.with_suffix(".config.toml")
    config_file.write_text(config.source_text, encoding="utf-8")
    try:
        figures = run_figures(records, title=f"{config.name}: {policy}, seed {seed}")
        sink.finish(metrics, artifacts={"config.toml": config_file,
                                        "decisions.jsonl": journal_path},
                    figures=figures, records=records)
    except SteerError:
        sink.close()
        raise
    return sink.run_id
