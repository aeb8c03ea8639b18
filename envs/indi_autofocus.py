"""``IndiAutofocusEnv``: :mod:`steer.envs.autofocus`'s task on a real INDI focuser and CCD.

Same spaces, reward and ``info`` keys as ``steer/Autofocus-v0`` (so the
``bo-continuous`` and ``vcurve`` policies drive it unchanged), but each step
moves ``indi_simulator_focus`` through a real ``indiserver``, exposes
``indi_simulator_ccd`` and measures the median star FWHM in the FITS image
(:class:`~steer.instruments.indi.focus.IndiFocusCamera`).

The INDI 1.9.9 simulators put best focus at 36700 steps on a 0..100000
focuser; the measured FWHM is close to a parabola,
``~3.4" + 0.023" * ((pos - 36700) / 1000 steps)^2`` (7.4" at 50000), so a window
of +-3000 steps is almost flat (3.4" to 3.6"). The travel the agent sees is
therefore a window of ``window_steps`` (30000 by default) that contains the
simulator's best focus at a seeded place: ``reset(seed=)`` draws where in the
window best focus sits (not within ``focus_margin_frac`` of either end, so
the policies cannot know it is the middle) and the starting position
(uniform in the window; the focuser is moved there without an exposure).

Observation: ``[position_unit, last_fwhm_arcsec, best_measured_fwhm_arcsec,
temperature_degc, exposures_used]`` (temperature is 0: the simulator has none).
Reward: ``-measured FWHM`` (arcsec). ``info`` as Autofocus-v0 (position, time
spent by phase, history); ``truth_best_position_steps`` is the simulator's
nominal best focus (for benchmarks only). The closed loop's hooks
(:class:`~steer.envs.autofocus.FocusHooks`) are the simulated env's, without
the truth metrics. Not registered in ``ENV_IDS``: it
needs a running server; construct it directly.
"""

from __future__ import annotations

import math
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.autofocus import FocusHooks
from steer.errors import ConfigError

__all__ = ["IndiAutofocusEnv"]

_OBS_LOW = np.array([0.0, 0.0, 0.0, -60.0, 0.0], np.float32)
_FWHM_MAX_ARCSEC = 1000.0


