"""What the closed loop (:mod:`steer.loop`) asks of a steer environment.

Every registered steer environment's unwrapped form offers the small
:class:`ClosedLoopEnv` protocol, so the loop drives a night of target
selection, an autofocus run and a black-box optimisation the same way,
without knowing which it has. :class:`PointEnvHooks` implements the parts
shared by the environments whose action is a point of a box
(``steer/BlackBox-v0``, ``steer/Autofocus-v0`` and the INDI autofocus).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from steer.errors import UnsafeActionError

__all__ = ["ClosedLoopEnv", "PointEnvHooks", "ACTION_KINDS"]

#: ``catalog``: actions are :class:`steer.types.Action` (a target and an exposure)
#: and one ``suggest(n)`` returns ``n`` ranked alternatives; ``point``: actions are
#: points of a box and one ``suggest`` call is asked for one point (``n > 1``
#: would be a batch to evaluate together, not alternatives); ``pool``: actions are
#: indices into a fixed candidate pool and, like ``catalog``, one ``suggest(n)``
#: returns ``n`` ranked alternatives.
ACTION_KINDS: tuple[str, ...] = ("catalog", "point", "pool")


@runtime_checkable
class ClosedLoopEnv(Protocol):
    """The hooks of an environment's unwrapped form that the loop calls.

    Attributes:
        action_kind: One of :data:`ACTION_KINDS`; decides which policies fit
            (catalog policies for ``catalog``) and how the loop asks for
            alternatives.
        can_idle: Whether letting time pass can change anything (a night
            does; a black box does not wait). When every proposal of a step is
            refused, or an action fails after its retries, the loop idles if it
            can, else ends the episode.
    """

    action_kind: str
    can_idle: bool

    def env_action(self, action: Any) -> np.ndarray:
        """Translate a policy's action into what ``env.step`` takes.

        Raises:
            UnsafeActionError: the action cannot be expressed for this env.
        """
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


class PointEnvHooks:
    """The loop hooks of an environment whose action is a point of a box.

    The class using it provides ``_obs()``, ``_info()``, :meth:`progress_fraction`,
    ``episode_metrics()`` and the class attributes :attr:`observation_names`
    (one name per observation entry) and :attr:`objective_name` (the ``info``
    key of the measured value the episode minimises; ``info["history"]`` has
    the same key).
    """

    action_kind: ClassVar[str] = "point"
    can_idle: ClassVar[bool] = False
    observation_names: ClassVar[tuple[str, ...]] = ()
    objective_name: ClassVar[str] = ""

    def env_action(self, action: Any) -> np.ndarray:
        """The action as a float64 array (a ``PointAction`` gives its ``as_array()``).

        Raises:
            UnsafeActionError: not numbers.
        """
        as_array = getattr(action, "as_array", None)
        try:
            return np.asarray(as_array() if callable(as_array) else action, dtype=float)
        except (TypeError, ValueError) as exc:
            raise UnsafeActionError(f"action {action!r} is not a point of the box",
                                    "pass numbers in [0, 1] or a PointAction") from exc

    def idle(self, seconds: float) -> tuple[Any, dict[str, Any]]:
        """Nothing to wait for: return the current observation and info unchanged."""
        return self._obs(), self._info()  # type: ignore[attr-defined]

    def progress_fraction(self) -> float:
        """Fraction of the budget spent."""
        raise NotImplementedError

    def is_over(self) -> bool:
        """Whether the budget is spent."""
        return self.progress_fraction() >= 1.0

    def record_summary(self, observation: Any, info: dict[str, Any]) -> dict[str, Any]:
        """The named observation entries plus ``elapsed_s`` (no clock: no ``mjd``)."""
        out: dict[str, Any] = {"elapsed_s": float(info.get("elapsed_s", np.nan))}
        values = np.asarray(observation, float).reshape(-1)
        out.update({name: float(v) for name, v in
                    zip(self.observation_names, values, strict=False)})
        return out

    def measurement_of(self, info: dict[str, Any]) -> dict[str, Any] | None:
        """The scalar entries of a step's ``info`` (no history), plus the best so far.

        Keys starting with ``truth_`` are the simulator's truth: recorded for
        audit and plots, never read by policies.
        """
        name = self.objective_name
        if name not in info:
            return None
        out: dict[str, Any] = {"objective_name": name}
        for key, value in info.items():
            if isinstance(value, bool | int | float | str | np.number | np.bool_):
                out[key] = value.item() if isinstance(value, np.generic) else value
            elif isinstance(value, dict) and key != "history":
                out[key] = {str(k): float(v) for k, v in value.items()
                            if isinstance(v, int | float | np.number)}
        seen = np.asarray((info.get("history") or {}).get(name, []), float)
        if seen.size:
            out[f"best_{name}"] = float(np.nanmin(seen))
        return out
