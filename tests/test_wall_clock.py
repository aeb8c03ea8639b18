"""Live mode's clock (``[env] clock = "wall"``): the night follows the wall, scaled."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import steer.envs  # noqa: F401  (registers the environments)
from steer.errors import ConfigError
from steer.instruments.telescope import Action
from steer.instruments.wall_clock import WallClock, check_live_options, live_start_mjd


class FakeWall:
    """A wall clock that only moves when slept on, or when told to."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def _night(seed: int = 3):
    env = gymnasium.make("steer/TargetSelection-v0", n_targets=20, exptimes_s=[30.0, 60.0],
                         max_night_hours=2.0, cloudiness=0.1)
    env.reset(seed=seed)
    return env.unwrapped.observatory


def test_the_clock_waits_for_the_wall_and_jumps_when_the_wall_ran_ahead() -> None:
    sim, wall = _night(), FakeWall()
    clock = WallClock(sim, sim, time_factor=100.0, monotonic=wall.monotonic, sleep=wall.sleep)
    mjd0 = sim.mjd
    i = int(np.flatnonzero(clock.feasible_mask())[0])
    m = clock.execute(Action(i, 60.0, str(sim.catalog.target_id[i])))
    # the simulated instrument takes no wall time: the night sleeps its model out, /100
    model_s = sum(m.overheads_s.values())
    assert sum(wall.slept) == pytest.approx(model_s / 100.0, rel=1e-6)
    assert clock.mjd == pytest.approx(mjd0 + model_s / 86400.0, abs=1e-9)
    assert m.conditions["clock_behind_s"] == 0.0
    # the policy thinks for 2 wall seconds: 200 night seconds are lost
    wall.t += 2.0
    before = clock.mjd
    j = int(np.flatnonzero(clock.feasible_mask())[0])
    clock.execute(Action(j, 30.0, str(sim.catalog.target_id[j])))
    assert clock.lost_s == pytest.approx(200.0, rel=1e-6)
    assert clock.mjd > before + 200.0 / 86400.0
    # waiting sleeps in wall time
    n = len(wall.slept)
    clock.wait(300.0)
    assert sum(wall.slept[n:]) == pytest.approx(3.0, rel=1e-6)
    assert clock.mjd == pytest.approx(clock.wall_mjd(), abs=1e-9)


def test_a_start_before_dusk_waits_for_it_in_wall_time() -> None:
    sim, wall = _night(), FakeWall()
    dusk = sim.mjd
    clock = WallClock(sim, sim, time_factor=10.0, start_mjd=dusk - 0.5 / 24.0,
                      monotonic=wall.monotonic, sleep=wall.sleep)
    clock.wait(60.0)
    assert wall.slept[0] == pytest.approx(1800.0 / 10.0, rel=1e-6)  # half an hour of night, /10
    assert clock.mjd == pytest.approx(dusk + 60.0 / 86400.0, abs=1e-9)


def test_live_settings_are_checked() -> None:
    assert check_live_options("wall", 100.0, "dusk", "alpaca", {})["exptime_scale"] == 0.01
    with pytest.raises(ConfigError, match="clock = 'moon'"):
        check_live_options("moon", 1.0, "now", "sim", {})
    with pytest.raises(ConfigError, match="time_factor = 0"):
        check_live_options("wall", 0, "now", "sim", {})
    with pytest.raises(ConfigError, match="apply only to clock = 'wall'"):
        check_live_options("sim", 50.0, "now", "sim", {})
    with pytest.raises(ConfigError, match="exptime_scale = 0.01 disagrees with time_factor = 50"):
        check_live_options("wall", 50.0, "dusk", "indi", {"exptime_scale": 0.01})
    with pytest.raises(ConfigError, match="is not a time"):
        live_start_mjd("yesterday-ish", 61120.0, 61120.4, "2026-03-20")
    with pytest.raises(ConfigError, match="after the night of 2026-03-20 ends"):
        live_start_mjd("now", 61120.0, 61120.4, "2026-03-20", now_unix=1.8e9)
    with pytest.raises(ConfigError, match="h before the night of 2026-03-20 begins"):
        live_start_mjd("2026-03-10T00:00:00", 61120.0, 61120.4, "2026-03-20")
    assert live_start_mjd("dusk", 61120.0, 61120.4, "2026-03-20") == 61120.0
    # the env refuses a past night before anything is built
    with pytest.raises(ConfigError, match="after the night"):
        gymnasium.make("steer/TargetSelection-v0", clock="wall", start="now",
                       night_date="2026-03-20")
