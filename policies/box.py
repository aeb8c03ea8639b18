"""Shared machinery of the policies that propose a point of a box, and the Sobol baseline.

All of them **maximise the reward** passed to :meth:`ingest` (the envs
``steer/BlackBox-v0`` and ``steer/Autofocus-v0`` reward ``-measured value``).
Actions are :class:`~steer.envs.hooks.PointAction` (a point of the unit box,
mapped to the env's ``Box`` action space, read from the episode's
:class:`~steer.envs.context.BoxContext`). ``ingest(action, None, reward)``
means the action was refused: it is forgotten and nothing is learned.

Points returned by :meth:`suggest` are *pending* until ingested (exposures
still in flight, several instruments): ``bo-continuous`` conditions new
batches on them. Call :meth:`ContinuousPolicy.clear_pending` to drop points
that will never be measured.

* ``sobol``: a seeded scrambled Sobol sequence, nothing else (a baseline).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from steer.envs.context import BoxContext
from steer.envs.hooks import PointAction
from steer.errors import ConfigError
from steer.policies.base import BasePolicy
from steer.types import Proposal

__all__ = ["ContinuousPolicy", "SobolPolicy", "constraint_of", "PointAction"]

_MATCH_TOL = 1e-9  # an ingested point closer than this to a pending point completes it
_JITTER_VAR = 2e-6  # known noise variance floor, as a fraction of the rewards' variance


def _positive_int(name: str, value: Any, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ConfigError(f"{name} = {value!r} must be a positive integer", hint)
    return int(value)


class ContinuousPolicy(BasePolicy):
    """Shared machinery of the box policies: unit-box data, pending points, Sobol design.

    Subclasses implement ``_suggest_unit(n, info) -> (`n x d` points, explanations)``.
    """

    name = "continuous"
    drives = ("point",)

    def _reset(self) -> None:
        from gymnasium import spaces
        from torch.quasirandom import SobolEngine

        space = getattr(self.context, "action_space", None)
        if not isinstance(self.context, BoxContext) or not isinstance(space, spaces.Box) or len(space.shape) != 1 or not (
                np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ConfigError(f"policy {self.name!r} needs a 1-D bounded Box action space, "
                              f"got {space!r}",
                              "use it with steer/BlackBox-v0 or steer/Autofocus-v0")
        self.low = np.asarray(space.low, float)
        self.high = np.asarray(space.high, float)
        self.dim = int(space.shape[0])
        self.X: list[np.ndarray] = []
        self.Y: list[float] = []
        self.C: list[float] = []  # measured constraint values (NaN: none reported)
        self.pending: list[np.ndarray] = []
        self.sobol = SobolEngine(self.dim, scramble=True, seed=int(self.rng.integers(2**31)))
        self._reset_policy()

    def _reset_policy(self) -> None:
        """Hook: per-episode set-up of a subclass."""

    def _sobol(self, n: int) -> np.ndarray:
        return self.sobol.draw(n, dtype=_float64()).numpy()

    def _action(self, x_unit: np.ndarray) -> PointAction:
        x_unit = np.clip(np.asarray(x_unit, float), 0.0, 1.0)
        x = self.low + x_unit * (self.high - self.low)
        return PointAction(tuple(float(v) for v in x_unit), tuple(float(v) for v in x))

    def _to_unit(self, action: Any) -> np.ndarray:
        if isinstance(action, PointAction):
            return np.asarray(action.x_unit, float)
        x = np.asarray(action, float).reshape(-1)
        if x.shape != (self.dim,):
            raise ConfigError(f"action of shape {np.shape(action)} for a {self.dim}-D box",
                              "pass the PointAction that suggest() returned")
        return (x - self.low) / (self.high - self.low)

    def clear_pending(self) -> None:
        """Forget every suggested point that was not ingested (it will never be measured)."""
        self.pending = []

    def _suggest(self, observation: Any, info: dict[str, Any], n: int) -> list[Proposal]:
        n = _positive_int("n", n, "ask for at least one point")
        points, explanations, scores = self._suggest_unit(n, info)
        out = []
        for k, (x, why) in enumerate(zip(points, explanations, strict=True)):
            self.pending.append(np.clip(np.asarray(x, float), 0.0, 1.0))
            act = self._action(x)
            out.append(Proposal(act, float(scores[k]), {"rank": k, "x_unit": list(act.x_unit),
                                                        **why}))
        return out

    def _suggest_unit(self, n: int, info: dict[str, Any]
                      ) -> tuple[np.ndarray, list[dict[str, Any]], list[float]]:
        raise NotImplementedError

    def _ingest(self, action: Any, measurement: Any,
                reward: float) -> None:
        x = self._to_unit(action)
        for k, p in enumerate(self.pending):
            if np.max(np.abs(p - x)) <= _MATCH_TOL:
                del self.pending[k]
                break
        if measurement is None or not np.isfinite(reward):
            return  # refused or failed: nothing was measured
        self.X.append(np.clip(x, 0.0, 1.0))
        self.Y.append(float(reward))
        self.C.append(constraint_of(measurement))
        self._ingested()

    def _ingested(self) -> None:
        """Hook: a new observation arrived."""


def constraint_of(measurement: Any) -> float:
    """The outcome-constraint value a measurement reports (feasible if ``<= 0``), else NaN.

    Reads ``constraint_value`` from a mapping (the env's ``info``) or an
    object (a measurement record), looking inside ``info["measurement"]`` too.
    """
    if isinstance(measurement, Mapping):
        value = measurement.get("constraint_value")
        if value is None and measurement.get("measurement") is not None:
            return constraint_of(measurement["measurement"])
    else:
        value = getattr(measurement, "constraint_value", None)
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _float64() -> Any:
    import torch

    return torch.float64


class SobolPolicy(ContinuousPolicy):
    """A seeded scrambled Sobol sequence over the box (quasi-random search)."""

    name = "sobol"
    version = "1"

    def _suggest_unit(self, n, info):
        pts = self._sobol(n)
        return pts, [{"phase": "sobol", "acquisition": None}] * n, [0.0] * n


