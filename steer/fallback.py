"""A time budget on decisions: a policy whose ``suggest`` hangs gives way to a fallback.

:class:`TimedPolicy` runs the primary policy's ``suggest`` in a worker thread
and waits ``budget_s`` seconds. If it has not answered, that decision is the
fallback policy's (its proposals say ``decided_by = "fallback"`` and why, and
the loop records it so). The late answer is thrown away; until the stale
call returns, the primary is not asked again (it would run concurrently with
itself) and the measurements it misses are queued and handed to it, in
order, once it is free. The fallback sees every measurement.

Set in an experiment's ``[loop]``::

    suggest_timeout_s = 5.0      # 0: no limit
    fallback_policy = "feature"

A night in which the fallback decided is not decision-identical on replay
(the timeouts depend on the machine); every other night is.
"""

from __future__ import annotations

import threading
from typing import Any

from steer.types import PolicyContext, Proposal

__all__ = ["TimedPolicy"]


class TimedPolicy:
    """Wrap ``primary`` with a time budget per ``suggest`` and a ``fallback`` policy.

    Args:
        primary: The policy that normally decides.
        fallback: The policy used when the primary misses its budget.
        budget_s: Seconds one ``suggest`` may take.
    """

    def __init__(self, primary: Any, fallback: Any, budget_s: float) -> None:
        self.primary, self.fallback, self.budget_s = primary, fallback, float(budget_s)
        self.name = primary.name
        self.version = f"{primary.version}+fallback:{fallback.name}"
        self.drives = tuple(getattr(primary, "drives", ()))
        self._busy: threading.Thread | None = None
        self._queued: list[tuple[str, tuple[Any, ...]]] = []
        self.timeouts = 0

    def reset(self, context: PolicyContext, seed: int) -> None:
        """Reset both policies for the episode."""
        self.primary.reset(context, seed)
        self.fallback.reset(context, seed)
        self._busy, self._queued, self.timeouts = None, [], 0

    def _primary_free(self) -> bool:
        if self._busy is not None and self._busy.is_alive():
            return False
        self._busy = None
        for method, args in self._queued:  # what it missed while a late call ran, in order
            getattr(self.primary, method)(*args)
        self._queued = []
        return True

    def _fallback(self, observation: Any, info: dict[str, Any], n: int,
                  why: str) -> list[Proposal]:
        return [Proposal(p.action, p.score, {**p.explanation, "decided_by": "fallback",
                                             "reason": why, "fallback": self.fallback.name})
                for p in self.fallback.suggest(observation, info, n)]

    def suggest(self, observation: Any, info: dict[str, Any], n: int = 1) -> list[Proposal]:
        """The primary's proposals if it answers within the budget, else the fallback's."""
        if not self._primary_free():
            return self._fallback(observation, info, n,
                                  f"{self.primary.name} is still busy with a suggest that "
                                  f"exceeded {self.budget_s:g} s")
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["out"] = self.primary.suggest(observation, info, n)
            except BaseException as exc:  # handed back to the loop's thread
                box["error"] = exc

        thread = threading.Thread(target=work, name=f"suggest-{self.primary.name}", daemon=True)
        thread.start()
        thread.join(self.budget_s)
        if thread.is_alive():
            self._busy = thread
            self.timeouts += 1
            return self._fallback(observation, info, n,
                                  f"{self.primary.name} did not answer within "
                                  f"{self.budget_s:g} s")
        if "error" in box:
            raise box["error"]
        return box["out"]

    def ingest(self, action: Any, measurement: Any, reward: float) -> None:
        """Tell both policies; the primary later if a late call still runs."""
        self.fallback.ingest(action, measurement, reward)
        if self._primary_free():
            self.primary.ingest(action, measurement, reward)
        else:
            self._queued.append(("ingest", (action, measurement, reward)))

    def context_changed(self, context: PolicyContext) -> None:
        """A target of opportunity: tell both policies (the primary when it is free)."""
        if hasattr(self.fallback, "context_changed"):
            self.fallback.context_changed(context)
        if not hasattr(self.primary, "context_changed"):
            return
        if self._primary_free():
            self.primary.context_changed(context)
        else:
            self._queued.append(("context_changed", (context,)))
