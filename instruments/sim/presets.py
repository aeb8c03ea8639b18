"""Observatory presets: site, overheads, throughput and limits of a simulated telescope.

Two presets ship with ``steer``:

* ``"rubin-like"``: the Vera C. Rubin Observatory's published constants
  (kinematics from rubin_scheduler ``model_observatory/kinem_model.py``,
  throughput from rubin_scheduler ``utils/sys_eng_vals.py``, syseng_throughputs
  v1.9; site from rubin_scheduler ``utils/site.py``).
* ``"small-robotic"`` (the default): a ~1-m class robotic telescope at La Silla,
  with the Rubin throughput scaled down by collecting area.

Every constant names its source beside it (see ``docs/physics.md``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from steer.errors import ConfigError

__all__ = [
    "BANDS",
    "ObservatoryConfig",
    "PRESETS",
    "DEFAULT_PRESET",
    "get_preset",
    "with_overrides",
]

#: Photometric bands every preset supports, blue to red (Rubin filter set).
BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z", "y")

# rubin_scheduler utils/sys_eng_vals.py (syseng_throughputs v1.9), rounded to 0.01 mag.
_RUBIN_C_M = {"u": 22.97, "g": 24.58, "r": 24.60, "i": 24.54, "z": 24.37, "y": 23.84}
_RUBIN_K_EXT = {"u": 0.470, "g": 0.213, "r": 0.126, "i": 0.096, "z": 0.068, "y": 0.171}
_RUBIN_DARK_SKY = {"u": 23.05, "g": 22.25, "r": 21.20, "i": 20.46, "z": 19.61, "y": 18.60}

# Saturation of a 30 s Rubin exposure. Ivezic et al. 2019 (ApJ 873, 111, astrometry section) give the
# LSST saturation limit as r ~ 16 mag for its 15 s snaps, i.e. r ~ 16.75 for 30 s; the other
# bands follow the relative depths of Table 2 of the same paper (m5 - 7.6 mag). Approximate.
_RUBIN_SAT_30S = {"u": 16.2, "g": 17.2, "r": 16.75, "i": 16.3, "z": 15.7, "y": 14.9}

# Small robotic telescope: zero points scaled from Rubin by collecting area. Rubin's
# effective clear aperture is 6.423 m (SMTN-002); a 1.0 m mirror collects (1/6.423)^2 of
# that. In the sky-limited regime m5 scales as 1.25 log10(area), so C_m shifts by
# 1.25*log10((1/6.423)^2) = -2.02 mag; the saturation limit (a source-count limit)
# scales as 2.5*log10(area) = -4.04 mag.
_SMALL_AREA_RATIO = (1.0 / 6.423) ** 2
_SMALL_DCM = 1.25 * math.log10(_SMALL_AREA_RATIO)
_SMALL_DSAT = 2.5 * math.log10(_SMALL_AREA_RATIO)


@dataclass(frozen=True)
class ObservatoryConfig:
    """Everything the simulator needs to know about one telescope and its site.

    Attributes:
        name: Preset name (for logs and ``describe()``).
        site_lat_deg: Geodetic latitude of the site in degrees (north positive).
        site_lon_deg: Longitude of the site in degrees (east positive).
        site_height_m: Height of the site above the ellipsoid in metres.
        readout_s: Detector readout time per exposure in seconds.
        shutter_s: Shutter open+close time per exposure in seconds (added to readout).
        slew_az_deg_per_s: Maximum azimuth slew speed of the mount, deg/s.
        slew_alt_deg_per_s: Maximum altitude slew speed of the mount, deg/s.
        slew_az_acc_deg_per_s2: Azimuth acceleration (= deceleration) of the mount, deg/s^2.
        slew_alt_acc_deg_per_s2: Altitude acceleration (= deceleration), deg/s^2.
        dome_az_deg_per_s: Maximum dome azimuth speed in deg/s; ``None`` for no dome
            (or a dome that never limits the slew).
        settle_s: Mount settle time after any motion, seconds.
        filter_change_s: Time to change filter, seconds.
        fwhm_sys_arcsec: Zenith FWHM of the telescope+camera system, arcsec.
        pixel_scale_arcsec: Detector pixel scale, arcsec/pixel.
        c_m: Per-band depth zero point C_m of the m5 formula, mag (band -> value).
        k_ext: Per-band atmospheric extinction coefficient, mag per airmass.
        dark_sky_mag_arcsec2: Per-band dark zenith sky brightness, AB mag/arcsec^2.
        saturation_mag_30s: Per-band magnitude at which a 30 s exposure saturates;
            for ``t`` seconds the limit is ``sat_30s + 2.5*log10(t/30)``.
        alt_min_deg: Lowest altitude the telescope may point to, deg (Rubin: 20).
        alt_max_deg: Highest altitude (zenith avoidance), deg (Rubin: 86.5).
        airmass_max: Highest allowed airmass (physics.md: 2.0; LCO uses 1.6).
        moon_min_sep_deg: Minimum target-Moon separation while the Moon is up, deg
            (Rubin mask: 30).
        sun_alt_max_deg: Observing night is Sun altitude below this, deg (Rubin: -12).
        dome_close_cloud_fraction: The dome closes when the cloud fraction exceeds
            this (Rubin model observatory: 0.3).
        dome_az_acc_deg_per_s2: Dome azimuth acceleration in deg/s^2 (``None``:
            the dome reaches full speed at once). Rubin kinem_model: 0.75.
        dome_az_free_range_deg: Azimuth move the dome slit absorbs without moving,
            deg. Rubin kinem_model: 4.0.
        exptime_max_s: Longest exposure the instrument accepts, seconds.
    """

    name: str
    site_lat_deg: float
    site_lon_deg: float
    site_height_m: float
    readout_s: float
    shutter_s: float
    slew_az_deg_per_s: float
    slew_alt_deg_per_s: float
    slew_az_acc_deg_per_s2: float
    slew_alt_acc_deg_per_s2: float
    dome_az_deg_per_s: float | None
    settle_s: float
    filter_change_s: float
    fwhm_sys_arcsec: float
    pixel_scale_arcsec: float
    c_m: dict[str, float]
    k_ext: dict[str, float]
    dark_sky_mag_arcsec2: dict[str, float]
    saturation_mag_30s: dict[str, float] = field(default_factory=lambda: dict(_RUBIN_SAT_30S))
    alt_min_deg: float = 20.0
    alt_max_deg: float = 86.5
    airmass_max: float = 2.0
    moon_min_sep_deg: float = 30.0
    sun_alt_max_deg: float = -12.0
    dome_close_cloud_fraction: float = 0.3
    dome_az_acc_deg_per_s2: float | None = None
    dome_az_free_range_deg: float = 0.0
    exptime_max_s: float = 600.0

    def __post_init__(self) -> None:
        """Validate ranges and that every band has every per-band constant."""
        for attr in ("c_m", "k_ext", "dark_sky_mag_arcsec2", "saturation_mag_30s"):
            table = getattr(self, attr)
            missing = [b for b in BANDS if b not in table]
            if missing:
                raise ConfigError(
                    f"ObservatoryConfig {self.name!r}: {attr} lacks bands {missing}",
                    hint=f"give a value for each of {list(BANDS)}",
                )
        if not -90.0 <= self.site_lat_deg <= 90.0:
            raise ConfigError(f"site_lat_deg={self.site_lat_deg} is outside [-90, 90]")
        positive = ("readout_s", "slew_az_deg_per_s", "slew_alt_deg_per_s",
                    "slew_az_acc_deg_per_s2", "slew_alt_acc_deg_per_s2",
                    "fwhm_sys_arcsec", "pixel_scale_arcsec", "airmass_max", "exptime_max_s")
        for attr in positive:
            if not getattr(self, attr) > 0:
                raise ConfigError(f"{attr}={getattr(self, attr)} must be > 0")
        for attr in ("shutter_s", "settle_s", "filter_change_s", "dome_az_free_range_deg"):
            if not getattr(self, attr) >= 0:
                raise ConfigError(f"{attr}={getattr(self, attr)} must be >= 0")
        for attr in ("dome_az_deg_per_s", "dome_az_acc_deg_per_s2"):
            value = getattr(self, attr)
            if value is not None and not value > 0:
                raise ConfigError(f"{attr}={value} must be > 0 or None")
        if not 0.0 <= self.alt_min_deg < self.alt_max_deg <= 90.0:
            raise ConfigError(
                f"altitude limits alt_min_deg={self.alt_min_deg}, "
                f"alt_max_deg={self.alt_max_deg} must satisfy 0 <= min < max <= 90"
            )
        if not 0.0 <= self.dome_close_cloud_fraction <= 1.0:
            raise ConfigError(
                f"dome_close_cloud_fraction={self.dome_close_cloud_fraction} is outside [0, 1]"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)


RUBIN_LIKE = ObservatoryConfig(
    name="rubin-like",
    # rubin_scheduler utils/site.py, Site("LSST").
    site_lat_deg=-30.2444,
    site_lon_deg=-70.7494,
    site_height_m=2650.0,
    # rubin_scheduler kinem_model.py setup_camera / setup_telescope / setup_dome.
    readout_s=2.0,
    shutter_s=1.0,
    slew_az_deg_per_s=7.0,
    slew_alt_deg_per_s=3.5,
    slew_az_acc_deg_per_s2=7.0,
    slew_alt_acc_deg_per_s2=3.5,
    dome_az_deg_per_s=1.5,
    settle_s=3.0,
    filter_change_s=120.0,
    # rubin_scheduler seeing_model.py: sqrt(0.25^2 + 0.08^2 + 0.30^2) = 0.40".
    fwhm_sys_arcsec=0.40,
    pixel_scale_arcsec=0.2,  # LSSTCam, Ivezic et al. 2019.
    c_m=dict(_RUBIN_C_M),
    k_ext=dict(_RUBIN_K_EXT),
    dark_sky_mag_arcsec2=dict(_RUBIN_DARK_SKY),
    saturation_mag_30s=dict(_RUBIN_SAT_30S),
    dome_az_acc_deg_per_s2=0.75,  # kinem_model setup_dome azimuth_accel.
    dome_az_free_range_deg=4.0,  # kinem_model setup_dome azimuth_freerange.
)

SMALL_ROBOTIC = ObservatoryConfig(
    name="small-robotic",
    # ESO La Silla Observatory: 29 deg 15' 40" S, 70 deg 43' 53" W, 2400 m.
    site_lat_deg=-29.2611,
    site_lon_deg=-70.7314,
    site_height_m=2400.0,
    # Typical 1-m robotic telescopes (physics.md: readout 10-27 s, ~2 deg/s, settle 1-3 s,
    # filter ~30 s; e.g. LCO 1-m Sinistro reads out in ~15 s at 0.389"/pix).
    readout_s=15.0,
    shutter_s=0.5,
    slew_az_deg_per_s=2.0,
    slew_alt_deg_per_s=2.0,
    slew_az_acc_deg_per_s2=1.0,
    slew_alt_acc_deg_per_s2=1.0,
    dome_az_deg_per_s=3.0,
    settle_s=2.0,
    filter_change_s=30.0,
    fwhm_sys_arcsec=0.8,  # Typical 1-m class optics + tracking + dome seeing.
    pixel_scale_arcsec=0.389,
    c_m={b: round(v + _SMALL_DCM, 3) for b, v in _RUBIN_C_M.items()},
    k_ext=dict(_RUBIN_K_EXT),  # Chilean site, same atmosphere as Cerro Pachon.
    dark_sky_mag_arcsec2=dict(_RUBIN_DARK_SKY),
    saturation_mag_30s={b: round(v + _SMALL_DSAT, 3) for b, v in _RUBIN_SAT_30S.items()},
)

#: Name of the preset used when none is given.
DEFAULT_PRESET = "small-robotic"

#: Every shipped preset by name.
PRESETS: dict[str, ObservatoryConfig] = {
    RUBIN_LIKE.name: RUBIN_LIKE,
    SMALL_ROBOTIC.name: SMALL_ROBOTIC,
}


def get_preset(name: str = DEFAULT_PRESET) -> ObservatoryConfig:
    """Return the preset called ``name``.

    Args:
        name: One of the keys of :data:`PRESETS`.

    Returns:
        The (immutable) configuration.

    Raises:
        ConfigError: If no preset has that name; the message lists the valid ones.
    """
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown observatory preset {name!r}",
            hint=f"valid presets: {', '.join(sorted(PRESETS))}",
        ) from None


def with_overrides(config: ObservatoryConfig, **fields: Any) -> ObservatoryConfig:
    """Return a copy of ``config`` with some fields replaced.

    Args:
        config: The configuration to copy.
        **fields: Field names and their new values.

    Returns:
        A new, validated :class:`ObservatoryConfig`.

    Raises:
        ConfigError: If a field name is unknown or a new value is out of range.
    """
    valid = {f.name for f in dataclasses.fields(ObservatoryConfig)}
    unknown = sorted(set(fields) - valid)
    if unknown:
        raise ConfigError(
            f"unknown ObservatoryConfig field(s) {unknown}",
            hint=f"valid fields: {', '.join(sorted(valid))}",
        )
    return dataclasses.replace(config, **fields)
