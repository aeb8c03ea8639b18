"""``steer/BlackBox-v0``: an instrument whose response is a standard test function.

The standard ground for comparing optimisers. Each step the agent chooses a
point ``x`` in the unit box `[0, 1]^d`; the environment maps it to the test
function's bounds, "measures" ``f(x) + noise`` and charges a fixed cost per
evaluation. Test functions come from :mod:`botorch.test_functions`, in the
minimisation convention (``f*`` is the global minimum):

* ``branin``: Branin, 2-D, ``f* = 0.397887``;
* ``hartmann6``: Hartmann, 6-D, ``f* = -3.32237``;
* ``ackley``: Ackley, any dimension (``dim``), ``f* = 0``.

``f*`` is taken as the function at its known minimisers (BoTorch tabulates
it rounded, up to 2e-6 below the true minimum).

Observation (a ``Box``, float32, fixed size):
``[best_value, last_value, evaluations_used]``: the best and the last
*measured* (noisy) values so far (0 before the first evaluation) and the
number of evaluations spent.

Reward: ``-measured value`` (maximising reward minimises ``f``).

``info`` carries the raw history (``x_unit``, ``x``, ``value``), the cost of
the step and the time spent (``cost_s``, ``elapsed_s``), and the simple
regret: ``simple_regret = min_i f_true(x_i) - f*`` over every point evaluated
so far (the benchmark convention), and ``incumbent_regret``, the true regret
of the point with the best *measured* value (what a user would deploy). Both
are ``inf`` before the first evaluation.

An episode is a budget of ``budget`` evaluations; it terminates when the
budget is spent. All randomness (the noise) comes from ``reset(seed=)``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.hooks import PointEnvHooks
from steer.errors import ConfigError, UnsafeActionError

__all__ = ["BlackBoxEnv", "FUNCTIONS", "unit_to_bounds"]

FUNCTIONS: tuple[str, ...] = ("branin", "hartmann6", "ackley")
_NATURAL_DIM = {"branin": 2, "hartmann6": 6, "ackley": 2}
_VALUE_MAX = 1e9  # observation bound on values (finite, as Gymnasium asks; clipped)
_ACTION_TOL = 1e-9  # actions this far outside the unit box are clipped, further ones refused


def unit_to_bounds(x_unit: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Map points from the unit box to a box.

    Args:
        x_unit: `n x d` (or `d`) points in `[0, 1]^d`.
        bounds: `2 x d` array of lower and upper bounds.

    Returns:
        The points in the box, same shape as ``x_unit``.
    """
    return bounds[0] + np.asarray(x_unit, float) * (bounds[1] - bounds[0])


def _make_function(name: str, dim: int) -> Any:
    from botorch.test_functions import Ackley, Branin, Hartmann

    if name == "branin":
        return Branin()
    if name == "hartmann6":
        return Hartmann(dim=6)
    return Ackley(dim=dim)