class IndiAutofocusEnv(FocusHooks, gym.Env):
    """Focus the INDI focuser simulator: choose positions, measure star FWHM in real frames.

    Args:
        camera: An :class:`IndiFocusCamera` (default: one that starts its own server;
            it is then closed by :meth:`close`), or any focus camera with its
            interface (:class:`steer.instruments.alpaca.focus.AlpacaFocusCamera`,
            with ``best_focus_steps=10000`` and a window of ~1500 steps).
        best_focus_steps: Where the simulator's best focus is (places the window only).
        window_steps: Width of the travel the agent controls.
        focus_margin_frac: Best focus is drawn in the window without this fraction
            at each end.
        max_exposures: Exposures per episode.
        camera_kwargs: Passed to the default camera.
    """

    metadata = {"render_modes": []}

    def __init__(self, camera: Any = None, best_focus_steps: float = 36700.0,
                 window_steps: float = 30000.0, focus_margin_frac: float = 0.25,
                 max_exposures: int = 15, camera_kwargs: dict[str, Any] | None = None,
                 render_mode: str | None = None) -> None:
        if not (math.isfinite(float(window_steps)) and float(window_steps) > 0):
            raise ConfigError(f"window_steps = {window_steps} must be > 0", "e.g. 30000")
        if not 0.0 <= float(focus_margin_frac) < 0.5:
            raise ConfigError(f"focus_margin_frac = {focus_margin_frac} is outside [0, 0.5)",
                              "e.g. 0.25")
        if int(max_exposures) < 1:
            raise ConfigError(f"max_exposures = {max_exposures} must be at least 1", "e.g. 15")
        if render_mode is not None:
            raise ConfigError(f"render_mode = {render_mode!r} is not supported", "use None")
        self.render_mode = render_mode
        self.best_focus_steps = float(best_focus_steps)
        self.window_steps = float(window_steps)
        self.focus_margin_frac = float(focus_margin_frac)
        self.max_exposures = int(max_exposures)
        self._own_camera = camera is None
        if camera is None:
            from steer.instruments.indi.focus import IndiFocusCamera

            camera = IndiFocusCamera(**{"start_server": True, **(camera_kwargs or {})})
        self.camera = camera
        self.action_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        high = np.array([1.0, _FWHM_MAX_ARCSEC, _FWHM_MAX_ARCSEC, 60.0, self.max_exposures],
                        np.float32)
        self.observation_space = spaces.Box(_OBS_LOW, high, shape=(5,), dtype=np.float32)
        self.travel_steps = (self.best_focus_steps - 0.5 * self.window_steps,
                             self.best_focus_steps + 0.5 * self.window_steps)
        self._started = False

    @staticmethod
    def window_for_seed(seed: int | None, best_focus_steps: float, window_steps: float,
                        focus_margin_frac: float) -> tuple[tuple[float, float], float]:
        """The seeded travel window and start position: ``((lo, hi), start_steps)``."""
        rng = np.random.default_rng(seed)
        u = float(rng.uniform(focus_margin_frac, 1.0 - focus_margin_frac))
        lo = round(best_focus_steps - u * window_steps)
        start = float(round(lo + float(rng.uniform(0.0, 1.0)) * window_steps))
        return (float(lo), float(lo + window_steps)), start

    # ---------------------------------------------------------------- state
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """New focus run: seeded window around best focus, focuser moved to the start."""
        super().reset(seed=seed)
        self.travel_steps, start = self.window_for_seed(
            seed, self.best_focus_steps, self.window_steps, self.focus_margin_frac)
        lo, hi = self.camera.limits_steps or (0.0, float("inf"))
        if self.camera.limits_steps is None:
            self.camera.ensure_ready()
            lo, hi = self.camera.limits_steps or (0.0, float("inf"))
        if self.travel_steps[0] < lo or self.travel_steps[1] > hi:
            raise ConfigError(f"travel window {self.travel_steps} exceeds the focuser's range "
                              f"[{lo:g}, {hi:g}]", "reduce window_steps")
        t0 = time.perf_counter()
        self.camera.move(start)
        self.position_steps = start
        self.elapsed_s = 0.0
        self.reset_move_s = time.perf_counter() - t0
        self._new_history()
        self._started = True
        return self._obs(), self._info()

    def _temperature_now(self) -> float:
        return 0.0  # the INDI simulators report no temperature

    def _info_extra(self) -> dict[str, Any]:
        return {"travel_steps": self.travel_steps,
                "truth_best_position_steps": self.best_focus_steps}

    # ------------------------------------------------------------------ step
    def check_action(self, action: Any) -> float:
        """Validate an action; return the target position in whole steps (nothing sent).

        Raises:
            UnsafeActionError: not one finite number in `[0, 1]`, or the exposures are spent.
        """
        return float(round(self._check_position(action)))

    def step(self, action: Any):
        """Move the INDI focuser to ``action`` (normalised), expose, measure the FWHM.

        Raises:
            UnsafeActionError: as :meth:`check_action` (nothing sent).
            InstrumentError: the server failed or timed out.
        """
        target = self.check_action(action)
        m = self.camera.measure(target)
        fwhm = float(m.fwhm_arcsec)
        valid = math.isfinite(fwhm) and m.n_stars > 0
        if not valid:  # no star could be fitted: wider than the fit box
            fwhm = float(self.camera.fit_shape_px) * float(
                getattr(self.camera, "scale_arcsec_px", 1.19))
        self.position_steps = float(m.position_steps)
        overheads = dict(m.wall_s)
        self.elapsed_s += float(sum(overheads.values()))
        self._record(self.position_steps, fwhm)
        info = self._info()
        info.update({"fwhm_arcsec": fwhm, "fwhm_valid": valid, "n_stars": m.n_stars,
                     "cost_s": float(sum(overheads.values())), "overheads_s": overheads})
        terminated = len(self.history["fwhm_arcsec"]) >= self.max_exposures
        return self._obs(), float(-fwhm), bool(terminated), False, info

    def close(self) -> None:
        """Close the camera (and its server) if this env created it."""
        if self._own_camera and getattr(self, "camera", None) is not None:
            self.camera.close()
