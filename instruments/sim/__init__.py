"""Simulated observatory: a seeded night at a telescope for steering policies.

Importing this package configures astropy to work offline (no IERS download).
"""

from steer.instruments.sim._offline import configure_astropy_offline

configure_astropy_offline()

from steer.instruments.sim.almanac import SIDEREAL_DEG_PER_DAY, Almanac  # noqa: E402
from steer.instruments.sim.catalog import REQUIRED_COLUMNS, Catalog  # noqa: E402
from steer.instruments.sim.geometry import (  # noqa: E402
    airmass,
    altaz_deg,
    altaz_sep_deg,
    angular_sep_deg,
    radec_from_altaz_deg,
    slew_components_s,
    slew_time_s,
    trapezoid_time_s,
)
from steer.instruments.sim.observatory import SimulatedObservatory  # noqa: E402
from steer.instruments.sim.presets import (  # noqa: E402
    BANDS,
    DEFAULT_PRESET,
    PRESETS,
    ObservatoryConfig,
    get_preset,
    with_overrides,
)
from steer.instruments.sim.sky import (  # noqa: E402
    EFFECTIVE_WAVELENGTH_NM,
    MOON_COLOUR_MAG,
    fwhm_eff_arcsec,
    m5_mag,
    mag_error,
    moonlight_nanolamberts,
    noisy_mag,
    sky_brightness_mag_arcsec2,
)
from steer.instruments.sim.truth import (  # noqa: E402
    KIND_CONSTANT,
    KIND_NAMES,
    KIND_PERIODIC,
    KIND_TRANSIENT,
    SkyTruth,
)
from steer.instruments.sim.weather import Weather, ar1_series, sky_plane_xy  # noqa: E402

__all__ = [
    "Almanac",
    "BANDS",
    "Catalog",
    "DEFAULT_PRESET",
    "EFFECTIVE_WAVELENGTH_NM",
    "KIND_CONSTANT",
    "KIND_NAMES",
    "KIND_PERIODIC",
    "KIND_TRANSIENT",
    "MOON_COLOUR_MAG",
    "ObservatoryConfig",
    "PRESETS",
    "REQUIRED_COLUMNS",
    "SIDEREAL_DEG_PER_DAY",
    "SimulatedObservatory",
    "SkyTruth",
    "Weather",
    "airmass",
    "altaz_deg",
    "altaz_sep_deg",
    "angular_sep_deg",
    "ar1_series",
    "configure_astropy_offline",
    "fwhm_eff_arcsec",
    "get_preset",
    "m5_mag",
    "mag_error",
    "moonlight_nanolamberts",
    "noisy_mag",
    "radec_from_altaz_deg",
    "sky_brightness_mag_arcsec2",
    "sky_plane_xy",
    "slew_components_s",
    "slew_time_s",
    "trapezoid_time_s",
    "with_overrides",
]
