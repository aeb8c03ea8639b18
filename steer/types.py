"""Plain data types the loop shares with every environment and policy.

Action and measurement types are not here: each environment (or the
instrument family it drives) defines its own, with a ``to_dict()`` for the
decision record (:mod:`steer.instruments.telescope` for target selection,
:mod:`steer.envs.hooks` and :mod:`steer.envs.pool` for points and pools).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Proposal", "PolicyContext", "SafetyVerdict", "DecisionStatus"]


@dataclass(frozen=True)
class Proposal:
    """A policy's suggestion, with the explanation of why.

    Attributes:
        action: The proposed action, of the environment's own action type
            (anything with a ``to_dict()`` method).
        score: The policy's score for it (acquisition value, utility...).
        explanation: Why: posterior mean/std, runner-up candidates, fit and
            scoring times, model hyperparameters. JSON-serialisable values.
    """

    action: Any
    score: float
    explanation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"action": self.action.to_dict(), "score": self.score,
                "explanation": self.explanation}


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may know about an episode, handed to ``policy.reset``.

    The environment builds it (``policy_context()``) after ``reset``; each
    kind of environment subclasses it with what its policies may use (the
    catalog, the exposure set, the cost model, site and almanac, the history,
    the limits...), documented field by field. A policy never reaches into
    the environment itself.

    Attributes:
        kind: The environment's action kind (its presenter's ``kind``).
        action_space: The environment's Gymnasium action space.
        observation_space: The environment's Gymnasium observation space.
    """

    kind: str
    action_space: Any
    observation_space: Any


@dataclass(frozen=True)
class SafetyVerdict:
    """The outcome of checking an action against the instrument's limits."""

    allowed: bool
    reason: str = ""


class DecisionStatus(enum.StrEnum):
    """Lifecycle of a decision (as Ax's trial status).

    ``ok``: executed and measured; ``rejected``: refused by the safety check,
    never sent; ``failed``: sent but the instrument failed; ``retried``: a
    failed attempt that was sent again; ``skipped``: a loop callback (an
    operator) chose not to execute the proposal, nothing was sent.
    """

    OK = "ok"
    REJECTED = "rejected"
    FAILED = "failed"
    RETRIED = "retried"
    SKIPPED = "skipped"
