"""Live mode: a night that runs on the wall clock (``[env] clock = "wall"``).

:class:`WallClock` wraps the observatory an environment drives (the simulated
one, or a real-protocol driver around it) so that the night's clock is the
real time, optionally compressed by ``time_factor`` (night seconds per wall
second) for tests against device simulators:

* the clock starts at ``start_mjd`` (now, dusk or a stated time) and from
  then on ``mjd = start_mjd + wall_seconds * time_factor / 86400``;
* before each action and after it, and after every wait, the clock is
  brought to the wall: if the night's model of the action (slew, exposure,
  readout) ran ahead of the wall, the night sleeps until the wall catches up;
  if the wall is ahead (the policy thought, the hardware was slower than the
  model, a retry), the clock jumps forward and that time is lost to the night,
  as it is at a telescope;
* waiting (nothing observable, the safety monitor says unsafe) sleeps in wall
  time.

Decisions in live mode depend on how long things took, so the same seed does
not give the same decisions (``clock = "sim"`` does). Everything not defined
here is the wrapped observatory's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from steer.instruments.telescope import Action, Measurement

__all__ = ["WallClock", "check_live_options", "live_start_mjd"]

_S_PER_DAY = 86400.0

log = logging.getLogger(__name__)


class WallClock:
    """Run ``observatory`` on the wall clock (see the module docstring).

    Args:
        observatory: What the environment drives (simulated or a hardware driver).
        sim: The simulated night inside it, whose clock this sets.
        time_factor: Night seconds per wall second (1: real time).
        start_mjd: The night's clock when the wall clock starts (``None``: its
            current clock); earlier than the night's clock is not allowed.
        monotonic: Wall-clock source (seconds).
        sleep: Sleep function (seconds).
    """

    def __init__(self, observatory: Any, sim: Any, time_factor: float = 1.0,
                 start_mjd: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._obs = observatory
        self._sim_clock = sim
        self.time_factor = float(time_factor)
        self._monotonic, self._sleep = monotonic, sleep
        start = float(sim.mjd if start_mjd is None else start_mjd)
        if start > sim.mjd:
            sim.wait((start - sim.mjd) * _S_PER_DAY)
        elif start < sim.mjd:
            log.warning("live night: waiting %.1f min of wall time for dusk",
                        (sim.mjd - start) * _S_PER_DAY / self.time_factor / 60.0)
        self._mjd0, self._t0 = start, monotonic()
        self.lost_s = 0.0
        """Night seconds the wall was ahead of the night's model (thinking, retries...)."""
        self.slept_wall_s = 0.0
        """Wall seconds slept so that the wall caught up with the night's model."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_obs", "_sim_clock"):
            raise AttributeError(name)
        return getattr(self._obs, name)

    def __repr__(self) -> str:
        return f"WallClock({self._obs!r}, time_factor={self.time_factor:g})"

    def wall_mjd(self) -> float:
        """The night's time on the wall clock now."""
        return self._mjd0 + (self._monotonic() - self._t0) * self.time_factor / _S_PER_DAY

    def sync(self) -> float:
        """Bring the night's clock to the wall; return the night seconds it had run ahead
        (positive: slept until the wall caught up) or behind (negative: jumped)."""
        sim = self._sim_clock
        ahead_s = (float(sim.mjd) - self.wall_mjd()) * _S_PER_DAY
        if ahead_s > 0:
            wall_s = ahead_s / self.time_factor
            self._sleep(wall_s)
            self.slept_wall_s += wall_s
        elif ahead_s < 0:
            sim.wait(-ahead_s)
            self.lost_s += -ahead_s
        return ahead_s

    @property
    def mjd(self) -> float:
        """The night's clock (UTC MJD) at the last synchronisation."""
        return float(self._sim_clock.mjd)

    def describe(self) -> dict[str, Any]:
        """The wrapped observatory's description plus the clock."""
        out = dict(self._obs.describe())
        out["clock"] = {"kind": "wall", "time_factor": self.time_factor,
                        "start_mjd": self._mjd0}
        return out

    def check(self, action: Action) -> None:
        """Synchronise, then the wrapped observatory's checks (nothing is sent when refused)."""
        self.sync()
        self._obs.check(action)

    def execute(self, action: Action) -> Measurement:
        """Synchronise, observe, synchronise again; the measurement records the lag.

        The measurement's ``conditions`` gain ``clock_behind_s`` (night seconds
        the wall was ahead of the model once the action was done: time the
        model did not account for).
        """
        self.sync()
        m = self._obs.execute(action)
        ahead_s = self.sync()
        m.conditions["clock_behind_s"] = max(0.0, -ahead_s)
        return m

    def wait(self, seconds: float) -> float:
        """Let ``seconds`` of the night pass in wall time; return the new clock."""
        self.sync()
        self._obs.wait(seconds)
        self.sync()
        return self.mjd


