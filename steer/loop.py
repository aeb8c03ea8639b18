"""The closed loop: the only module that knows policies, instruments, envs and sinks.

One step::

    policy.suggest -> env.check_action (refused: record REJECTED, nothing sent,
    try the next proposal) -> env.step (executes on the instrument) ->
    policy.ingest -> record to every sink

Records go to the sinks in order; the first sink is the fsync'd journal, so a
decision is on disk before anything else (MLflow, plotting) can fail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steer.errors import InstrumentError, UnsafeActionError
from steer.protocols import RecordSink
from steer.records import DecisionRecord
from steer.types import DecisionStatus, Measurement, Proposal

__all__ = ["EpisodeResult", "run_episode"]

log = logging.getLogger(__name__)


@dataclass
class EpisodeResult:
    """What one closed-loop episode produced.

    Attributes:
        records: Every decision record, in order.
        metrics: The environment's episode metrics plus compute metrics.
        decision_ms: Milliseconds spent in ``policy.suggest`` per decision.
        wall_s: Wall-clock seconds of the whole episode.
    """

    records: list[DecisionRecord] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    decision_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0


def _summary(observation: dict[str, np.ndarray], info: dict[str, Any]) -> dict[str, Any]:
    from steer.envs.target_selection import GLOBAL_FEATURES

    g = observation.get("globals")
    out: dict[str, Any] = {"mjd": float(info.get("mjd", np.nan)),
                           "n_feasible": int(np.sum(info.get("action_mask", [])))}
    if g is not None:
        out.update({name: float(v) for name, v in zip(GLOBAL_FEATURES, g, strict=False)})
    return out


def run_episode(
    env: Any,
    policy: Any,
    seed: int,
    sinks: Sequence[RecordSink],
    run_id: str,
    max_decisions: int = 0,
    max_rejections_per_step: int = 3,
    max_retries: int = 2,
    progress: Callable[[float], None] | None = None,
) -> EpisodeResult:
    """Run one closed-loop episode (one night) and record every decision.

    Args:
        env: A steer gymnasium environment (``check_action``, ``idle``,
            ``episode_metrics`` on its unwrapped form).
        policy: An ask/tell policy.
        seed: Episode seed, passed to ``env.reset`` and ``policy.reset``.
        sinks: Record sinks, journal first.
        run_id: Identifier written into every record.
        max_decisions: Stop after this many executed decisions (0: no limit).
        max_rejections_per_step: Refused proposals tolerated before idling.
        max_retries: Re-sends of an action whose execution failed.
        progress: Called with the fraction of the episode done.

    Returns:
        The :class:`EpisodeResult`.
    """
    base = env.unwrapped
    t_episode = time.perf_counter()
    observation, info = env.reset(seed=seed)
    policy.reset(env, seed)
    result = EpisodeResult()
    step = 0
    done = False
    cumulative = 0.0

    def emit(rec: DecisionRecord) -> None:
        result.records.append(rec)
        for sink in sinks:
            sink.write(rec)

    def record(status: DecisionStatus, proposal: Proposal, verdict: dict[str, Any],
               measurement: Measurement | None, reward: float, timings: dict[str, float],
               attempt: int, obs_summary: dict[str, Any]) -> None:
        emit(DecisionRecord(
            run_id=run_id, step=step, attempt=attempt, status=status.value, seed=int(seed),
            policy=policy.name, policy_version=str(policy.version),
            sim_mjd=float(obs_summary["mjd"]), wall_time_unix=time.time(),
            observation=obs_summary, proposal=proposal.to_dict(), safety=verdict,
            measurement=measurement.to_dict() if measurement is not None else None,
            reward=float(reward), timings_s=timings))

    while not done:
        if max_decisions and step >= max_decisions:
            break
        obs_summary = _summary(observation, info)
        t0 = time.perf_counter()
        proposals = policy.suggest(observation, info, n=max_rejections_per_step)
        t_suggest = time.perf_counter() - t0
        result.decision_ms.append(1000.0 * t_suggest)
        chosen: Proposal | None = None
        for attempt, prop in enumerate(proposals):
            t1 = time.perf_counter()
            try:
                base.check_action(prop.action)
            except UnsafeActionError as exc:
                verdict = {"allowed": False, "reason": str(exc)}
                record(DecisionStatus.REJECTED, prop, verdict, None, 0.0,
                       {"suggest": t_suggest, "check": time.perf_counter() - t1}, attempt,
                       obs_summary)
                policy.ingest(prop.action, None, 0.0)
                continue
            chosen = prop
            t_check = time.perf_counter() - t1
            break
        if chosen is None:
            # nothing acceptable: let time pass rather than stop the night
            observation, info = base.idle(300.0)
            done = base.observatory.mjd >= base.end_mjd
            step += 1
            continue
        verdict = {"allowed": True, "reason": ""}
        action_arr = np.array([chosen.action.target_index,
                               base.exptimes_s.index(chosen.action.exptime_s)])
        for retry in range(max_retries + 1):
            t2 = time.perf_counter()
            try:
                observation, reward, terminated, truncated, info = env.step(action_arr)
            except InstrumentError as exc:
                status = DecisionStatus.FAILED if retry == max_retries else DecisionStatus.RETRIED
                record(status, chosen, {"allowed": True, "reason": f"failed: {exc}"}, None, 0.0,
                       {"suggest": t_suggest, "check": t_check,
                        "execute": time.perf_counter() - t2}, retry, obs_summary)
                log.warning("step %d attempt %d failed: %s", step, retry, exc)
                continue
            t_exec = time.perf_counter() - t2
            measurement = info.get("measurement")
            t3 = time.perf_counter()
            policy.ingest(chosen.action, measurement, reward)
            t_ingest = time.perf_counter() - t3
            cumulative += reward
            record(DecisionStatus.OK if "rejected" not in info else DecisionStatus.REJECTED,
                   chosen, verdict if "rejected" not in info
                   else {"allowed": False, "reason": info["rejected"]},
                   measurement, reward, {"suggest": t_suggest, "check": t_check,
                                         "execute": t_exec, "ingest": t_ingest}, retry,
                   obs_summary)
            done = bool(terminated or truncated)
            break
        else:
            observation, info = base.idle(60.0)
            done = base.observatory.mjd >= base.end_mjd
        step += 1
        if progress is not None:
            progress(base.night_fraction())
    result.wall_s = time.perf_counter() - t_episode
    t_metrics = time.perf_counter()
    metrics = base.episode_metrics()
    metrics["metrics_s"] = time.perf_counter() - t_metrics
    ms = np.asarray(result.decision_ms) if result.decision_ms else np.zeros(1)
    metrics.update({"decision_ms_p50": float(np.percentile(ms, 50)),
                    "decision_ms_p95": float(np.percentile(ms, 95)),
                    "wall_s": float(result.wall_s), "decisions": float(step)})
    result.metrics = metrics
    return result
