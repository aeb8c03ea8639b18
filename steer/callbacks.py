"""Lifecycle hooks of the closed loop, as stable-baselines3's callbacks.

:func:`steer.loop.run_episode` calls every :class:`LoopCallback` it is given
at fixed points of an episode, so resume, operator approval, live views and
batches hang here without edits to the loop body. Sinks stay the way to
receive records; callbacks are for acting on the loop.

Order within one decision: the policy proposes -> :meth:`LoopCallback.before_execute`
(may substitute a proposal, or skip the step) -> safety check -> execute ->
``policy.ingest`` -> records to the sinks -> :meth:`LoopCallback.on_decision`
per record -> :meth:`LoopCallback.stop_requested` and
:meth:`LoopCallback.pending_events` before the next decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steer.loop import EpisodeResult
    from steer.records import DecisionRecord
    from steer.types import Proposal

__all__ = ["LoopCallback", "CallbackList"]


class LoopCallback:
    """Base class: every hook does nothing. Override the ones you need.

    Attributes:
        decider: Who decided when :meth:`before_execute` substitutes a
            proposal (written as the record's ``decided_by``), e.g.
            ``"operator"``.
    """

    decider: str = "operator"

    def on_episode_start(self, env: Any, policy: Any, seed: int, run_id: str) -> None:
        """Called once, after ``env.reset`` and ``policy.reset``."""

    def before_execute(self, step: int, proposal: Proposal,
                       alternatives: Sequence[Proposal]) -> Proposal | None:
        """Called with the proposal about to be checked and executed.

        Args:
            step: The decision's step.
            proposal: What the policy (or an earlier callback) proposes.
            alternatives: The other proposals of this step, best first.

        Returns:
            ``proposal`` to go ahead, another :class:`~steer.types.Proposal`
            to execute instead (still safety-checked; recorded as decided by
            :attr:`decider`), or ``None`` to skip this step (the loop waits
            as when every proposal is refused).
        """
        return proposal

    def on_decision(self, record: DecisionRecord) -> None:
        """Called with every record, after every sink has written it."""

    def stop_requested(self) -> bool:
        """Polled before each decision; ``True`` ends the episode there."""
        return False

    def pending_events(self) -> list[dict[str, Any]]:
        """Polled before each decision: what arrived from outside since the last poll
        (targets of opportunity, :mod:`steer.too`)."""
        return []

    def on_episode_end(self, result: EpisodeResult) -> None:
        """Called once, with the episode's result (metrics included)."""


class CallbackList(LoopCallback):
    """Several callbacks called in order; substitutions chain, any stop request stops."""

    def __init__(self, callbacks: Sequence[LoopCallback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_episode_start(self, env: Any, policy: Any, seed: int, run_id: str) -> None:
        for cb in self.callbacks:
            cb.on_episode_start(env, policy, seed, run_id)

    def before_execute_by(self, step: int, proposal: Proposal,
                          alternatives: Sequence[Proposal]) -> tuple[Proposal | None, str]:
        """Chain :meth:`LoopCallback.before_execute`; return the outcome and who decided it."""
        decided_by = "policy"
        current: Proposal | None = proposal
        for cb in self.callbacks:
            out = cb.before_execute(step, current, alternatives)
            if out is None:
                return None, cb.decider
            if out is not current:
                decided_by = cb.decider
            current = out
        return current, decided_by

    def on_decision(self, record: DecisionRecord) -> None:
        for cb in self.callbacks:
            cb.on_decision(record)

    def stop_requested(self) -> bool:
        return any(cb.stop_requested() for cb in self.callbacks)

    def pending_events(self) -> list[dict[str, Any]]:
        return [event for cb in self.callbacks for event in cb.pending_events()]

    def on_episode_end(self, result: EpisodeResult) -> None:
        for cb in self.callbacks:
            cb.on_episode_end(result)
