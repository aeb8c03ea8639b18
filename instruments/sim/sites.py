"""Observatory sites: a small shipped table, astropy's cached list, and site files.

:func:`resolve_site` accepts, in this order:

1. a path to a site TOML file (see :func:`load_site_file`);
2. a name (or alias) in :data:`SITES`, case- and punctuation-insensitive;
3. a name in astropy's site registry, but only if that registry is already in
   astropy's download cache: nothing is downloaded at run time. (astropy 8
   ships no offline site list; without a cached ``sites.json`` this step finds
   nothing.)

Every shipped coordinate names its source. Values are geodetic (WGS84),
longitude east-positive, rounded to 0.0001 deg (~10 m); they were typed by
hand from the cited pages, which is ample for scheduling (an error of 1 km
moves a star's altitude by less than 0.01 deg).

A site file::

    name = "My backyard"
    lat_deg = 48.85
    lon_deg = 2.35
    height_m = 35
    alt_min_deg = 25        # horizon limit (optional, default 30)
    preset = "small-robotic" # telescope preset (optional)
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steer.errors import ConfigError

__all__ = ["Site", "SITES", "DEFAULT_ALT_MIN_DEG", "resolve_site", "site_from_coords",
           "load_site_file", "site_names"]

#: Horizon limit used when a site states none, degrees (issue 12: 30 deg).
DEFAULT_ALT_MIN_DEG = 30.0


@dataclass(frozen=True)
class Site:
    """Where the telescope is.

    Attributes:
        name: Display name.
        lat_deg: Geodetic latitude, degrees north.
        lon_deg: Longitude, degrees east.
        height_m: Height above the WGS84 ellipsoid, metres.
        alt_min_deg: Lowest altitude to observe at (horizon limit), degrees.
        preset: Telescope preset (``steer.instruments.sim.PRESETS``).
        source: Where the coordinates come from.
    """

    name: str
    lat_deg: float
    lon_deg: float
    height_m: float
    alt_min_deg: float = DEFAULT_ALT_MIN_DEG
    preset: str = "small-robotic"
    source: str = ""

    def __post_init__(self) -> None:
        """Validate the ranges (one line naming the bad value)."""
        checks = (("lat_deg", self.lat_deg, -90.0, 90.0), ("lon_deg", self.lon_deg, -180.0, 360.0),
                  ("height_m", self.height_m, -500.0, 9000.0),
                  ("alt_min_deg", self.alt_min_deg, 0.0, 89.0))
        for name, value, lo, hi in checks:
            if not (isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi):
                raise ConfigError(f"site {self.name!r}: {name} = {value!r} is outside "
                                  f"[{lo:g}, {hi:g}]")
        if self.lon_deg > 180.0:
            object.__setattr__(self, "lon_deg", self.lon_deg - 360.0)

    def overrides(self) -> dict[str, float]:
        """The ``ObservatoryConfig`` fields this site sets (site and altitude limit)."""
        return {"site_lat_deg": self.lat_deg, "site_lon_deg": self.lon_deg,
                "site_height_m": self.height_m, "alt_min_deg": self.alt_min_deg}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description."""
        return {"name": self.name, "lat_deg": self.lat_deg, "lon_deg": self.lon_deg,
                "height_m": self.height_m, "alt_min_deg": self.alt_min_deg,
                "preset": self.preset, "source": self.source}


def _s(name: str, lat: float, lon: float, h: float, source: str,
       preset: str = "small-robotic") -> Site:
    return Site(name, lat, lon, h, DEFAULT_ALT_MIN_DEG, preset, source)


_ESO = "ESO, 'Observatory sites' pages (eso.org)"
#: The shipped sites by canonical key; aliases in :data:`_ALIASES`.
SITES: dict[str, Site] = {
    "lasilla": _s("La Silla (ESO)", -29.2611, -70.7314, 2400.0,
                  "ESO La Silla: 29d15m40s S, 70d43m53s W, 2400 m (as presets.SMALL_ROBOTIC)"),
    "paranal": _s("Paranal (ESO VLT)", -24.6272, -70.4042, 2635.0,
                  f"{_ESO}: Paranal 24d37m38s S, 70d24m15s W, 2635 m"),
    "rubin": _s("Cerro Pachon (Rubin Observatory)", -30.2444, -70.7494, 2650.0,
                "rubin_scheduler utils/site.py, Site('LSST')", preset="rubin-like"),
    "ctio": _s("Cerro Tololo (CTIO)", -30.1694, -70.8064, 2207.0,
               "NOIRLab CTIO: 30d10m10s S, 70d48m23s W, 2207 m"),
    "lapalma": _s("Roque de los Muchachos (La Palma)", 28.7594, -17.8919, 2396.0,
                  "IAC, Observatorio del Roque de los Muchachos: 28d45m34s N, 17d53m31s W, "
                  "2396 m"),
    "maunakea": _s("Mauna Kea (summit ridge)", 19.8261, -155.4747, 4160.0,
                   "Maunakea Observatories / W. M. Keck Observatory: 19d49m34s N, "
                   "155d28m29s W, 4160 m"),
    "kittpeak": _s("Kitt Peak (KPNO)", 31.9583, -111.5967, 2096.0,
                   "NOIRLab KPNO: 31d57m30s N, 111d35m48s W, 2096 m"),
    "palomar": _s("Palomar Observatory", 33.3564, -116.8650, 1712.0,
                  "Caltech Palomar: 33d21m23s N, 116d51m54s W, 1712 m"),
    "apachepoint": _s("Apache Point Observatory", 32.7803, -105.8203, 2788.0,
                      "APO: 32d46m49s N, 105d49m13s W, 2788 m"),
    "sidingspring": _s("Siding Spring Observatory", -31.2733, 149.0644, 1165.0,
                       "ANU Siding Spring: 31d16m24s S, 149d03m52s E, 1165 m"),
    "saao": _s("SAAO Sutherland", -32.3794, 20.8106, 1798.0,
               "SAAO Sutherland station: 32d22m46s S, 20d48m38s E, 1798 m"),
    "calaralto": _s("Calar Alto", 37.2236, -2.5461, 2168.0,
                    "CAHA Calar Alto: 37d13m25s N, 2d32m46s W, 2168 m"),
    "greenwich": _s("Royal Observatory Greenwich", 51.4769, -0.0005, 46.0,
                    "Royal Observatory Greenwich, Airy transit circle: 51d28m38s N, "
                    "0d00m02s W, 46 m"),
}

