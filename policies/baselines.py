"""The schedulers astronomers use today, as baselines.

* ``random``: a uniformly random feasible target and exposure.
* ``round-robin``: the least recently observed feasible target.
* ``greedy``: the highest-priority feasible target at the lowest airmass
  (targets seen within ``revisit_gap_h`` are skipped, as queue schedulers do).
* ``feature``: a Rubin-style feature-based scheduler (rubin_scheduler's
  basis functions): a weighted sum of the depth lost to airmass, the slew
  time, the priority and the time since the last visit, under the masks.

The fixed-exposure baselines use the environment's default exposure.
"""

from __future__ import annotations

import numpy as np

from steer.policies.base import BasePolicy

__all__ = ["RandomPolicy", "RoundRobinPolicy", "GreedyPolicy", "FeaturePolicy"]


def _default_only(n: int, n_e: int, e_idx: int, values: np.ndarray) -> np.ndarray:
    scores = np.full((n, n_e), -np.inf)
    scores[:, e_idx] = values
    return scores


class RandomPolicy(BasePolicy):
    """Uniformly random feasible target and exposure (seeded)."""

    name = "random"

    def _scores(self, observation, info):
        n, n_e = observation["targets"].shape[0], len(info["exptimes_s"])
        return self.rng.random((n, n_e)), {"rule": "uniform random over feasible actions"}


class RoundRobinPolicy(BasePolicy):
    """Least recently observed feasible target, default exposure."""

    name = "round-robin"

    def _scores(self, observation, info):
        t = observation["targets"]
        since = self.feature(observation, "hours_since_visit")
        return (_default_only(len(t), len(info["exptimes_s"]), info["default_exptime_index"],
                              since),
                {"rule": "longest time since last visit"})


class GreedyPolicy(BasePolicy):
    """Highest priority, then lowest airmass; skips targets seen within ``revisit_gap_h``.

    Args:
        revisit_gap_h: Hours before a target may be observed again.
    """

    name = "greedy"

    def __init__(self, revisit_gap_h: float = 1.0) -> None:
        super().__init__(revisit_gap_h=revisit_gap_h)
        self.revisit_gap_h = float(revisit_gap_h)

    def _scores(self, observation, info):
        t = observation["targets"]
        prio = self.feature(observation, "priority")
        am = self.feature(observation, "airmass")
        value = prio * 100.0 - am  # priority first, airmass breaks ties
        recent = self.feature(observation, "hours_since_visit") < self.revisit_gap_h
        mask = np.asarray(info["action_mask"], bool)
        if (mask & ~recent).any():
            value = np.where(recent, -np.inf, value)
        return (_default_only(len(t), len(info["exptimes_s"]), info["default_exptime_index"],
                              value),
                {"rule": "max priority, then min airmass"})


class FeaturePolicy(BasePolicy):
    """Rubin-style feature-based scheduler: weighted sum of basis functions.

    score = - w_depth * depth_loss_mag - w_slew * overhead_s / 60
            + w_priority * log2(priority) + w_revisit * min(hours_since_visit / revisit_h, 1)

    Args:
        w_depth: Weight of the depth lost to airmass (mag) relative to the best tonight.
        w_slew: Weight of the slew+settle+filter time (per minute).
        w_priority: Weight of log2(priority).
        w_revisit: Weight of the time since the last visit (saturates at ``revisit_h``).
        revisit_h: Hours after which a target counts as fully due again.

    The defaults were tuned by hand on the demo experiment (seeds 0-3) for
    the science score, so that the baseline is a fair opponent.
    """

    name = "feature"
    #: The settings ``steer tune`` may search, with their ranges.
    tunable = {"w_depth": (0.0, 6.0), "w_slew": (0.0, 4.0), "w_priority": (0.0, 4.0),
               "w_revisit": (0.0, 12.0), "revisit_h": (1.0, 48.0)}

    def __init__(self, w_depth: float = 2.0, w_slew: float = 1.0, w_priority: float = 1.0,
                 w_revisit: float = 6.0, revisit_h: float = 12.0) -> None:
        super().__init__(w_depth=w_depth, w_slew=w_slew, w_priority=w_priority,
                         w_revisit=w_revisit, revisit_h=revisit_h)
        self.w = (float(w_depth), float(w_slew), float(w_priority), float(w_revisit))
        self.revisit_h = float(revisit_h)

    def _scores(self, observation, info):
        t = observation["targets"].astype(float)
        loss = self.feature(observation, "depth_loss_mag")
        slew_min = self.feature(observation, "overhead_s") / 60.0
        prio = np.log2(np.maximum(self.feature(observation, "priority"), 1e-3))
        due = np.minimum(self.feature(observation, "hours_since_visit") / self.revisit_h, 1.0)
        w_d, w_s, w_p, w_r = self.w
        value = -w_d * loss - w_s * slew_min + w_p * prio + w_r * due
        return (_default_only(len(t), len(info["exptimes_s"]), info["default_exptime_index"],
                              value),
                {"rule": "rubin-style basis functions",
                 "weights": {"depth": w_d, "slew": w_s, "priority": w_p, "revisit": w_r}})