def check_live_options(clock: str, time_factor: float, start: str, instrument: str,
                       instrument_options: dict[str, Any]) -> dict[str, Any]:
    """Validate the live-mode settings; return the instrument options to use.

    A real-protocol driver's ``exptime_scale`` (wall seconds per exposure
    second) must be ``1 / time_factor`` in live mode; it is set so when absent.

    Raises:
        ConfigError: an unknown clock, a bad factor, live settings with
            ``clock = "sim"``, or an ``exptime_scale`` that disagrees.
    """
    from steer.errors import ConfigError

    if clock not in ("sim", "wall"):
        raise ConfigError(f"clock = {clock!r} is not known",
                          "use 'sim' (simulated time) or 'wall' (live: the real time)")
    if isinstance(time_factor, bool) or not isinstance(time_factor, int | float) \
            or not 0.01 <= float(time_factor) <= 10000.0:
        raise ConfigError(f"time_factor = {time_factor!r} must be a number in [0.01, 10000]",
                          "night seconds per wall second: 1 is real time")
    options = dict(instrument_options)
    if clock == "sim":
        if float(time_factor) != 1.0 or start != "now":
            raise ConfigError("time_factor and start apply only to clock = 'wall'",
                              "set clock = 'wall' or remove them")
        return options
    if instrument != "sim":
        want = 1.0 / float(time_factor)
        got = options.setdefault("exptime_scale", want)
        if not isinstance(got, int | float) or abs(float(got) * float(time_factor) - 1.0) > 1e-6:
            raise ConfigError(f"exptime_scale = {got!r} disagrees with time_factor = "
                              f"{time_factor} in live mode (it must be {want:g})",
                              "remove exptime_scale from [env.instrument_options]")
    return options


def live_start_mjd(start: str, night_start_mjd: float, night_end_mjd: float,
                   night_date: str, now_unix: float | None = None) -> float:
    """The night's clock when a live night starts.

    Args:
        start: ``"now"`` (the real time), ``"dusk"`` (the night's start: with a
            ``time_factor``, a compressed night against simulators) or an ISO
            8601 UTC time.
        night_start_mjd, night_end_mjd: The night being observed.
        night_date: Its local evening date (for messages).
        now_unix: The current time (default: the system clock).

    Raises:
        ConfigError: an unreadable time, or one after the night has ended.
    """
    from astropy.time import Time

    from steer.errors import ConfigError

    if start == "dusk":
        return float(night_start_mjd)
    if start == "now":
        mjd = (time.time() if now_unix is None else float(now_unix)) / _S_PER_DAY + 40587.0
    else:
        try:
            mjd = float(Time(start, format="isot", scale="utc").mjd)
        except ValueError as exc:
            raise ConfigError(f"start = {start!r} is not a time",
                              "use 'now', 'dusk' or an ISO 8601 UTC time such as "
                              "'2026-03-20T22:30:00'") from exc
    if mjd >= night_end_mjd:
        end = Time(night_end_mjd, format="mjd", scale="utc").isot[:19]
        at = Time(mjd, format="mjd", scale="utc").isot[:19]
        raise ConfigError(f"start = {start!r} ({at} UTC) is after the night of {night_date} "
                          f"ends ({end} UTC)", "set night_date to tonight's local date, or "
                          "start = 'dusk' to run that night compressed against simulators")
    if mjd < night_start_mjd - 1.0:
        raise ConfigError(f"start = {start!r} is {(night_start_mjd - mjd) * 24.0:.0f} h before "
                          f"the night of {night_date} begins", "set night_date to tonight's "
                          "local date")
    return mjd  # before dusk: the first synchronisation waits for it in wall time
