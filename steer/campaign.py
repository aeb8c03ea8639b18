"""Multi-night campaigns: ``N`` consecutive nights of one seed, one policy.

A campaign plays the nights in order on one environment and one policy. The
environment carries the sky from night to night (its ``reset(options={"night":
k, "nights": N})``): the same catalog and hidden truth, each night's own date,
weather and noise, and every earlier visit in the public history. The policy
is reset each night with that history in its context, so what it learned from
the measurements (e.g. ``bo``'s light-curve posteriors) comes with it; what it
learned from frames that came back empty does not. After
the last night the environment judges the whole campaign against the truth
(its ``campaign_metrics()``).

Each night is journaled and logged as a run of its own, a child of the
campaign's MLflow run, which holds the per-night metrics (``night.<metric>``,
step = night) and the campaign's. The core knows no environment: one that offers no
``campaign_metrics`` plays single episodes only.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from steer.config import ExperimentConfig
from steer.errors import ConfigError
from steer.session import PlayResult, build_policy, make_env, play

__all__ = ["CampaignResult", "check_nights", "play_campaign", "night_options", "replay_night",
           "campaign_summary_metrics", "run_name", "night_tags", "open_run"]


def check_nights(config: ExperimentConfig, nights: int | None) -> int:
    """The campaign length to run: ``--nights``, else ``[campaign] nights``, else 1.

    Raises:
        ConfigError: fewer than one night, or an environment without campaigns.
    """
    from steer.session import env_class

    n = config.nights if nights is None else nights
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--nights {n!r} must be a whole number >= 1", "e.g. --nights 30")
    if n > 1 and not callable(getattr(env_class(config.env_id), "campaign_metrics", None)):
        raise ConfigError(f"{config.env_id} plays single episodes, not {n}-night campaigns",
                          "drop --nights (and [campaign] nights)")
    return n


def night_options(night: int, nights: int) -> dict[str, int] | None:
    """The environment's reset options for a campaign's night (``None``: a single night)."""
    return None if nights == 1 else {"night": int(night), "nights": int(nights)}


def run_name(policy: str, seed: int, nights: int, night: int | None = None) -> str:
    """MLflow run names: ``bo-seed0`` (a night), ``bo-seed0-30nights``, ``bo-seed0-night4``."""
    if nights == 1:
        return f"{policy}-seed{seed}"
    return f"{policy}-seed{seed}-{nights}nights" if night is None else \
        f"{policy}-seed{seed}-night{night}"


def night_tags(policy: str, seed: int, nights: int, night: int | None = None,
               parent_run_id: str | None = None) -> dict[str, str]:
    """Tags of a campaign's run (``night`` ``None``) or of one of its nights."""
    tags = {"steer.policy": policy, "steer.seed": str(seed)}
    if nights > 1:
        tags["steer.nights"] = str(nights)
        if night is not None:
            tags["steer.night"] = str(night)
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
    return tags


def open_run(tracking_uri: str, config: ExperimentConfig, policy: str, seed: int, nights: int,
             night: int | None = None, parent_run_id: str | None = None) -> Any:
    """The MLflow run of a night or (``night`` ``None``, ``nights`` > 1) of a campaign.

    A single night (``nights`` 1) is the plain ``policy-seedS`` run; a campaign's
    run is tagged ``steer.kind = campaign``; its nights are its children.
    """
    from steer.session import presenter_for, run_params
    from steer.tracking import MLflowSink

    params = run_params(config, policy, seed)
    tags = night_tags(policy, seed, nights, night, parent_run_id)
    if nights > 1:
        params["nights"] = nights
        if night is None:
            tags["steer.kind"] = "campaign"
        else:
            params["night"] = night
    return MLflowSink(tracking_uri, config.name, run_name(policy, seed, nights, night), params,
                      tags=tags, presenter=presenter_for(config.env_id))


@dataclass
class CampaignResult:
    """A played campaign.

    Attributes:
        nights: Each night's :class:`~steer.session.PlayResult`, in order.
        metrics: The environment's campaign metrics plus the compute metrics
            of all nights (:func:`campaign_summary_metrics`).
        stopped: A night was stopped before its end (the campaign with it).
    """

    nights: list[PlayResult] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    stopped: bool = False


def campaign_summary_metrics(nights: Sequence[PlayResult]) -> dict[str, float]:
    """Decision latency over every decision of the campaign, wall time and decisions summed."""
    ms = np.array([m for n in nights for m in n.episode.decision_ms] or [0.0])
    eps = [n.episode.metrics for n in nights]
    return {"decision_ms_p50": float(np.percentile(ms, 50)),
            "decision_ms_p95": float(np.percentile(ms, 95)),
            "wall_s": float(sum(m.get("wall_s", 0.0) for m in eps)),
            "decisions": float(sum(m.get("decisions", 0.0) for m in eps)),
            "failed_decisions": float(sum(m.get("failed_decisions", 0.0) for m in eps))}


