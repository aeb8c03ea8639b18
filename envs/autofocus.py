"""``steer/Autofocus-v0``: find and keep best focus with few exposures.

A simulated focuser and camera. Each step the agent moves the focuser to a
position (the action, normalised to the allowed travel `[0, 1]`), takes an
exposure of a star and measures its width. The star's full width at half
maximum follows the hyperbolic V-curve of a defocused telescope:

    FWHM(pos) = sqrt(fwhm_min^2 + (slope * (pos - best_pos(T)))^2)

where ``fwhm_min`` is the seeing floor (no focus does better than the
seeing) and the best position drifts linearly with the tube temperature,
``best_pos(T) = best_pos_0 + temp_coeff * (T - T_0)``. The temperature
follows a seeded AR(1) process around a mean that cools linearly through
the night. Measurements carry multiplicative (log-normal) noise of
``noise_frac`` (5% by default).

Each exposure costs ``exposure_s + readout_s`` plus the focuser move,
``|delta pos| / focuser_speed_steps_per_s``.

Observation (a ``Box``, float32):
``[position_unit, last_fwhm_arcsec, best_measured_fwhm_arcsec, temperature_degc,
exposures_used]`` (FWHM entries are 0 before the first exposure).

Reward: ``-measured FWHM`` in arcsec.

``info`` carries the focuser position (steps and normalised), the
temperature, the time spent, the raw history, the cost of the step by phase
(``overheads_s``) and, for benchmarks only, the simulator's truth under
``truth_`` keys (true FWHM, best position, ``truth_in_focus``: true FWHM
within ``in_focus_frac`` of the seeing floor). Policies must not read them.

An episode is ``max_exposures`` exposures. All randomness comes from
``reset(seed=)``: the best focus, the starting position, the temperature
path and the noise.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steer.envs.hooks import PointEnvHooks
from steer.envs.point_view import FocusPresenter
from steer.errors import ConfigError, UnsafeActionError

__all__ = ["AutofocusEnv", "FocusHooks", "vcurve_fwhm_arcsec"]

_ACTION_TOL = 1e-9
_OBS_LOW = np.array([0.0, 0.0, 0.0, -60.0, 0.0], np.float32)
_FWHM_MAX_ARCSEC = 1000.0
_TEMP_MAX_DEGC = 60.0


def vcurve_fwhm_arcsec(pos_steps: np.ndarray | float, best_pos_steps: float,
                       fwhm_min_arcsec: float, slope_arcsec_per_step: float) -> np.ndarray:
    """Hyperbolic V-curve: star FWHM (arcsec) at focuser positions (steps)."""
    d = np.asarray(pos_steps, float) - best_pos_steps
    return np.sqrt(fwhm_min_arcsec**2 + (slope_arcsec_per_step * d) ** 2)


def _positive(name: str, value: float, hint: str, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} = {value} must be a finite number {bound}", hint)
    return v


class FocusHooks(PointEnvHooks):
    """What the simulated and the INDI autofocus share: travel mapping, checks, bookkeeping.

    The environment keeps ``travel_steps`` (``(lo, hi)``), ``position_steps``,
    ``history`` (``position_steps``, ``fwhm_arcsec``, ``temperature_degc``,
    ``elapsed_s`` per exposure), ``max_exposures``, ``elapsed_s``,
    ``observation_space`` and ``_started``; it implements
    :meth:`_temperature_now` and may add keys with :meth:`_info_extra`.
    """

    presenter = FocusPresenter()
    observation_names = ("position_unit", "last_fwhm_arcsec", "best_measured_fwhm_arcsec",
                         "temperature_degc", "exposures_used")
    objective_name = "fwhm_arcsec"

    def progress_fraction(self) -> float:
        """Fraction of the exposures spent."""
        history = getattr(self, "history", {"fwhm_arcsec": ()})
        return min(1.0, len(history["fwhm_arcsec"]) / self.max_exposures)  # type: ignore

    def episode_metrics(self) -> dict[str, float]:
        """Measured metrics of the focus run plus, in simulation, the truth's.

        Returns:
            ``exposures``, ``best_fwhm_arcsec`` (smallest measured),
            ``final_fwhm_arcsec`` (last exposure), ``final_position_steps``,
            ``elapsed_s`` (seconds of moves, exposures and readouts) and
            :meth:`_truth_metrics`.
        """
        h = {k: np.asarray(v, float) for k, v in self.history.items()}  # type: ignore
        fwhm = h["fwhm_arcsec"]
        out = {"exposures": float(fwhm.size), "elapsed_s": float(self.elapsed_s)}  # type: ignore
        if fwhm.size:
            out.update({"best_fwhm_arcsec": float(fwhm.min()),
                        "final_fwhm_arcsec": float(fwhm[-1]),
                        "final_position_steps": float(h["position_steps"][-1])})
        out.update(self._truth_metrics())
        return out

    def _truth_metrics(self) -> dict[str, float]:
        """Hook: metrics judged against the simulator's truth (none on hardware)."""
        return {}

    # ------------------------------------------------------------ mapping
    def steps_of(self, x_unit: np.ndarray | float) -> np.ndarray:
        """Focuser position in steps of a normalised position."""
        lo, hi = self.travel_steps  # type: ignore[attr-defined]
        return lo + np.asarray(x_unit, float) * (hi - lo)

    def unit_of(self, pos_steps: np.ndarray | float) -> np.ndarray:
        """Normalised position of a focuser position in steps."""
        lo, hi = self.travel_steps  # type: ignore[attr-defined]
        return (np.asarray(pos_steps, float) - lo) / (hi - lo)

    # ------------------------------------------------------- bookkeeping
    def _temperature_now(self) -> float:
        """Hook: the tube temperature reported now (degC)."""
        raise NotImplementedError

    def _info_extra(self) -> dict[str, Any]:
        """Hook: further ``info`` keys of this environment."""
        return {}

    def _new_history(self) -> None:
        self.history: dict[str, list[float]] = {k: [] for k in (
            "position_steps", "fwhm_arcsec", "temperature_degc", "elapsed_s")}

    def _record(self, position_steps: float, fwhm_arcsec: float) -> None:
        """Append one exposure to the history (at the current temperature and time)."""
        for key, val in (("position_steps", position_steps), ("fwhm_arcsec", fwhm_arcsec),
                         ("temperature_degc", self._temperature_now()),
                         ("elapsed_s", self.elapsed_s)):  # type: ignore[attr-defined]
            self.history[key].append(float(val))

    def _obs(self) -> np.ndarray:
        f = self.history["fwhm_arcsec"]
        obs = np.array([self.unit_of(self.position_steps),  # type: ignore[attr-defined]
                        f[-1] if f else 0.0, min(f) if f else 0.0, self._temperature_now(),
                        len(f)])
        space = self.observation_space  # type: ignore[attr-defined]
        return np.clip(obs, space.low, space.high).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        hist = {k: np.array(v, float) for k, v in self.history.items()}
        hist["position_unit"] = self.unit_of(hist["position_steps"])
        pos = self.position_steps  # type: ignore[attr-defined]
        return {"position_steps": pos, "position_unit": float(self.unit_of(pos)),
                "temperature_degc": self._temperature_now(),
                "elapsed_s": self.elapsed_s,  # type: ignore[attr-defined]
                "exposures": len(self.history["fwhm_arcsec"]), "history": hist,
                **self._info_extra()}

    def _check_position(self, action: Any) -> float:
        """Validate an action; return the target position in steps (nothing moves).

        Raises:
            UnsafeActionError: not one finite number in the travel `[0, 1]`,
                or the episode's exposures are spent.
        """
        if not getattr(self, "_started", False):
            raise UnsafeActionError("the focus run has not started", "call reset() first")
        x = np.asarray(action, dtype=float).reshape(-1)
        if x.shape != (1,):
            raise UnsafeActionError(f"action of shape {np.shape(action)} for a focuser",
                                    "pass one normalised position in [0, 1]")
        if not np.isfinite(x[0]) or x[0] < -_ACTION_TOL or x[0] > 1 + _ACTION_TOL:
            lo, hi = self.travel_steps  # type: ignore[attr-defined]
            raise UnsafeActionError(f"focuser position {x[0]!r} (normalised) is outside the "
                                    f"travel [{lo:g}, {hi:g}] steps",
                                    "actions are normalised; clip them to [0, 1]")
        if len(self.history["fwhm_arcsec"]) >= self.max_exposures:  # type: ignore
            raise UnsafeActionError(f"the {self.max_exposures} exposures of this run are spent",
                                    "call reset() to start a new focus run")
        return float(self.steps_of(np.clip(x[0], 0.0, 1.0)))


