"""What a policy may know about an episode: the typed contexts handed to ``policy.reset``.

Each kind of environment builds one after ``reset`` (``policy_context()``);
policies read these fields and the observation's named features, never the
environment's internals.

* :class:`CatalogContext`: target selection (the catalog, the exposure set,
  the instrument's cost model and limits, site and almanac, the history);
* :class:`BoxContext`: a point of a bounded box (black box, autofocus);
* :class:`PoolContext`: an index into a fixed candidate pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from steer.errors import ConfigError
from steer.types import PolicyContext

if TYPE_CHECKING:
    from steer.instruments.sim import Almanac, Catalog, ObservatoryConfig
    from steer.instruments.telescope import Action

__all__ = ["CatalogContext", "BoxContext", "PoolContext", "require_context"]


def require_context(context: Any, kind: type, policy: str, hint: str) -> Any:
    """Return ``context`` if it is a ``kind``, else raise a one-line :class:`ConfigError`."""
    if not isinstance(context, kind):
        raise ConfigError(f"policy {policy!r} needs a {kind.__name__}, got "
                          f"{type(context).__name__}", hint)
    return context


@dataclass(frozen=True)
class CatalogContext(PolicyContext):
    """What a target-selection policy may know about a night.

    Attributes:
        catalog: The targets (ids, ICRS positions, magnitudes, bands, priorities).
        exptimes_s: The exposure times a proposal may use, seconds.
        default_exptime_index: Index of the exposure fixed-exposure schedulers use.
        target_features: Names of the columns of ``observation["targets"]``.
        global_features: Names of the entries of ``observation["globals"]``.
        instrument: The telescope's configuration: site (``site_lat_deg``...),
            limits (``alt_min_deg``, ``airmass_max``, ``moon_sep_min_deg``...)
            and cost model (slew rates, ``settle_s``, ``readout_s``,
            ``shutter_s``, ``filter_change_s``, ``saturation_mag_30s``).
        almanac: Sun, Moon, sidereal time and twilight of the night.
        night_start_mjd: Start of the observing window (MJD).
        night_end_mjd: End of the observing window (MJD).
        grid_points: Times in the night at which information is integrated.
        history: Earlier visits, public like an archive query: arrays
            ``target_index``, ``mjd``, ``mag``, ``error_mag``.
    """

    catalog: Catalog
    exptimes_s: tuple[float, ...]
    default_exptime_index: int
    target_features: tuple[str, ...]
    global_features: tuple[str, ...]
    instrument: ObservatoryConfig
    almanac: Almanac
    night_start_mjd: float
    night_end_mjd: float
    grid_points: int
    history: dict[str, np.ndarray]

    def target_feature(self, name: str) -> int:
        """Column of the per-target feature ``name`` in ``observation["targets"]``."""
        return self.target_features.index(name)

    def global_feature(self, name: str) -> int:
        """Entry of the global feature ``name`` in ``observation["globals"]``."""
        return self.global_features.index(name)

    def make_action(self, target_index: int, exptime_index: int) -> Action:
        """The :class:`~steer.instruments.telescope.Action` for a (target, exposure) pair."""
        from steer.instruments.telescope import Action

        return Action(int(target_index), self.exptimes_s[int(exptime_index)],
                      str(self.catalog.target_id[int(target_index)]))


@dataclass(frozen=True)
class BoxContext(PolicyContext):
    """What a policy may know about an episode whose action is a point of a box.

    Attributes:
        low: Lower bounds of the action box (``d``-dim).
        high: Upper bounds of the action box (``d``-dim).
        observation_names: One name per observation entry.
        objective_name: The measurement key the episode minimises.
    """

    low: np.ndarray
    high: np.ndarray
    observation_names: tuple[str, ...]
    objective_name: str

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the box."""
        return int(np.asarray(self.low).size)


@dataclass(frozen=True)
class PoolContext(PolicyContext):
    """What a policy may know about an episode over a fixed candidate pool.

    Attributes:
        pool_unit: `N x d` candidate coordinates in the unit box.
        cost_s: Each candidate's cost (seconds).
        observation_names: One name per observation entry.
        objective_name: The measurement key the episode minimises.
    """

    pool_unit: np.ndarray
    cost_s: np.ndarray
    observation_names: tuple[str, ...]
    objective_name: str
