"""The loop hooks shared by the environments whose action is a point of a box.

Every registered steer environment's unwrapped form offers the small
:class:`steer.protocols.ClosedLoopEnv` protocol, so the loop drives a night
of target selection, an autofocus run and a black-box optimisation the same
way, without knowing which it has. :class:`PointEnvHooks` implements it for
the environments whose action is a :class:`PointAction` of a box
(``steer/BlackBox-v0``, ``steer/Autofocus-v0`` and the INDI autofocus).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from steer.envs.context import BoxContext
from steer.envs.point_view import PointPresenter
from steer.errors import UnsafeActionError
from steer.presenter import Presenter

__all__ = ["PointAction", "PointEnvHooks"]

@dataclass(frozen=True)
class PointAction:
    """A point of a continuous action space: the action type of the box environments.

    Attributes:
        x_unit: Coordinates in the unit box `[0, 1]^d`.
        x: The same point in the env's action-space units (what ``env.step`` takes).
    """

    x_unit: tuple[float, ...]
    x: tuple[float, ...]

    def as_array(self) -> np.ndarray:
        """The action for ``env.step`` (`d`-dim float64 array)."""
        return np.asarray(self.x, float)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"x_unit": list(self.x_unit), "x": list(self.x)}


class PointEnvHooks:
    """The loop hooks of an environment whose action is a point of a box.

    The class using it provides ``_obs()``, ``_info()``, :meth:`progress_fraction`,
    ``episode_metrics()`` and the class attributes :attr:`observation_names`
    (one name per observation entry) and :attr:`objective_name` (the ``info``
    key of the measured value the episode minimises; ``info["history"]`` has
    the same key).
    """

    presenter: ClassVar[Presenter] = PointPresenter()
    observation_names: ClassVar[tuple[str, ...]] = ()
    objective_name: ClassVar[str] = ""

    def policy_context(self) -> BoxContext:
        """The box's bounds and the observation's names (:class:`BoxContext`)."""
        space = self.action_space  # type: ignore[attr-defined]
        return BoxContext(kind=self.presenter.kind, action_space=space,
                          observation_space=self.observation_space,  # type: ignore
                          low=np.asarray(space.low, float), high=np.asarray(space.high, float),
                          observation_names=tuple(self.observation_names),
                          objective_name=self.objective_name)

    def action_from_dict(self, data: dict[str, Any]) -> PointAction:
        """The action a journal record holds (to honour a journaled operator decision)."""
        return PointAction(tuple(data["x_unit"]), tuple(data["x"]))

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
