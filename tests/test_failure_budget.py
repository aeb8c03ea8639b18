"""An instrument that keeps failing: the night waits for it within its failure budget, then stops.

The stop is resumable: the journal holds every failed attempt, and a resume
with a working instrument completes the night.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from steer.envs.testing import tiny_config
from steer.errors import InstrumentError
from steer.session import make_env, play, set_threads


class DiesAfter(gym.Wrapper):
    """Every ``step`` from the ``n``-th on fails after ``delay_s`` (a server that went away)."""

    def __init__(self, env: Any, n: int, delay_s: float) -> None:
        super().__init__(env)
        self.n, self.delay_s, self.calls = n, delay_s, 0

    def step(self, action: Any):
        self.calls += 1
        if self.calls > self.n:
            time.sleep(self.delay_s)
            raise InstrumentError("no answer from the server")
        return self.env.step(action)


def test_a_dead_instrument_stops_the_night_after_its_budget_and_it_resumes(tmp_path: Path):
    set_threads(1)
    config = tiny_config("\n[loop]\nfailure_budget_s = 1.0\nmax_retries = 1\n")
    assert config.failure_budget_s == 1.0
    env = DiesAfter(make_env(config), n=4, delay_s=0.2)
    t0 = time.time()
    result = play(config, "feature", 0, tmp_path / "j", env=env, run_id="dead")
    episode = result.episode
    assert episode.stopped and "failure budget 1 s" in episode.stop_reason
    failed = sorted({r.step for r in episode.records if r.status == "failed"})
    # 0.4 s per lost decision (2 attempts of 0.2 s): the budget of 1 s is spent on the 3rd
    assert failed == [4, 5, 6] and episode.metrics["failed_decisions"] == 3
    assert time.time() - t0 < 30
    assert [r.status for r in episode.records].count("retried") == 3
    resumed = play(config, "feature", 0, tmp_path / "j", run_id="dead",
                   resume=episode.records).episode
    assert not resumed.stopped and resumed.metrics["decisions"] > 7
    assert [r.decision_key for r in resumed.records[:len(episode.records)]] == \
        [r.decision_key for r in episode.records]
