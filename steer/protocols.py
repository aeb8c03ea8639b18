"""Small runtime-checkable contracts for instruments, policies and sinks.

Simulated devices satisfy the same contract as real ones (as ophyd-async's
``sim/`` devices do), so the loop never knows which it drives.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from steer.types import Action, Measurement, Proposal

__all__ = ["Instrument", "Policy", "RecordSink"]


@runtime_checkable
class Instrument(Protocol):
    """An instrument that can be asked to observe one thing at a time."""

    def describe(self) -> dict[str, Any]:
        """Return what the instrument can do: limits, presets, units."""
        ...

    def check(self, action: Action) -> None:
        """Raise :class:`steer.errors.UnsafeActionError` if ``action`` is unsafe.

        Must not move or command anything.
        """
        ...

    def execute(self, action: Action) -> Measurement:
        """Carry out a checked action and return what was measured."""
        ...

    def close(self) -> None:
        """Release the instrument (park, disconnect)."""
        ...


@runtime_checkable
class Policy(Protocol):
    """Ask/tell decision maker.

    Attributes:
        name: Registry id of the policy.
        version: Version string recorded with every decision.
    """

    name: str
    version: str

    def reset(self, env: Any, seed: int) -> None:
        """Prepare for a new episode on ``env`` with an explicit seed."""
        ...

    def suggest(self, observation: Any, info: dict[str, Any], n: int = 1) -> list[Proposal]:
        """Return up to ``n`` proposals, best first, each with its explanation."""
        ...

    def ingest(self, action: Action, measurement: Measurement | None, reward: float) -> None:
        """Tell the policy what came back (``None`` for a refused action)."""
        ...


@runtime_checkable
class RecordSink(Protocol):
    """Receives every decision record (journal, MLflow, ...)."""

    def write(self, record: Any) -> None:
        """Persist one record."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...
