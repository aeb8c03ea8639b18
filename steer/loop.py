"""The closed loop: the only module that knows policies, instruments, envs and sinks.

One step::

    policy.suggest -> callbacks.before_execute -> env.check_action (refused:
    record REJECTED, nothing sent, try the next proposal) -> env.step
    (executes on the instrument) -> policy.ingest -> record to every sink ->
    callbacks.on_decision

The environment is reached through the small protocol of its unwrapped form,
:class:`steer.protocols.ClosedLoopEnv`, and described by its presenter
(:class:`steer.presenter.Presenter`): whether one ``suggest`` gives ranked
alternatives, how long to wait when nothing can be done. So a night of target
selection, an autofocus run and a black-box optimisation go through the same
code, and a new environment needs no edit here. Lifecycle hooks
(:mod:`steer.callbacks`) are called at episode start, before a proposal is
executed, after each decision, when a stop is requested and at episode end.

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

from steer.callbacks import CallbackList, LoopCallback
from steer.errors import InstrumentError, ResumeMismatchError, UnsafeActionError
from steer.protocols import RecordSink
from steer.records import DecisionRecord
from steer.too import apply_events
from steer.types import DecisionStatus, PolicyContext, Proposal

__all__ = ["EpisodeResult", "run_episode", "start_policy"]

log = logging.getLogger(__name__)


@dataclass
class EpisodeResult:
    """What one closed-loop episode produced.

    Attributes:
        records: Every decision record, in order.
        metrics: The environment's episode metrics plus compute metrics.
        decision_ms: Milliseconds spent in ``policy.suggest`` per decision.
        wall_s: Wall-clock seconds of the whole episode.
        stopped: ``True`` when the episode ended early: a callback asked, or
            the instrument kept failing beyond the failure budget.
        stop_reason: Why it stopped early, in words (empty otherwise).
    """

    records: list[DecisionRecord] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    decision_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    stopped: bool = False
    stop_reason: str = ""


def _as_dict(measurement: Any) -> dict[str, Any] | None:
    """A measurement as a JSON-able dict (anything with ``to_dict()``, or a mapping)."""
    if measurement is None:
        return None
    return measurement.to_dict() if hasattr(measurement, "to_dict") else dict(measurement)


def start_policy(policy: Any, env: Any, seed: int) -> None:
    """Prepare ``policy`` for a new episode of ``env`` (already reset) with ``seed``.

    The policy receives the environment's documented context
    (``env.unwrapped.policy_context()``), never the environment itself; an
    environment that offers none (not a steer env) gives a bare
    :class:`~steer.types.PolicyContext` of its spaces, which a policy refuses
    with a one-line error if it needs more. The one place that does this, so
    callers outside the loop (``steer suggest``, ``steer plan``) start a policy
    exactly as the loop does.
    """
    base = env.unwrapped
    make_context = getattr(base, "policy_context", None)
    context = make_context() if callable(make_context) else PolicyContext(
        kind="generic", action_space=env.action_space, observation_space=env.observation_space)
    policy.reset(context, seed)


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
    callbacks: Sequence[LoopCallback] = (),
    resume: Sequence[DecisionRecord] = (),
    recorded: Sequence[DecisionRecord] = (),
    failure_budget_s: float = 0.0,
    reset_options: dict[str, Any] | None = None,
) -> EpisodeResult:
    """Run one closed-loop episode (a night, a focus run, a budget) and record every decision.

    Args:
        env: A steer gymnasium environment whose unwrapped form offers
            :class:`steer.protocols.ClosedLoopEnv`.
        policy: An ask/tell policy.
        seed: Episode seed, passed to ``env.reset`` and ``policy.reset``.
        sinks: Record sinks, journal first.
        run_id: Identifier written into every record.
        max_decisions: Stop after this many decisions (0: no limit).
        max_rejections_per_step: Refused proposals tolerated before idling
            (or, for an env that cannot wait, ending the episode).
        max_retries: Re-sends of an action whose execution failed; after the
            last one the policy is told it was never measured.
        progress: Called with the fraction of the episode done.
        callbacks: Lifecycle hooks (:class:`steer.callbacks.LoopCallback`).
        resume: The journaled records of an interrupted run of this episode
            (same configuration and seed). The loop replays them first: the
            policy proposes as it did, every decision is checked against its
            record (:class:`~steer.errors.ResumeMismatchError` if it differs),
            measurements come from the journal (the env's optional
            ``resume_step(action, recorded_measurement)``; an env without it
            is re-simulated, which only a deterministic simulator may be) and
            failed attempts are not re-sent. Replayed records are not written
            to the sinks again; from the first decision the journal lacks, the
            night goes on as usual.
        failure_budget_s: Wall seconds the instrument may keep failing, every
            attempt of consecutive decisions, before the episode stops (it is
            resumable; 0: never). A server that is down is waited for this
            long.
        recorded: The records of a logged run being replayed (``steer
            replay``): re-simulated, but what was not the policy's to decide
            is taken from them (see ``resume``, which honours the same).
        reset_options: Passed to ``env.reset(options=...)`` (a campaign's
            ``{"night": k, "nights": N}``).

    Both ``resume`` and ``recorded`` honour what the policy did not decide:
    a journaled operator or fallback decision is executed again as journaled
    (``env.action_from_dict``) without asking the callbacks, and journaled
    targets of opportunity join at the decision they joined at.

    Returns:
        The :class:`EpisodeResult`.
    """
    base = env.unwrapped
    presenter = base.presenter
    hooks = CallbackList(callbacks)
    t_episode = time.perf_counter()
    observation, info = env.reset(seed=seed, options=reset_options)
    start_policy(policy, env, seed)
    hooks.on_episode_start(env, policy, seed, run_id)
    result = EpisodeResult()
    step = 0
    done = False
    journal = list(resume)
    script = journal or list(recorded)  # decisions to honour, by position
    script_events: dict[int, list[dict[str, Any]]] = {}
    for old_rec in script:
        for ev in old_rec.events or []:
            script_events.setdefault(int(ev["step"]), []).append(ev)
    applied_ids = {ev.get("id") for evs in script_events.values() for ev in evs}
    unjournaled: list[dict[str, Any]] = []  # applied events the next record carries
    resume_step = getattr(base, "resume_step", None)

    def replaying() -> bool:
        return len(result.records) < len(journal)

    def scripted(prop: Proposal) -> tuple[Proposal | None, str] | None:
        """The journaled outcome of this proposal when a resume or replay must honour it."""
        if len(result.records) >= len(script):
            return None
        old = script[len(result.records)]
        if old.decided_by == "policy":
            return prop, "policy"
        if old.status == DecisionStatus.SKIPPED:
            return None, old.decided_by
        make = getattr(base, "action_from_dict", None)
        if not callable(make):
            raise ResumeMismatchError(
                f"decision {len(result.records)} was made by the {old.decided_by} and "
                f"{type(base).__name__} cannot rebuild its action",
                "give the environment an action_from_dict method")
        p = old.proposal
        return Proposal(make(p["action"]), float(p.get("score") or 0.0),
                        dict(p.get("explanation") or {})), old.decided_by

    def take_events() -> None:
        """Targets of opportunity: the journal's at their step, else what arrived."""
        nonlocal observation, info

        def mjd() -> float:
            return float(base.record_summary(observation, info).get("mjd", np.nan))

        if step in script_events:
            apply_events(base, policy, script_events.pop(step), step, mjd(), recorded=True)
            changed = True
        else:
            new = [ev for ev in hooks.pending_events() if ev.get("id") not in applied_ids]
            if replaying() or not new:
                return
            done_ = apply_events(base, policy, new, step, mjd())
            applied_ids.update(ev.get("id") for ev in new)
            for ev in done_:
                if "refused" in ev:
                    log.warning("step %d: target of opportunity %s refused: %s", step,
                                ev.get("id"), ev["refused"])
            unjournaled.extend(done_)
            changed = any("row" in ev for ev in done_)
        if changed and callable(getattr(base, "observe", None)):
            observation, info = base.observe()

    def record(status: DecisionStatus, proposal: Proposal, verdict: dict[str, Any],
               measurement: Any, reward: float, timings: dict[str, float],
               attempt: int, obs_summary: dict[str, Any], decided_by: str,
               failure: str | None = None) -> None:
        if replaying():  # the journal has it: check, keep the original, write nothing
            old = journal[len(result.records)]
            rec = DecisionRecord(
                run_id=run_id, step=step, attempt=attempt, status=status.value,
                seed=int(seed), policy=policy.name, policy_version=str(policy.version),
                sim_mjd=float("nan"), wall_time_unix=0.0, observation={},
                proposal=proposal.to_dict(), safety=verdict, measurement=None, reward=0.0,
                decided_by=decided_by)
            if rec.decision_key != old.decision_key:
                raise ResumeMismatchError(
                    f"resumed decision {len(result.records)} (step {step}) differs from the "
                    f"journal: {rec.decision_key[1:]} against {old.decision_key[1:]}",
                    "resume with the configuration, seed and steer version the run started "
                    "with")
            result.records.append(old)
            hooks.on_decision(old)
            return
        rec = DecisionRecord(
            run_id=run_id, step=step, attempt=attempt, status=status.value, seed=int(seed),
            policy=policy.name, policy_version=str(policy.version),
            sim_mjd=float(obs_summary.get("mjd", np.nan)), wall_time_unix=time.time(),
            observation=obs_summary, proposal=proposal.to_dict(), safety=verdict,
            measurement=_as_dict(measurement), reward=float(reward), timings_s=timings,
            decided_by=decided_by, failure=failure, events=list(unjournaled) or None)
        unjournaled.clear()
        result.records.append(rec)
        for sink in sinks:
            sink.write(rec)
        hooks.on_decision(rec)

    def execute(action_arr: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """``env.step``, or while resuming, the journaled outcome of this attempt."""
        if not replaying():
            return env.step(action_arr)
        old = journal[len(result.records)]
        if old.status in (DecisionStatus.FAILED, DecisionStatus.RETRIED):
            raise InstrumentError(old.failure or "failed (journaled)")  # not sent again
        if callable(resume_step):
            return resume_step(action_arr, old.measurement)
        return env.step(action_arr)  # a deterministic simulator: re-simulated

    def wait(seconds: float | None, why: str) -> bool:
        """Let time pass if the env can wait; ``False`` ends the episode."""
        nonlocal observation, info, done
        if seconds is None:
            log.warning("step %d: %s and %s cannot wait: episode ended", step, why,
                        type(base).__name__)
            return False
        observation, info = base.idle(float(seconds))
        done = base.is_over()
        return True

    warned: dict[str, int] = {}
    failing_since: float | None = None  # wall time of the first of consecutive lost decisions

    def warn_failure(step_: int, attempt_: int, exc: Exception) -> None:
        """Log the first failures of each kind; then only every 20th (a person reads this)."""
        kind = type(exc).__name__
        warned[kind] = warned.get(kind, 0) + 1
        n = warned[kind]
        if n <= 3 or n % 20 == 0:
            more = f" ({n} {kind} so far)" if n > 3 else ""
            log.warning("step %d attempt %d failed: %s%s", step_, attempt_, exc, more)

    while not done:
        if max_decisions and step >= max_decisions:
            break
        if hooks.stop_requested():
            result.stopped = True
            break
        take_events()
        step_started_unix = time.time()
        obs_summary = base.record_summary(observation, info)
        chosen: Proposal | None = None
        decided_by = "policy"
        skipped = False
        attempt, suggest_s = 0, 0.0
        while chosen is None and attempt < max_rejections_per_step and not skipped:
            t0 = time.perf_counter()
            proposals = policy.suggest(observation, info,
                                       n=max_rejections_per_step if presenter.ranked else 1)
            t_suggest = time.perf_counter() - t0
            suggest_s += t_suggest
            for k, prop in enumerate(proposals):
                t1 = time.perf_counter()
                honoured = scripted(prop)
                if honoured is not None:
                    prop_out, who = honoured
                else:
                    prop_out, who = hooks.before_execute_by(step, prop, proposals[k + 1:])
                    if who == "policy" and prop_out is not None:  # e.g. a fallback decided
                        who = str((prop_out.explanation or {}).get("decided_by", who))
                if prop_out is None:
                    record(DecisionStatus.SKIPPED, prop, {"allowed": False, "reason": "skipped"},
                           None, 0.0, {"suggest": t_suggest}, attempt, obs_summary, who)
                    policy.ingest(prop.action, None, 0.0)
                    skipped = True
                    break
                try:
                    action_arr = base.env_action(prop_out.action)
                    base.check_action(action_arr)
                except UnsafeActionError as exc:
                    record(DecisionStatus.REJECTED, prop_out,
                           {"allowed": False, "reason": str(exc)}, None, 0.0,
                           {"suggest": t_suggest, "check": time.perf_counter() - t1},
                           attempt, obs_summary, who)
                    policy.ingest(prop_out.action, None, 0.0)
                    attempt += 1
                    continue
                chosen, decided_by, t_check = prop_out, who, time.perf_counter() - t1
                break
            if presenter.ranked or not proposals:
                break  # a ranked list is asked for once per step
        result.decision_ms.append(1000.0 * suggest_s)
        if chosen is None:
            why = "the proposal was skipped" if skipped else "every proposal was refused"
            if not wait(presenter.idle_s, why):
                break
            step += 1
            continue
        verdict = {"allowed": True, "reason": ""}
        for retry in range(max_retries + 1):
            t2 = time.perf_counter()
            try:
                observation, reward, terminated, truncated, info = execute(action_arr)
            except InstrumentError as exc:
                status = DecisionStatus.FAILED if retry == max_retries else DecisionStatus.RETRIED
                record(status, chosen, {"allowed": True, "reason": ""}, None, 0.0,
                       {"suggest": t_suggest, "check": t_check,
                        "execute": time.perf_counter() - t2}, retry, obs_summary, decided_by,
                       failure=str(exc))
                warn_failure(step, retry, exc)
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
                   obs_summary, decided_by)
            done = bool(terminated or truncated)
            failing_since = None
            break
        else:
            policy.ingest(chosen.action, None, 0.0)  # never measured: not pending any more
            failing_since = failing_since or step_started_unix
            failing_s = time.time() - failing_since
            if failure_budget_s and failing_s > failure_budget_s and not replaying():
                result.stopped = True
                result.stop_reason = (
                    f"the instrument has failed every attempt for {failing_s:.0f} s (failure "
                    f"budget {failure_budget_s:g} s, [loop] failure_budget_s); the night "
                    f"stopped after step {step}")
                log.error("step %d: %s", step, result.stop_reason)
                step += 1  # the lost decision counts
                break
            if not wait(presenter.retry_idle_s, f"the action failed {max_retries + 1} times"):
                break
        step += 1
        if progress is not None:
            progress(base.progress_fraction())
    t_metrics = time.perf_counter()
    metrics = base.episode_metrics()
    metrics["metrics_s"] = time.perf_counter() - t_metrics
    result.wall_s = time.perf_counter() - t_episode  # the end-of-episode scoring included
    ms = np.asarray(result.decision_ms) if result.decision_ms else np.zeros(1)
    failed_steps = {r.step for r in result.records if r.status == DecisionStatus.FAILED}
    metrics.update({"decision_ms_p50": float(np.percentile(ms, 50)),
                    "decision_ms_p95": float(np.percentile(ms, 95)),
                    "wall_s": float(result.wall_s), "decisions": float(step),
                    "failed_decisions": float(len(failed_steps))})
    result.metrics = metrics
    hooks.on_episode_end(result)
    return result
