"""What a telescope is asked to do and what comes back: the action and measurement types.

Shared by every telescope instrument (the simulated observatory, the INDI
driver) and the target-selection environment that drives them. All physical
quantities carry their unit in the field name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Action", "Measurement"]


@dataclass(frozen=True)
class Action:
    """One thing the instrument is asked to do.

    Attributes:
        target_index: Row of the target in the catalog.
        exptime_s: Exposure time in seconds.
        target_id: Catalog identifier of the target (for logs and humans).
    """

    target_index: int
    exptime_s: float
    target_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


@dataclass(frozen=True)
class Measurement:
    """What came back from the instrument for one action.

    Attributes:
        value_mag: Measured magnitude of the target (NaN if nothing measured).
        error_mag: One-sigma photometric error in magnitudes.
        mjd_mid: Modified Julian Date of the middle of the exposure.
        exptime_s: Exposure time actually used.
        conditions: Conditions during the exposure, units in the keys
            (``seeing_fwhm_arcsec``, ``transparency``, ``airmass``, ``alt_deg``,
            ``m5_mag``, ``sky_mag_arcsec2``...).
        overheads_s: Time spent on the action by phase (``slew``, ``settle``,
            ``filter``, ``exposure``, ``readout``).
        saturated: True when the target was brighter than the saturation limit.
    """

    value_mag: float
    error_mag: float
    mjd_mid: float
    exptime_s: float
    conditions: dict[str, float] = field(default_factory=dict)
    overheads_s: dict[str, float] = field(default_factory=dict)
    saturated: bool = False

    @property
    def elapsed_s(self) -> float:
        """Total wall (or simulated) seconds the action took."""
        return float(sum(self.overheads_s.values()))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