def play_campaign(config: ExperimentConfig, policy_name: str, seed: int, nights: int,
                  journal_dir: Path,
                  start: Callable[[int], tuple[str, list[Any]]] | None = None,
                  finished: Callable[[int, PlayResult], None] | None = None,
                  callbacks: Sequence[Any] = (),
                  progress: Callable[[float], None] | None = None, env: Any = None,
                  policy: Any = None) -> CampaignResult:
    """Play the ``nights`` of one campaign in order, each journaled first.

    Args:
        config: The experiment.
        policy_name: Registered policy id.
        seed: The campaign's seed (one sky for every night).
        nights: How many nights (> 1).
        journal_dir: Folder of the nights' journals.
        start: Called before night ``k``; returns its run id and the sinks
            after its journal (e.g. a live MLflow sink). ``None``: fresh ids.
        finished: Called after night ``k`` with its result (log it there).
        callbacks: Loop lifecycle hooks, for every night.
        progress: Called with the fraction of the campaign done.
        env: The environment, built (built here if ``None``); closed at the end.
        policy: The policy, built (built here if ``None``).

    Returns:
        The :class:`CampaignResult`; a stopped night ends the campaign there.
    """
    env = env if env is not None else make_env(config)
    try:
        policy = policy if policy is not None else build_policy(config, policy_name)
        out = CampaignResult()
        for k in range(nights):
            run_id, sinks = start(k) if start is not None else (None, [])
            night_progress = None if progress is None else (
                lambda f, k=k: progress((k + f) / nights))
            result = play(config, policy_name, seed, journal_dir, extra_sinks=sinks,
                          run_id=run_id, progress=night_progress, env=env, policy=policy,
                          callbacks=callbacks, reset_options=night_options(k, nights),
                          keep_env=True)
            out.nights.append(result)
            if finished is not None:
                finished(k, result)
            if result.episode.stopped:
                out.stopped = True
                break
        out.metrics = {**env.unwrapped.campaign_metrics(), **campaign_summary_metrics(out.nights)}
    finally:
        env.close()
    return out


def replay_night(config: ExperimentConfig, policy_name: str, seed: int, night: int,
                 nights: int, journal_dir: Path, recorded: Sequence[Any] = ()) -> PlayResult:
    """Re-run a campaign up to its night ``night`` and return that night (``steer replay``).

    The earlier nights are played again (seeded, so the same decisions) because
    they make the history that night starts from; ``recorded`` (the logged
    night's records) is honoured on the replayed night.
    """
    env = make_env(config)
    try:
        policy = build_policy(config, policy_name)
        for k in range(night + 1):
            result = play(config, policy_name, seed, journal_dir, env=env, policy=policy,
                          reset_options=night_options(k, nights), keep_env=True,
                          recorded=recorded if k == night else ())
    finally:
        env.close()
    return result


def write_campaign_json(path: Path, config: ExperimentConfig, policy: str, seed: int,
                        metrics: dict[str, float], per_night: Sequence[dict[str, float]],
                        run_ids: Sequence[str], stopped: bool) -> Path:
    """The campaign's numbers as JSON: the whole campaign, then night by night."""
    from steer.records import json_safe

    doc = {"experiment": config.name, "policy": policy, "seed": seed, "nights": len(per_night),
           "campaign": metrics, "stopped": stopped,
           "per_night": [{"night": k, "run_id": rid, **m}
                         for k, (rid, m) in enumerate(zip(run_ids, per_night, strict=False))]}
    path.write_text(json.dumps(json_safe(doc), indent=1), encoding="utf-8")
    return path


def run_campaign(config: ExperimentConfig, policy_name: str, seed: int, nights: int,
                 runs_dir: Path, tracking_uri: str, callbacks: Sequence[Any] = (),
                 progress: Callable[[float], None] | None = None,
                 announce: Callable[[int, str, Path], None] | None = None,
                 env: Any = None, policy: Any = None
                 ) -> tuple[CampaignResult, str, list[str]]:
    """``steer run --nights N``: a campaign logged live to MLflow, a child run per night.

    ``env`` and ``policy``, when given, are the ones built to check the settings.

    Returns:
        The result, the campaign's MLflow run id and the nights' run ids.
    """
    from steer.session import log_to_mlflow

    journal_dir = runs_dir / "journals"
    journal_dir.mkdir(parents=True, exist_ok=True)
    parent = open_run(tracking_uri, config, policy_name, seed, nights)
    sinks: dict[int, Any] = {}
    run_ids: list[str] = []

    def start(k: int) -> tuple[str, list[Any]]:
        sinks[k] = open_run(tracking_uri, config, policy_name, seed, nights, k, parent.run_id)
        run_ids.append(sinks[k].run_id)
        if announce is not None:
            announce(k, sinks[k].run_id, journal_dir / f"{sinks[k].run_id}.jsonl")
        return sinks[k].run_id, [sinks[k]]

    def finished(k: int, night: PlayResult) -> None:
        ep = night.episode
        log_to_mlflow(tracking_uri, config, policy_name, seed, ep.records, ep.metrics,
                      night.journal_path, sink=sinks[k], extras=night.extras)
        parent.log_step_metrics({f"night.{m}": v for m, v in ep.metrics.items()}, step=k)

    try:
        result = play_campaign(config, policy_name, seed, nights, journal_dir, start=start,
                               finished=finished, callbacks=callbacks, progress=progress,
                               env=env, policy=policy)
        with tempfile.TemporaryDirectory(prefix="steer-campaign-") as tmp:
            path = write_campaign_json(Path(tmp) / "campaign.json", config, policy_name, seed,
                                       result.metrics,
                                       [n.episode.metrics for n in result.nights], run_ids,
                                       result.stopped)
            cfg = Path(tmp) / "config.toml"
            cfg.write_text(config.source_text, encoding="utf-8")
            parent.finish(result.metrics, artifacts={"campaign.json": path, "config.toml": cfg},
                          status="KILLED" if result.stopped else "FINISHED")
    finally:
        for sink in [*sinks.values(), parent]:
            sink.close()  # FAILED if it never finished
    return result, parent.run_id, run_ids
