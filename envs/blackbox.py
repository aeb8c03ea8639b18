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

Optional outcome constraint (``constraint=``), ``c(x) <= 0`` is feasible,
``c`` measured exactly (a computed quantity, as a position limit is):

* ``"disk"`` (Branin): the disk ``(x1 - 2.5)^2 + (x2 - 7.5)^2 <= 50`` of
  Gelbart, Snoek & Adams, "Bayesian Optimization with Unknown Constraints",
  UAI 2014 (BoTorch's ``ConstrainedBraninCurrin`` uses it too);
  ``c(x) = (x1 - 2.5)^2 + (x2 - 7.5)^2 - 50``. One of Branin's three minimisers,
  ``(pi, 2.275)``, is inside: the constrained optimum is ``f*``.
* ``"ball"`` (Hartmann6): ``||x||_2 <= 1`` of Letham, Karrer, Ottoni & Bakshy,
  "Constrained Bayesian Optimization with Noisy Experiments", Bayesian
  Analysis 2019 (BoTorch's ``ConstrainedHartmann``); ``c(x) = ||x||_2 - 1``.
  The minimiser (norm 0.946) is inside: the constrained optimum is ``f*``.

With a constraint, ``info`` also carries ``constraint_value`` and
``feasible`` for the step (and ``history["constraint_value"]``), and both
regrets count feasible points only (``inf`` until one is found). The reward
stays ``-measured value``.

Observation (a ``Box``, float32, fixed size):
``[best_value, last_value, evaluations_used]``: the best and the last
*measured* (noisy) values so far (0 before the first evaluation) and the
number of evaluations spent.

Reward: ``-measured value`` (maximising reward minimises ``f``).

``info`` carries the raw history (``x_unit``, ``x``, ``value``), the cost of
the step and the time spent (``cost_s``, ``elapsed_s``), the step's
:class:`Evaluation` (``info["measurement"]``), and the simple
regret: ``simple_regret = min_i f_true(x_i) - f*`` over every point evaluated
so far (the benchmark convention), and ``incumbent_regret``, the true regret
of the point with the best *measured* value (what a user would deploy). Both
are ``inf`` before the first evaluation.

An episode is a budget of ``budget`` evaluations; it terminates when the
budget is spent. All randomness (the noise) comes from ``reset(seed=)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.hooks import PointEnvHooks
from steer.envs.point_view import BlackBoxPresenter
from steer.errors import ConfigError, UnsafeActionError

__all__ = ["BlackBoxEnv", "CONSTRAINTS", "Evaluation", "FUNCTIONS", "unit_to_bounds"]

FUNCTIONS: tuple[str, ...] = ("branin", "hartmann6", "ackley")
CONSTRAINTS: dict[str, str] = {"branin": "disk", "hartmann6": "ball"}  # function -> constraint
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


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation measured.

    Attributes:
        value: The measured (noisy) function value.
        constraint_value: The measured constraint ``c(x)`` (feasible if
            ``<= 0``), ``None`` without a constraint.
        cost_s: Seconds the evaluation cost.
    """

    value: float
    constraint_value: float | None
    cost_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def constraint_value(constraint: str, x: np.ndarray) -> np.ndarray:
    """The constraint ``c(x)`` (feasible if ``<= 0``) at `n x d` points in the function's bounds."""
    x = np.atleast_2d(np.asarray(x, float))
    if constraint == "disk":
        return (x[:, 0] - 2.5) ** 2 + (x[:, 1] - 7.5) ** 2 - 50.0
    return np.linalg.norm(x, axis=1) - 1.0


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
        constraint: ``None`` (default), ``"disk"`` (Branin) or ``"ball"``
            (Hartmann6): the standard outcome constraint described above.
        budget: Evaluations per episode.
        cost_per_eval_s: Seconds one evaluation costs (reported in ``info``).
        render_mode: Only ``None`` is supported.

    Raises:
        ConfigError: for an unknown function, a dimension the function does
            not have, a negative noise, budget or cost, or a constraint the
            function does not have.
    """

    metadata = {"render_modes": []}

    def __init__(self, function: str = "branin", dim: int | None = None, noise_std: float = 0.0,
                 budget: int = 20, cost_per_eval_s: float = 1.0, constraint: str | None = None,
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
        if constraint is not None and constraint != CONSTRAINTS.get(name):
            known = CONSTRAINTS.get(name)
            raise ConfigError(f"constraint = {constraint!r} is not defined for {name}",
                              f"use constraint = {known!r} or None" if known
                              else "use constraint = None")
        if render_mode is not None:
            raise ConfigError(f"render_mode = {render_mode!r} is not supported", "use None")
        self.function_name = name
        self.dim = int(dim)
        self.noise_std = float(noise_std)
        self.budget = int(budget)
        self.cost_per_eval_s = float(cost_per_eval_s)
        self.constraint = constraint
        self.render_mode = render_mode
        self._fn = _make_function(name, self.dim)
        self.bounds = self._fn.bounds.numpy().astype(float)  # `2 x d`
        self.optimizers = np.asarray(self._fn._optimizers, float)  # `k x d`
        # the tabulated optimum is rounded (Branin's 0.397887 is 3.6e-7 below the true
        # minimum): use the function at its known minimisers, so that regret reaches 0;
        # with a constraint, at the feasible ones (each constraint keeps one inside)
        if constraint is not None:
            self.optimizers = self.optimizers[self.c_true(self.optimizers) <= 0]
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

    def c_true(self, x: np.ndarray) -> np.ndarray:
        """Constraint values ``c(x)`` (feasible if ``<= 0``) at points in the function's bounds.

        Args:
            x: `n x d` (or `d`) points inside :attr:`bounds`.

        Returns:
            `n` values (float64); zeros when the env has no constraint.
        """
        x = np.atleast_2d(np.asarray(x, float))
        if self.constraint is None:
            return np.zeros(len(x))
        return constraint_value(self.constraint, x)

    def regret_of(self, x_unit: np.ndarray) -> np.ndarray:
        """True regret ``f(x) - f*`` of unit-box points (`n x d` -> `n`)."""
        return self.f_true(unit_to_bounds(np.atleast_2d(x_unit), self.bounds)) - self.optimal_value

    # ---------------------------------------------------------------- state
    def _reset_state(self) -> None:
        self.x_unit: list[np.ndarray] = []
        self.values: list[float] = []
        self.true_values: list[float] = []
        self.constraint_values: list[float] = []
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
        ok = np.asarray(self.constraint_values, float) <= 0  # all True without a constraint
        if ok.any():
            true = np.asarray(self.true_values, float)[ok]
            simple = float(true.min() - self.optimal_value)
            incumbent = float(true[int(np.argmin(np.asarray(self.values)[ok]))]
                              - self.optimal_value)
        else:
            simple = incumbent = float("inf")
        history = {"x_unit": x_unit, "x": unit_to_bounds(x_unit, self.bounds),
                   "value": np.array(self.values, float)}
        if self.constraint is not None:
            history["constraint_value"] = np.array(self.constraint_values, float)
        return {"history": history, "evaluations": n, "budget": self.budget,
                "elapsed_s": self.elapsed_s, "simple_regret": simple,
                "incumbent_regret": incumbent, "function": self.function_name,
                "constraint": self.constraint, "n_feasible": int(ok.sum())}

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
        x_fn = unit_to_bounds(x, self.bounds)
        true = float(self.f_true(x_fn)[0])
        noise = float(self.np_random.normal(0.0, self.noise_std)) if self.noise_std > 0 else 0.0
        value = true + noise
        c = float(self.c_true(x_fn)[0])
        self.x_unit.append(x)
        self.values.append(value)
        self.true_values.append(true)
        self.constraint_values.append(c)
        self.elapsed_s += self.cost_per_eval_s
        info = self._info()
        c_reported = c if self.constraint is not None else None
        info.update({"value": value, "cost_s": self.cost_per_eval_s,
                     "measurement": Evaluation(value, c_reported, self.cost_per_eval_s)})
        if self.constraint is not None:
            info.update({"constraint_value": c, "feasible": c <= 0})
        terminated = len(self.values) >= self.budget
        return self._obs(), float(-value), bool(terminated), False, info

    # ----------------------------------------------- closed-loop hooks (steer.loop)
    presenter = BlackBoxPresenter()
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