_ALIASES: dict[str, str] = {
    "eso": "lasilla", "vlt": "paranal", "lsst": "rubin", "cerropachon": "rubin",
    "pachon": "rubin", "cerrotololo": "ctio", "tololo": "ctio",
    "roquedelosmuchachos": "lapalma", "orm": "lapalma", "keck": "maunakea",
    "kpno": "kittpeak", "apo": "apachepoint", "sso": "sidingspring", "sutherland": "saao",
    "caha": "calaralto", "rog": "greenwich",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def site_names() -> list[str]:
    """Canonical names of the shipped sites."""
    return list(SITES)


def site_from_coords(lat_deg: float, lon_deg: float, height_m: float,
                     alt_min_deg: float | None = None, name: str | None = None) -> Site:
    """A site given by its coordinates (``--lat --lon --height``)."""
    label = name or f"lat {lat_deg:+.4f} lon {lon_deg:+.4f}"
    return Site(label, float(lat_deg), float(lon_deg), float(height_m),
                DEFAULT_ALT_MIN_DEG if alt_min_deg is None else float(alt_min_deg),
                source="given on the command line")


def load_site_file(path: str | Path) -> Site:
    """Read a site TOML file (``name, lat_deg, lon_deg, height_m[, alt_min_deg, preset]``).

    Raises:
        ConfigError: unreadable file, bad TOML, a missing or unknown key, a
            value out of range or an unknown preset.
    """
    from steer.instruments.sim.presets import PRESETS

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read site file {str(p)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"site file {str(p)!r} is not valid TOML: {exc}") from None
    data = data.get("site", data)
    allowed = {"name", "lat_deg", "lon_deg", "height_m", "alt_min_deg", "preset", "source"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"site file {str(p)!r}: unknown key(s) {unknown}",
                          f"valid keys: {', '.join(sorted(allowed))}")
    missing = [k for k in ("lat_deg", "lon_deg", "height_m") if k not in data]
    if missing:
        raise ConfigError(f"site file {str(p)!r}: missing {', '.join(missing)}",
                          "a site needs lat_deg, lon_deg and height_m")
    preset = str(data.get("preset", "small-robotic"))
    if preset not in PRESETS:
        raise ConfigError(f"site file {str(p)!r}: unknown preset {preset!r}",
                          f"valid presets: {', '.join(sorted(PRESETS))}")
    for k in ("lat_deg", "lon_deg", "height_m", "alt_min_deg"):
        if k in data and (isinstance(data[k], bool) or not isinstance(data[k], int | float)):
            raise ConfigError(f"site file {str(p)!r}: {k} = {data[k]!r} is not a number")
    return Site(str(data.get("name", p.stem)), float(data["lat_deg"]), float(data["lon_deg"]),
                float(data["height_m"]), float(data.get("alt_min_deg", DEFAULT_ALT_MIN_DEG)),
                preset, str(data.get("source", f"site file {p}")))


def _astropy_cached_site(name: str) -> Site | None:
    """A site from astropy's registry if it is already cached (never downloads)."""
    from astropy.utils.data import conf as data_conf

    from steer.instruments.sim._offline import configure_astropy_offline

    configure_astropy_offline()
    if data_conf.allow_internet:  # pragma: no cover - configure_astropy_offline turns it off
        return None
    try:
        from astropy.coordinates import EarthLocation

        loc = EarthLocation.of_site(name)
    except Exception:  # noqa: BLE001 - offline: no cached registry or an unknown name
        return None
    lon, lat, height = loc.to_geodetic()
    return Site(str(getattr(loc.info, "name", name) or name), float(lat.deg), float(lon.deg),
                float(height.to_value("m")), source="astropy site registry (cached)")


def resolve_site(text: str) -> Site:
    """A site file path, a shipped site name, or a cached astropy site name.

    Raises:
        ConfigError: unknown site (the message lists the shipped names) or a
            bad site file.
    """
    if text.lower().endswith(".toml") or Path(text).is_file():
        return load_site_file(text)
    key = _key(text)
    key = _ALIASES.get(key, key)
    if key in SITES:
        return SITES[key]
    site = _astropy_cached_site(text)
    if site is not None:
        return site
    raise ConfigError(f"unknown site {text!r}",
                      f"use one of {', '.join(SITES)}, a site .toml file, or --lat/--lon/--height")
