"""What a night of target selection accepts as an action, and the checks before one is sent.

:class:`NightActions` (a mixin of
:class:`~steer.envs.target_selection.TargetSelectionEnv`) builds
:class:`~steer.instruments.telescope.Action` objects from ``(target,
exposure)`` indices, predicts which exposures would saturate (the
``exposure_mask`` every policy ranks with) and refuses an action that would
break a limit before any command reaches the instrument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steer.errors import UnsafeActionError
from steer.instruments.telescope import Action, Measurement

__all__ = ["NightActions", "SATURATION_MARGIN_MAG"]

#: Catalog magnitudes this much fainter than the saturation limit count as safe.
SATURATION_MARGIN_MAG = 0.3


class NightActions:
    """Actions of a night: building, checking and the feasibility the policies see (a mixin).

    The host environment provides ``observatory``, ``catalog``, ``config``,
    ``n_targets``, ``end_mjd``, ``exptimes_s``, ``default_exptime_index``,
    ``feasible_mask()`` and ``_obs()``.
    """

    def exposure_mask(self, feasible: np.ndarray | None = None) -> np.ndarray:
        """`N x E`: feasible targets at the exposures predicted not to saturate.

        The prediction is public: the catalog magnitude against the preset's
        saturation limit at that exposure (``sat_30s + 2.5 log10(t / 30 s)``,
        as the simulator has it), with :data:`SATURATION_MARGIN_MAG` for the
        variability the catalog does not show. A target every exposure of which
        saturates keeps none.
        """
        feasible = self.feasible_mask() if feasible is None else feasible
        if getattr(self, "_sat_n", -1) != self.n_targets:
            sat = self.config.saturation_mag_30s
            self._sat30 = np.array([sat[b] for b in np.asarray(self.catalog.band)], float)
            self._cat_mag = np.asarray(self.catalog.mag, float)
            self._sat_n = self.n_targets
        limit = self._sat30[:, None] + 2.5 * np.log10(np.asarray(self.exptimes_s) / 30.0)
        return feasible[:, None] & (self._cat_mag[:, None] > limit + SATURATION_MARGIN_MAG)


    def _info(self) -> dict[str, Any]:
        feasible = self.feasible_mask()
        return {"action_mask": feasible, "exposure_mask": self.exposure_mask(feasible),
                "mjd": float(self.observatory.mjd),
                "night_start_mjd": float(self.observatory.night_start_mjd),
                "night_end_mjd": self.end_mjd, "exptimes_s": self.exptimes_s,
                "default_exptime_index": self.default_exptime_index}


    def make_action(self, target_index: int, exptime_index: int) -> Action:
        """Build the :class:`Action` for a (target, exposure) pair."""
        return Action(int(target_index), self.exptimes_s[int(exptime_index)],
                      str(self.catalog.target_id[int(target_index)]))


    def observe(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The observation and info now, without letting time pass (after a ToO joined)."""
        return self._obs(), self._info()


    def action_from_dict(self, data: dict[str, Any]) -> Action:
        """The action a journal record holds (to honour a journaled operator decision)."""
        return Action(int(data["target_index"]), float(data["exptime_s"]),
                      str(data.get("target_id", "")))


    def env_action(self, action: Action) -> np.ndarray:
        """The ``(target_index, exptime_index)`` array ``step`` takes for an :class:`Action`.

        Raises:
            UnsafeActionError: not an Action, or an exposure time not offered.
        """
        try:
            return np.array([action.target_index, self.exptimes_s.index(action.exptime_s)])
        except (AttributeError, ValueError) as exc:
            raise UnsafeActionError(f"action {action!r} is not a target with an exposure time "
                                    f"from {list(self.exptimes_s)} s",
                                    "propose an Action built by make_action()") from exc


    def check_action(self, action: Action | np.ndarray) -> None:
        """Raise UnsafeActionError if ``action`` would violate a limit (no side effects).

        Args:
            action: An :class:`Action`, or the ``(target_index, exptime_index)``
                array of :meth:`env_action`.
        """
        if not isinstance(action, Action):
            try:
                target, e_idx = (int(v) for v in np.asarray(action).reshape(-1))
                if not (0 <= target < self.n_targets and 0 <= e_idx < len(self.exptimes_s)):
                    raise IndexError
            except (TypeError, ValueError, IndexError) as exc:
                raise UnsafeActionError(
                    f"action {action!r} is not a (target index < {self.n_targets}, "
                    f"exposure index < {len(self.exptimes_s)}) pair",
                    "pass env_action(Action)") from exc
            action = self.make_action(target, e_idx)
        if self.observatory.mjd >= self.end_mjd:
            raise UnsafeActionError("the observing window is over", "end the night")
        self.observatory.check(action)


    def measurement_of(self, info: dict[str, Any]) -> Measurement | None:
        """The :class:`~steer.types.Measurement` of a step (``None`` if refused)."""
        return info.get("measurement")
