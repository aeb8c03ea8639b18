"""``steer/CandidatePool-v0``: choose the next of a large fixed pool of candidates.

The discrete counterpart of ``steer/BlackBox-v0``, shaped like a catalog: a
fixed pool of ``N`` candidates (a seeded scrambled Sobol set in the unit box,
fixed by ``pool_seed`` like a catalog is), each with its own cost (seconds:
slew plus exposure, or a sample's preparation) and a fixed feasibility (a
target that never rises, a sample out of stock). Measuring candidate ``i``
returns a standard test function (Branin, Hartmann6, Ackley; BoTorch's
implementations) at its coordinates plus Gaussian noise. It is the ground on
which the catalog-scale engine (:mod:`steer.policies.engine`, policy
``bo-pool``) is measured at ``N`` = 10^3 to 10^6.

* Action: ``Discrete(N)``, the candidate's index.
* Observation: ``[best_value, last_value, evaluations_used]`` (a ``Box``).
* Reward: ``-measured value``.
* ``info``: ``action_mask`` (feasible candidates), ``candidate_cost_s`` (each
  candidate's cost), the history (``index``, ``value``), ``elapsed_s`` and the
  true ``simple_regret`` = ``min_i f(x_i) - min_feasible f`` over the pool.

Unsafe actions (an index outside the pool, an infeasible candidate, a spent
budget) raise :class:`steer.errors.UnsafeActionError` in :meth:`check_action`
before anything is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.blackbox import FUNCTIONS, BlackBoxEnv, _make_function, unit_to_bounds
from steer.envs.context import PoolContext
from steer.envs.hooks import PointEnvHooks
from steer.envs.point_view import PoolPresenter
from steer.errors import ConfigError, UnsafeActionError

__all__ = ["CandidatePoolEnv", "PoolAction"]

_VALUE_MAX = 1e9
_NATURAL_DIM = {"branin": 2, "hartmann6": 6, "ackley": 2}


@dataclass(frozen=True)
class PoolAction:
    """One candidate of a fixed pool: the action type of ``steer/CandidatePool-v0``.

    Attributes:
        index: Row of the candidate in the pool (what ``env.step`` takes).
        x_unit: Its coordinates in the unit box.
    """

    index: int
    x_unit: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"index": self.index, "x_unit": list(self.x_unit)}


def _check(name: str, value: Any, low: float, hint: str, integer: bool = False) -> None:
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or (
        integer and not float(value).is_integer()) or not np.isfinite(value) or value < low
    if bad:
        raise ConfigError(f"{name} = {value!r} must be {'an integer' if integer else 'a number'}"
                          f" >= {low}", hint)


class CandidatePoolEnv(PointEnvHooks, gym.Env):
    """Minimise a noisy test function over a fixed pool of candidates.

    Args:
        function: ``"branin"``, ``"hartmann6"`` or ``"ackley"``.
        dim: Dimension (Ackley only; the others have their own).
        pool_size: Number of candidates ``N``.
        pool_seed: Seed of the pool, costs and feasibility (the "catalog").
        noise_std: Gaussian measurement noise, in the function's units.
        budget: Measurements per episode.
        cost_per_eval_s: Mean cost of a measurement (seconds).
        cost_spread: Costs are ``cost_per_eval_s * (1 + cost_spread * (u - 0.5))``
            with ``u`` uniform in [0, 1) per candidate (0: all equal; < 2).
        infeasible_fraction: Fraction of candidates that may never be measured.

    Raises:
        ConfigError: for an unknown function or an out-of-range setting.
    """

    metadata = {"render_modes": []}
    presenter = PoolPresenter()
    observation_names = ("best_value", "last_value", "evaluations_used")
    objective_name = "value"

    def __init__(self, function: str = "hartmann6", dim: int | None = None,
                 pool_size: int = 10_000, pool_seed: int = 0, noise_std: float = 0.0,
                 budget: int = 50, cost_per_eval_s: float = 1.0, cost_spread: float = 0.0,
                 infeasible_fraction: float = 0.0) -> None:
        name = str(function).lower()
        if name not in FUNCTIONS:
            raise ConfigError(f"function = {function!r} is not known",
                              f"use one of {', '.join(FUNCTIONS)}")
        _check("pool_size", pool_size, 2, "e.g. pool_size = 10000", integer=True)
        _check("pool_seed", pool_seed, 0, "e.g. pool_seed = 0", integer=True)
        _check("noise_std", noise_std, 0, "e.g. noise_std = 0.0")
        _check("budget", budget, 1, "e.g. budget = 50", integer=True)
        _check("cost_per_eval_s", cost_per_eval_s, 0, "e.g. cost_per_eval_s = 1.0")
        _check("cost_spread", cost_spread, 0, "a number in [0, 2), e.g. 1.0")
        _check("infeasible_fraction", infeasible_fraction, 0, "a number in [0, 1), e.g. 0.2")
        if cost_spread >= 2 or infeasible_fraction >= 1:
            raise ConfigError(f"cost_spread = {cost_spread} or infeasible_fraction = "
                              f"{infeasible_fraction} is too large",
                              "keep cost_spread < 2 and infeasible_fraction < 1")
        d = _NATURAL_DIM[name] if dim is None else int(dim)
        if name != "ackley" and d != _NATURAL_DIM[name]:
            raise ConfigError(f"dim = {dim} does not exist for {name}",
                              f"{name} is {_NATURAL_DIM[name]}-D: leave dim unset")
        import torch
        from torch.quasirandom import SobolEngine

        self.function_name, self.dim = name, d
        self.noise_std, self.budget = float(noise_std), int(budget)
        fn = _make_function(name, d)
        bounds = fn.bounds.numpy().astype(float)
        self.pool_unit = SobolEngine(d, scramble=True, seed=int(pool_seed)).draw(
            int(pool_size), dtype=torch.float64).numpy()
        with torch.no_grad():
            self.f_pool = fn.evaluate_true(
                torch.as_tensor(unit_to_bounds(self.pool_unit, bounds))).numpy()
        rng = np.random.default_rng(np.random.SeedSequence([int(pool_seed), 4242]))
        self.candidate_cost_s = float(cost_per_eval_s) * (
            1.0 + float(cost_spread) * (rng.random(int(pool_size)) - 0.5))
        self.feasible = rng.random(int(pool_size)) >= float(infeasible_fraction)
        if not self.feasible.any():
            self.feasible[int(np.argmin(self.f_pool))] = True
        self.optimal_value = float(self.f_pool[self.feasible].min())
        self.action_space = spaces.Discrete(int(pool_size))
        self.observation_space = spaces.Box(np.array([-_VALUE_MAX, -_VALUE_MAX, 0], np.float32),
                                            np.array([_VALUE_MAX, _VALUE_MAX, self.budget],
                                                     np.float32), dtype=np.float32)
        self._reset_state()

    def _reset_state(self) -> None:
        self.index: list[int] = []
        self.values: list[float] = []
        self.elapsed_s = 0.0

    _obs = BlackBoxEnv._obs  # the same observation: best, last, evaluations used

    def _info(self) -> dict[str, Any]:
        idx = np.asarray(self.index, int)
        regret = float(self.f_pool[idx].min() - self.optimal_value) if len(idx) else float("inf")
        # copies: Gymnasium's contract (the caller may keep or modify them); ~1 ms at 10^6
        return {"action_mask": self.feasible.copy(),
                "candidate_cost_s": self.candidate_cost_s.copy(),
                "history": {"index": idx, "value": np.asarray(self.values, float)},
                "evaluations": len(idx), "budget": self.budget, "elapsed_s": self.elapsed_s,
                "simple_regret": regret, "function": self.function_name}

    def policy_context(self) -> PoolContext:
        """The pool's coordinates and costs (:class:`PoolContext`)."""
        return PoolContext(kind=self.presenter.kind, action_space=self.action_space,
                           observation_space=self.observation_space, pool_unit=self.pool_unit,
                           cost_s=self.candidate_cost_s,
                           observation_names=tuple(self.observation_names),
                           objective_name=self.objective_name)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode (empty history; the pool stays). The seed fixes the noise."""
        super().reset(seed=seed)
        self._reset_state()
        return self._obs(), self._info()

    def action_from_dict(self, data: dict[str, Any]) -> PoolAction:
        """The action a journal record holds (to honour a journaled operator decision)."""
        return PoolAction(int(data["index"]), tuple(data["x_unit"]))

    def env_action(self, action: Any) -> int:
        """The candidate index of a ``PoolAction`` or an integer.

        Raises:
            UnsafeActionError: not an integer index.
        """
        value = getattr(action, "index", action)
        try:
            as_float = float(np.asarray(value).reshape(-1)[0]) if np.size(value) == 1 else None
        except (TypeError, ValueError):
            as_float = None
        if as_float is None or not as_float.is_integer():
            raise UnsafeActionError(f"action {action!r} is not a candidate index",
                                    "pass an integer index into the pool or a PoolAction")
        return int(as_float)

    def check_action(self, action: Any) -> int:
        """Validate a candidate index (no side effects) and return it.

        Raises:
            UnsafeActionError: outside the pool, infeasible, or the budget is spent.
        """
        i = self.env_action(action)
        if not 0 <= i < len(self.pool_unit):
            raise UnsafeActionError(f"candidate {i} is outside the pool of {len(self.pool_unit)}",
                                    f"use an index in [0, {len(self.pool_unit) - 1}]")
        if not self.feasible[i]:
            raise UnsafeActionError(f"candidate {i} is not feasible (info['action_mask'])",
                                    "choose among info['action_mask']")
        if len(self.values) >= self.budget:
            raise UnsafeActionError(f"the budget of {self.budget} measurements is spent",
                                    "call reset() to start a new episode")
        return i

    def step(self, action: Any):
        """Measure candidate ``action``."""
        i = self.check_action(action)
        noise = float(self.np_random.normal(0.0, self.noise_std)) if self.noise_std > 0 else 0.0
        value = float(self.f_pool[i]) + noise
        self.index.append(i)
        self.values.append(value)
        self.elapsed_s += float(self.candidate_cost_s[i])
        info = self._info()
        info.update({"value": value, "index": i, "cost_s": float(self.candidate_cost_s[i])})
        return self._obs(), float(-value), len(self.values) >= self.budget, False, info

    def progress_fraction(self) -> float:
        """Fraction of the measurement budget spent."""
        return min(1.0, len(self.values) / self.budget)

    def episode_metrics(self) -> dict[str, float]:
        """``evaluations``, ``elapsed_s``, ``best_value`` and the true ``simple_regret``."""
        info = self._info()
        return {"evaluations": float(info["evaluations"]), "elapsed_s": float(self.elapsed_s),
                "best_value": float(min(self.values)) if self.values else float("nan"),
                "simple_regret": float(info["simple_regret"])}
