"""The closed loop: the only module that knows policies, instruments, envs and sinks.

One step::

    policy.suggest -> env.check_action (refused: record REJECTED, nothing sent,
    try the next proposal) -> env.step (executes on the instrument) ->
    policy.ingest -> record to every sink

The environment is reached through the small protocol of its unwrapped form,
:class:`steer.envs.hooks.ClosedLoopEnv` (``env_action``, ``check_action``,
``idle``/``can_idle``, ``is_over``, ``progress_fraction``, ``record_summary``,
``measurement_of``, ``episode_metrics``), so a night of target selection, an
autofocus run and a black-box optimisation go through the same code. For a
``catalog`` env one ``suggest`` returns ranked alternatives; for a ``point``
env the policy is asked for one point at a time (``n > 1`` would be a batch).

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
from steer.types import DecisionStatus, Proposal

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


def _as_dict(measurement: Any) -> dict[str, Any] | None:
    """A measurement as a JSON-able dict (a :class:`Measurement` or a mapping)."""
    if measurement is None:
        return None
    return measurement.to_dict() if hasattr(measurement, "to_dict") else dict(measurement)


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
    """Run one closed-loop episode (a night, a focus run, a budget) and record every decision.

    Args:
        env: A steer gymnasium environment whose unwrapped form offers
            :class:`steer.envs.hooks.ClosedLoopEnv`.
        policy: An ask/tell policy.
        seed: Episode seed, passed to ``env.reset`` and ``policy.reset``.
        sinks: Record sinks, journal first.
        run_id: Identifier written into every record.
        max_decisions: Stop after this many executed decisions (0: no limit).
        max_rejections_per_step: Refused proposals tolerated before idling
            (or, for an env that cannot wait, ending the episode).
        max_retries: Re-sends of an action whose execution failed; after the
            last one the policy is told it was never measured.
        progress: Called with the fraction of the episode done.

    Returns:
        The :class:`EpisodeResult`.
    """
    base = env.unwrapped
    t_episode = time.perf_counter()
    observation, info = env.reset(seed=seed)
    policy.reset(env, seed)
    ranked = base.action_kind in ("catalog", "pool")  # one suggest gives alternatives
    result = EpisodeResult()
    step = 0
    done = False

    def record(status: DecisionStatus, proposal: Proposal, verdict: dict[str, Any],
               measurement: Any, reward: float, timings: dict[str, float],
               attempt: int, obs_summary: dict[str, Any]) -> None:
        rec = DecisionRecord(
            run_id=run_id, step=step, attempt=attempt, status=status.value, seed=int(seed),
            policy=policy.name, policy_version=str(policy.version),
            sim_mjd=float(obs_summary.get("mjd", np.nan)), wall_time_unix=time.time(),
            observation=obs_summary, proposal=proposal.to_dict(), safety=verdict,
            measurement=_as_dict(measurement), reward=float(reward), timings_s=timings)
        result.records.append(rec)
        for sink in sinks:
            sink.write(rec)

    while not done:
        if max_decisions and step >= max_decisions:
            break
        obs_summary = base.record_summary(observation, info)
        chosen: Proposal | None = None
        attempt, suggest_s = 0, 0.0
        while chosen is None and attempt < max_rejections_per_step:
            t0 = time.perf_counter()
            proposals = policy.suggest(observation, info,
                                       n=max_rejections_per_step if ranked else 1)
            t_suggest = time.perf_counter() - t0
            suggest_s += t_suggest
            for prop in proposals:
                t1 = time.perf_counter()
                try:
                    action_arr = base.env_action(prop.action)
                    base.check_action(action_arr)
                except UnsafeActionError as exc:
                    record(DecisionStatus.REJECTED, prop, {"allowed": False, "reason": str(exc)},
                           None, 0.0, {"suggest": t_suggest, "check": time.perf_counter() - t1},
                           attempt, obs_summary)
                    policy.ingest(prop.action, None, 0.0)
                    attempt += 1
                    continue
                chosen, t_check = prop, time.perf_counter() - t1
                break
            if ranked or not proposals:
                break  # a ranked list is asked for once per step
        result.decision_ms.append(1000.0 * suggest_s)
        if chosen is None:
            if not base.can_idle:
                log.warning("step %d: every proposal was refused and %s cannot wait: "
                            "episode ended", step, type(base).__name__)
                break
            # nothing acceptable: let time pass rather than stop the night
            observation, info = base.idle(300.0)
            done = base.is_over()
            step += 1
            continue
        verdict = {"allowed": True, "reason": ""}
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
            measurement = base.measurement_of(info)
            t3 = time.perf_counter()
            policy.ingest(chosen.action, measurement, reward)
            t_ingest = time.perf_counter() - t3
            refused = info.get("rejected")
            record(DecisionStatus.OK if refused is None else DecisionStatus.REJECTED, chosen,
                   verdict if refused is None else {"allowed": False, "reason": refused},
                   measurement, reward, {"suggest": t_suggest, "check": t_check,
                                         "execute": t_exec, "ingest": t_ingest}, retry,
                   obs_summary)
            done = bool(terminated or truncated)
            break
        else:
            policy.ingest(chosen.action, None, 0.0)  # never measured: not pending any more
            if not base.can_idle:
                log.warning("step %d failed %d times and %s cannot wait: episode ended",
                            step, max_retries + 1, type(base).__name__)
                break
            observation, info = base.idle(60.0)
            done = base.is_over()
        step += 1
        if progress is not None:
            progress(base.progress_fraction())
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