class BlackBoxEnv(PointEnvHooks, gym.Env):
    """Minimise a noisy standard test function with a budget of evaluations.

    Args:
        function: ``"branin"``, ``"hartmann6"`` or ``"ackley"`` (case-insensitive).
        dim: Input dimension. Fixed by Branin (2) and Hartmann6 (6); Ackley's
            dimension (default 2).
        noise_std: Standard deviation of the Gaussian measurement noise, in
            the function's units (0: noise-free).
        budget: Evaluations per episode.
        cost_per_eval_s: Seconds one evaluation costs (reported in ``info``).
        render_mode: Only ``None`` is supported.

    Raises:
        ConfigError: for an unknown function, a dimension the function does
            not have, or a negative noise, budget or cost.
    """

    metadata = {"render_modes": []}

    def __init__(self, function: str = "branin", dim: int | None = None, noise_std: float = 0.0,
                 budget: int = 20, cost_per_eval_s: float = 1.0,
                 render_mode: str | None = None) -> None:
        name = str(function).lower()
        if name not in FUNCTIONS:
            raise ConfigError(f"function = {function!r} is not a known test function",
                              f"choose one of {', '.join(FUNCTIONS)}")
        natural = _NATURAL_DIM[name]
        if dim is None:
            dim = natural
        if name != "ackley" and int(dim) != natural:
            raise ConfigError(f"dim = {dim} for {name}, which is {natural}-dimensional",
                              f"omit dim or set dim = {natural}")
        if int(dim) < 1:
            raise ConfigError(f"dim = {dim} must be at least 1", "e.g. dim = 2")
        if not np.isfinite(noise_std) or float(noise_std) < 0:
            raise ConfigError(f"noise_std = {noise_std} must be a finite number >= 0",
                              "use 0 for noise-free evaluations")
        if int(budget) < 1:
            raise ConfigError(f"budget = {budget} must be at least 1 evaluation",
                              "e.g. budget = 20")
        if not np.isfinite(cost_per_eval_s) or float(cost_per_eval_s) < 0:
            raise ConfigError(f"cost_per_eval_s = {cost_per_eval_s} must be >= 0 seconds",
                              "e.g. cost_per_eval_s = 1.0")
        if render_mode is not None:
            raise ConfigError(f"render_mode = {render_mode!r} is not supported", "use None")
        self.function_name = name
        self.dim = int(dim)
        self.noise_std = float(noise_std)
        self.budget = int(budget)
        self.cost_per_eval_s = float(cost_per_eval_s)
        self.render_mode = render_mode
        self._fn = _make_function(name, self.dim)
        self.bounds = self._fn.bounds.numpy().astype(float)  # `2 x d`
        self.optimizers = np.asarray(self._fn._optimizers, float)  # `k x d`
        # the tabulated optimum is rounded (Branin's 0.397887 is 3.6e-7 below the true
        # minimum): use the function at its known minimisers, so that regret reaches 0
        self.optimal_value = float(self.f_true(self.optimizers).min())
        self.action_space = spaces.Box(0.0, 1.0, shape=(self.dim,), dtype=np.float32)
        self.observation_space = spaces.Box(np.array([-_VALUE_MAX, -_VALUE_MAX, 0], np.float32),
                                            np.array([_VALUE_MAX, _VALUE_MAX, self.budget],
                                                     np.float32),
                                            shape=(3,), dtype=np.float32)
        self._reset_state()

    # ------------------------------------------------------------- function
    def f_true(self, x: np.ndarray) -> np.ndarray:
        """Noise-free function values at points in the function's own bounds.

        Args:
            x: `n x d` (or `d`) points inside :attr:`bounds`.

        Returns:
            `n` values (float64).
        """
        import torch

        xt = torch.as_tensor(np.atleast_2d(np.asarray(x, float)), dtype=torch.float64)
        with torch.no_grad():
            return self._fn.evaluate_true(xt).numpy().astype(float)

    def regret_of(self, x_unit: np.ndarray) -> np.ndarray:
        """True regret ``f(x) - f*`` of unit-box points (`n x d` -> `n`)."""
        return self.f_true(unit_to_bounds(np.atleast_2d(x_unit), self.bounds)) - self.optimal_value

    # ---------------------------------------------------------------- state
    def _reset_state(self) -> None:
        self.x_unit: list[np.ndarray] = []
        self.values: list[float] = []
        self.true_values: list[float] = []
        self.elapsed_s = 0.0

    def _obs(self) -> np.ndarray:
        if not self.values:
            return np.zeros(3, np.float32)
        obs = np.array([min(self.values), self.values[-1], len(self.values)])
        return np.clip(obs, self.observation_space.low, self.observation_space.high).astype(
            np.float32)

    def _info(self) -> dict[str, Any]:
        n = len(self.values)
        x_unit = np.array(self.x_unit, float).reshape(n, self.dim)
        if n:
            simple = float(min(self.true_values) - self.optimal_value)
            incumbent = float(self.true_values[int(np.argmin(self.values))] - self.optimal_value)
        else:
            simple = incumbent = float("inf")
        return {"history": {"x_unit": x_unit, "x": unit_to_bounds(x_unit, self.bounds),
                            "value": np.array(self.values, float)},
                "evaluations": n, "budget": self.budget, "elapsed_s": self.elapsed_s,
                "simple_regret": simple, "incumbent_regret": incumbent,
                "function": self.function_name}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode (empty history). The seed fixes the noise."""
        super().reset(seed=seed)
        self._reset_state()
        return self._obs(), self._info()

    # ------------------------------------------------------------------ step
    def check_action(self, action: Any) -> np.ndarray:
        """Validate an action and return it as a float64 unit-box point (no side effects).

        Raises:
            UnsafeActionError: wrong shape, not finite, outside the unit box,
                or the budget is spent.
        """
        x = np.asarray(action, dtype=float).reshape(-1)
        if x.shape != (self.dim,):
            raise UnsafeActionError(f"action of shape {np.shape(action)} for a {self.dim}-D box",
                                    f"pass {self.dim} numbers in [0, 1]")
        if not np.all(np.isfinite(x)) or np.any(x < -_ACTION_TOL) or np.any(x > 1 + _ACTION_TOL):
            raise UnsafeActionError(f"action {x.tolist()} is outside the unit box [0, 1]^{self.dim}",
                                    "actions are normalised; clip them to [0, 1]")
        if len(self.values) >= self.budget:
            raise UnsafeActionError(f"the budget of {self.budget} evaluations is spent",
                                    "call reset() to start a new episode")
        return np.clip(x, 0.0, 1.0)

    def step(self, action: Any):
        """Evaluate the function at ``action`` (a point in the unit box)."""
        x = self.check_action(action)
        true = float(self.f_true(unit_to_bounds(x, self.bounds))[0])
        noise = float(self.np_random.normal(0.0, self.noise_std)) if self.noise_std > 0 else 0.0
        value = true + noise
        self.x_unit.append(x)
        self.values.append(value)
        self.true_values.append(true)
        self.elapsed_s += self.cost_per_eval_s
        info = self._info()
        info.update({"value": value, "cost_s": self.cost_per_eval_s})
        terminated = len(self.values) >= self.budget
        return self._obs(), float(-value), bool(terminated), False, info

    # ----------------------------------------------- closed-loop hooks (steer.loop)
    observation_names = ("best_value", "last_value", "evaluations_used")
    objective_name = "value"

    def progress_fraction(self) -> float:
        """Fraction of the evaluation budget spent."""
        return min(1.0, len(self.values) / self.budget)

    def episode_metrics(self) -> dict[str, float]:
        """``evaluations``, ``elapsed_s``, ``best_value`` (measured) and the true regrets."""
        info = self._info()
        out = {"evaluations": float(info["evaluations"]), "elapsed_s": float(self.elapsed_s),
               "simple_regret": float(info["simple_regret"]),
               "incumbent_regret": float(info["incumbent_regret"]),
               "optimal_value": self.optimal_value}
        if self.values:
            out["best_value"] = float(min(self.values))
        return out