class AutofocusEnv(FocusHooks, gym.Env):
    """Focus a telescope: choose focuser positions, measure star FWHM.

    Args:
        travel_min_steps: Lowest focuser position allowed (action 0).
        travel_max_steps: Highest focuser position allowed (action 1).
        fwhm_min_arcsec: Seeing floor: the FWHM at perfect focus.
        slope_arcsec_per_step: Slope of the V-curve's asymptotes.
        temp_coeff_steps_per_degc: Shift of best focus per degree Celsius.
        temp_start_degc: Mean tube temperature at the start of the episode.
        cooling_degc_per_h: Linear drift of the mean temperature.
        temp_std_degc: Stationary standard deviation of the AR(1) temperature.
        temp_tau_s: Correlation time of the AR(1) temperature (seconds).
        noise_frac: Multiplicative measurement noise (log-normal sigma).
        exposure_s: Exposure time per frame.
        readout_s: Camera readout time per frame.
        focuser_speed_steps_per_s: Focuser speed.
        focus_margin_frac: Best focus at the start is drawn uniformly in the
            travel without this fraction at each end.
        in_focus_frac: ``truth_in_focus`` when the true FWHM is within this
            fraction of ``fwhm_min_arcsec``.
        max_exposures: Exposures per episode.
        render_mode: Only ``None`` is supported.

    Raises:
        ConfigError: for an empty travel, a non-positive width, slope,
            speed or budget, or a negative noise or time.
    """

    metadata = {"render_modes": []}

    def __init__(self, travel_min_steps: float = 0.0, travel_max_steps: float = 4000.0,
                 fwhm_min_arcsec: float = 2.0, slope_arcsec_per_step: float = 0.01,
                 temp_coeff_steps_per_degc: float = -30.0, temp_start_degc: float = 10.0,
                 cooling_degc_per_h: float = -0.5, temp_std_degc: float = 0.3,
                 temp_tau_s: float = 1800.0, noise_frac: float = 0.05, exposure_s: float = 5.0,
                 readout_s: float = 2.0, focuser_speed_steps_per_s: float = 500.0,
                 focus_margin_frac: float = 0.25, in_focus_frac: float = 0.05,
                 max_exposures: int = 30, render_mode: str | None = None) -> None:
        lo, hi = float(travel_min_steps), float(travel_max_steps)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ConfigError(f"travel [{travel_min_steps}, {travel_max_steps}] steps is empty",
                              "travel_max_steps must exceed travel_min_steps")
        self.travel_steps = (lo, hi)
        self.fwhm_min_arcsec = _positive("fwhm_min_arcsec", fwhm_min_arcsec, "e.g. 2.0 arcsec")
        self.slope_arcsec_per_step = _positive("slope_arcsec_per_step", slope_arcsec_per_step,
                                               "e.g. 0.01 arcsec per step")
        if not math.isfinite(float(temp_coeff_steps_per_degc)):
            raise ConfigError(f"temp_coeff_steps_per_degc = {temp_coeff_steps_per_degc} "
                              "is not finite", "e.g. -30 steps per degC")
        self.temp_coeff_steps_per_degc = float(temp_coeff_steps_per_degc)
        if not abs(float(temp_start_degc)) < _TEMP_MAX_DEGC:
            raise ConfigError(f"temp_start_degc = {temp_start_degc} is outside "
                              f"(-{_TEMP_MAX_DEGC}, {_TEMP_MAX_DEGC})", "e.g. 10 degC")
        self.temp_start_degc = float(temp_start_degc)
        if not math.isfinite(float(cooling_degc_per_h)):
            raise ConfigError(f"cooling_degc_per_h = {cooling_degc_per_h} is not finite",
                              "e.g. -0.5 degC per hour")
        self.cooling_degc_per_h = float(cooling_degc_per_h)
        self.temp_std_degc = _positive("temp_std_degc", temp_std_degc, "e.g. 0.3", True)
        self.temp_tau_s = _positive("temp_tau_s", temp_tau_s, "e.g. 1800 s")
        self.noise_frac = _positive("noise_frac", noise_frac, "e.g. 0.05 (5%)", True)
        self.exposure_s = _positive("exposure_s", exposure_s, "e.g. 5 s", True)
        self.readout_s = _positive("readout_s", readout_s, "e.g. 2 s", True)
        self.focuser_speed_steps_per_s = _positive(
            "focuser_speed_steps_per_s", focuser_speed_steps_per_s, "e.g. 500 steps/s")
        if not 0.0 <= float(focus_margin_frac) < 0.5:
            raise ConfigError(f"focus_margin_frac = {focus_margin_frac} is outside [0, 0.5)",
                              "e.g. 0.25")
        self.focus_margin_frac = float(focus_margin_frac)
        self.in_focus_frac = _positive("in_focus_frac", in_focus_frac, "e.g. 0.05 (5%)")
        if int(max_exposures) < 1:
            raise ConfigError(f"max_exposures = {max_exposures} must be at least 1",
                              "e.g. max_exposures = 30")
        self.max_exposures = int(max_exposures)
        if render_mode is not None:
            raise ConfigError(f"render_mode = {render_mode!r} is not supported", "use None")
        self.render_mode = render_mode
        self.action_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        high = np.array([1.0, _FWHM_MAX_ARCSEC, _FWHM_MAX_ARCSEC, _TEMP_MAX_DEGC,
                         self.max_exposures], np.float32)
        self.observation_space = spaces.Box(_OBS_LOW, high, shape=(5,), dtype=np.float32)
        self._started = False

    # ------------------------------------------------------------- physics
    def _mean_temp_degc(self) -> float:
        return self.temp_start_degc + self.cooling_degc_per_h * self.elapsed_s / 3600.0

    @property
    def temperature_degc(self) -> float:
        """Current tube temperature."""
        return float(np.clip(self._mean_temp_degc() + self._temp_dev_degc,
                             -_TEMP_MAX_DEGC, _TEMP_MAX_DEGC))

    @property
    def best_position_steps(self) -> float:
        """True best focus now (simulator truth)."""
        shift = self.temp_coeff_steps_per_degc * (self.temperature_degc - self.temp_start_degc)
        return float(np.clip(self._best_pos0_steps + shift, *self.travel_steps))

    def fwhm_true_arcsec(self, pos_steps: np.ndarray | float) -> np.ndarray:
        """Noise-free FWHM at focuser positions, at the current temperature."""
        return vcurve_fwhm_arcsec(pos_steps, self.best_position_steps, self.fwhm_min_arcsec,
                                  self.slope_arcsec_per_step)

    def _advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass: the clock and the AR(1) temperature move."""
        if dt_s <= 0:
            return
        a = math.exp(-dt_s / self.temp_tau_s)
        eps = float(self.np_random.normal())
        self._temp_dev_degc = a * self._temp_dev_degc + self.temp_std_degc * math.sqrt(
            1.0 - a * a) * eps
        self.elapsed_s += dt_s

    # ---------------------------------------------------------------- state
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new focus run: draws best focus, start position and temperature."""
        super().reset(seed=seed)
        rng = self.np_random
        lo, hi = self.travel_steps
        m = self.focus_margin_frac * (hi - lo)
        self._best_pos0_steps = float(rng.uniform(lo + m, hi - m))
        self.position_steps = float(rng.uniform(lo, hi))
        self._temp_dev_degc = float(rng.normal(0.0, self.temp_std_degc))
        self.elapsed_s = 0.0
        self._new_history()
        self.truth_log: dict[str, list[float]] = {"fwhm_arcsec": [], "in_focus": [],
                                                  "best_position_steps": []}
        self._started = True
        return self._obs(), self._info()

    def _truth_metrics(self) -> dict[str, float]:
        """Against the simulator's truth: how soon in focus, how well it stayed there.

        Returns:
            ``exposures_to_focus`` (first exposure whose true FWHM is within
            ``in_focus_frac`` of the seeing floor; ``max_exposures + 1`` if
            none), ``in_focus_after_fraction`` (exposures in focus from then
            on), ``final_true_fwhm_arcsec``, ``final_focus_error_steps`` (distance
            of the last position from the true best focus then) and ``seeing_floor_arcsec``.
        """
        t = {k: np.asarray(v, float) for k, v in self.truth_log.items()}
        out = {"seeing_floor_arcsec": self.fwhm_min_arcsec}
        if not t["fwhm_arcsec"].size:
            return out
        hit = np.flatnonzero(t["in_focus"] > 0)
        first = int(hit[0]) if hit.size else None
        out.update({
            "exposures_to_focus": float(first + 1 if first is not None
                                        else self.max_exposures + 1),
            "in_focus_after_fraction": float(t["in_focus"][first:].mean())
            if first is not None else 0.0,
            "final_true_fwhm_arcsec": float(t["fwhm_arcsec"][-1]),
            "final_focus_error_steps": float(abs(self.history["position_steps"][-1]
                                                 - t["best_position_steps"][-1]))})
        return out

    def _temperature_now(self) -> float:
        return self.temperature_degc

    def _info_extra(self) -> dict[str, Any]:
        return {"truth_best_position_steps": self.best_position_steps,
                "truth_fwhm_min_arcsec": self.fwhm_min_arcsec}

    # ------------------------------------------------------------------ step
    def check_action(self, action: Any) -> float:
        """Validate an action; return the target position in steps (no side effects).

        Raises:
            UnsafeActionError: not one finite number in the travel `[0, 1]`,
                or the episode's exposures are spent.
        """
        return self._check_position(action)

    def step(self, action: Any):
        """Move the focuser to ``action`` (normalised), expose and measure the FWHM."""
        target = self.check_action(action)
        move_s = abs(target - self.position_steps) / self.focuser_speed_steps_per_s
        self.position_steps = target
        self._advance(move_s + self.exposure_s)
        true = float(self.fwhm_true_arcsec(target))
        noise = float(self.np_random.normal(0.0, self.noise_frac)) if self.noise_frac else 0.0
        fwhm = true * math.exp(noise)
        self.elapsed_s += self.readout_s
        self._record(target, fwhm)
        overheads = {"move": move_s, "exposure": self.exposure_s, "readout": self.readout_s}
        in_focus = bool(true <= (1.0 + self.in_focus_frac) * self.fwhm_min_arcsec)
        for key, val in (("fwhm_arcsec", true), ("in_focus", in_focus),
                         ("best_position_steps", self.best_position_steps)):
            self.truth_log[key].append(float(val))
        info = self._info()
        info.update({"fwhm_arcsec": fwhm, "cost_s": float(sum(overheads.values())),
                     "overheads_s": overheads, "truth_fwhm_arcsec": true,
                     "truth_in_focus": in_focus})
        terminated = len(self.history["fwhm_arcsec"]) >= self.max_exposures
        return self._obs(), float(-fwhm), bool(terminated), False, info
