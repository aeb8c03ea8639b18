"""Small runtime-checkable contracts for instruments, policies, environments and sinks.

Simulated devices satisfy the same contract as real ones (as ophyd-async's
``sim/`` devices do), so the loop never knows which it drives. Action and
measurement types belong to the environment (or instrument family) that
defines them; here they are ``Any`` with a ``to_dict()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from steer.types import PolicyContext, Proposal

if TYPE_CHECKING:
    from steer.presenter import Presenter

__all__ = ["Instrument", "Policy", "RecordSink", "ClosedLoopEnv"]


@runtime_checkable
class Instrument(Protocol):
    """An instrument that can be asked to observe one thing at a time."""

    def describe(self) -> dict[str, Any]:
        """Return what the instrument can do: limits, presets, units."""
        ...

    def check(self, action: Any) -> None:
        """Raise :class:`steer.errors.UnsafeActionError` if ``action`` is unsafe.

        Must not move or command anything.
        """
        ...

    def execute(self, action: Any) -> Any:
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
        drives: The environment kinds (presenter ``kind``) the policy can act on.
    """

    name: str
    version: str
    drives: ClassVar[tuple[str, ...]]

    def reset(self, context: PolicyContext, seed: int) -> None:
        """Prepare for a new episode described by ``context``, with an explicit seed."""
        ...

    def suggest(self, observation: Any, info: dict[str, Any], n: int = 1) -> list[Proposal]:
        """Return up to ``n`` proposals, best first, each with its explanation."""
        ...

    def ingest(self, action: Any, measurement: Any, reward: float) -> None:
        """Tell the policy what came back (``None`` for a refused or failed action)."""
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


@runtime_checkable
class ClosedLoopEnv(Protocol):
    """What the loop (:mod:`steer.loop`) asks of an environment's unwrapped form.

    Attributes:
        presenter: How the environment describes itself
            (:class:`steer.presenter.Presenter`): its action kind, whether one
            ``suggest`` gives ranked alternatives, how long to wait when
            nothing can be done, its tables, metrics and figures.

    Optional: ``episode_extras() -> dict`` (JSON-able), called once after the
    episode; what it returns is logged as ``extras.json`` for reports (e.g. the
    hidden truth of the most observed targets, in simulation).
    """

    presenter: ClassVar[Presenter]

    def policy_context(self) -> PolicyContext:
        """What a policy may know about the episode just reset."""
        ...

    def env_action(self, action: Any) -> Any:
        """Translate a policy's action into what ``env.step`` takes.

        Raises:
            UnsafeActionError: the action cannot be expressed for this env.
        """
        ...

    def action_from_dict(self, data: dict[str, Any]) -> Any:
        """The policy action a journal record's ``proposal["action"]`` holds (the
        inverse of ``action.to_dict()``): resume and replay execute a journaled
        operator or fallback decision again through it."""
        ...

    def check_action(self, action: Any) -> Any:
        """Raise :class:`~steer.errors.UnsafeActionError` if the (translated) action
        would violate a limit. Must not move or command anything."""
        ...

    def idle(self, seconds: float) -> tuple[Any, dict[str, Any]]:
        """Let ``seconds`` pass without acting; return the new observation and info."""
        ...

    def is_over(self) -> bool:
        """Whether the episode (night, budget) is over."""
        ...

    def progress_fraction(self) -> float:
        """Fraction of the episode done, 0 at the start, 1 at the end."""
        ...

    def record_summary(self, observation: Any, info: dict[str, Any]) -> dict[str, Any]:
        """What goes into a decision record's ``observation`` field.

        Always has ``elapsed_s`` (instrument seconds since the episode
        started); ``mjd`` when the environment has a clock.
        """
        ...

    def measurement_of(self, info: dict[str, Any]) -> Any:
        """What was measured by the step that returned ``info`` (``None``: nothing)."""
        ...

    def episode_metrics(self) -> dict[str, float]:
        """Summary metrics of the episode so far."""
        ...
