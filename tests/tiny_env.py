"""A tiny environment added without touching ``steer/``: one module plus its registration.

``steer-test/Dial-v0``: a dial with ``positions`` settings; turning it to
position ``i`` and reading it measures ``(i / (positions - 1) - 0.3)^2`` plus
seeded noise. The agent has ``budget`` readings to find the lowest. It
describes itself to the core with :class:`DialPresenter` (its own action
text, table column, step metric, summary row, comparison row, headline
metric and figure) and hands policies a :class:`~steer.envs.context.PoolContext`,
so the pool policies (``random-pool``, ``bo-pool``) drive it.

An experiment names it as ``env = "tests.tiny_env:steer-test/Dial-v0"``:
Gymnasium imports the module, which registers the id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.context import PoolContext
from steer.envs.pool import PoolAction
from steer.errors import UnsafeActionError
from steer.presenter import Presenter, SummaryRow
from steer.records import DecisionRecord

ENV_ID = "steer-test/Dial-v0"


class DialPresenter(Presenter):
    """How the dial names, tabulates, summarises and draws its decisions."""

    kind: ClassVar[str] = "pool"
    ranked: ClassVar[bool] = True
    summary_rows: ClassVar[tuple[SummaryRow, ...]] = (
        SummaryRow("lowest dial reading", ("best_dial_value",), "{:.4f}"),
        SummaryRow("readings", ("readings",), "{:.0f}"),
    )
    table_metrics: ClassVar[tuple[str, ...]] = ("best_dial_value", "readings")
    key_metric: ClassVar[str] = "best_dial_value"
    figure_names: ClassVar[tuple[str, ...]] = ("dial",)

    def action_text(self, action: dict[str, Any]) -> str:
        return f"dial at position {action.get('index')}"

    def table_row(self, record: DecisionRecord) -> dict[str, Any]:
        action = (record.proposal or {}).get("action") or {}
        return {"dial_position": action.get("index")}

    def step_metrics(self, record: DecisionRecord) -> dict[str, float]:
        m = record.measurement or {}
        return {"dial_value": m["dial_value"]} if "dial_value" in m else {}

    def figures(self, records: Sequence[DecisionRecord], title: str = "") -> dict[str, Any]:
        from steer.plots import new_figure

        fig = new_figure()
        ax = fig.add_subplot()
        pos = [r.proposal["action"]["index"] for r in records if r.measurement]
        val = [r.measurement["dial_value"] for r in records if r.measurement]
        ax.plot(pos, val, "o")
        ax.set_xlabel("dial position")
        ax.set_ylabel("reading")
        fig.suptitle(f"{title}: dial readings" if title else "dial readings")
        return {"dial": fig}


class DialEnv(gym.Env):
    """Find the dial position with the lowest reading.

    Args:
        positions: Number of dial positions.
        budget: Readings per episode.
        noise_std: Gaussian noise of a reading.
    """

    metadata = {"render_modes": []}
    presenter = DialPresenter()

    def __init__(self, positions: int = 16, budget: int = 6, noise_std: float = 0.01) -> None:
        self.positions, self.budget, self.noise_std = int(positions), int(budget), float(noise_std)
        self.pool_unit = np.linspace(0.0, 1.0, self.positions)[:, None]
        self.action_space = spaces.Discrete(self.positions)
        self.observation_space = spaces.Box(-1.0, 10.0, shape=(1,), dtype=np.float32)
        self.values: list[float] = []

    # gymnasium
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.values = []
        return self._obs(), self._info()

    def step(self, action: Any):
        i = self.check_action(action)
        x = float(self.pool_unit[i, 0])
        value = (x - 0.3) ** 2 + self.noise_std * float(self.np_random.normal())
        self.values.append(value)
        info = {**self._info(), "dial_value": value, "position": i}
        return self._obs(), -value, len(self.values) >= self.budget, False, info

    def _obs(self) -> np.ndarray:
        return np.array([min(self.values) if self.values else 10.0], np.float32)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": np.ones(self.positions, bool)}

    # the loop's protocol (steer.protocols.ClosedLoopEnv)
    def policy_context(self) -> PoolContext:
        return PoolContext(kind=self.presenter.kind, action_space=self.action_space,
                           observation_space=self.observation_space, pool_unit=self.pool_unit,
                           cost_s=np.ones(self.positions), observation_names=("best",),
                           objective_name="dial_value")

    def action_from_dict(self, data: dict[str, Any]) -> PoolAction:
        return PoolAction(int(data["index"]), tuple(data["x_unit"]))

    def env_action(self, action: Any) -> int:
        if not isinstance(action, PoolAction):
            raise UnsafeActionError(f"action {action!r} is not a dial position", "a PoolAction")
        return int(action.index)

    def check_action(self, action: Any) -> int:
        i = int(action)
        if not 0 <= i < self.positions:
            raise UnsafeActionError(f"dial position {i} is outside 0..{self.positions - 1}")
        if len(self.values) >= self.budget:
            raise UnsafeActionError("no readings left", "end the episode")
        return i

    def idle(self, seconds: float):
        return self._obs(), self._info()

    def is_over(self) -> bool:
        return len(self.values) >= self.budget

    def progress_fraction(self) -> float:
        return min(1.0, len(self.values) / self.budget)

    def record_summary(self, observation: Any, info: dict[str, Any]) -> dict[str, Any]:
        return {"elapsed_s": float(len(self.values)), "best": float(observation[0])}

    def measurement_of(self, info: dict[str, Any]) -> dict[str, Any] | None:
        if "dial_value" not in info:
            return None
        return {"dial_value": float(info["dial_value"]), "position": int(info["position"])}

    def episode_metrics(self) -> dict[str, float]:
        return {"best_dial_value": float(min(self.values)) if self.values else float("nan"),
                "readings": float(len(self.values))}


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="tests.tiny_env:DialEnv", disable_env_checker=True)
