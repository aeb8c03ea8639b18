"""Seeded weather for one night: seeing, thin cirrus and patchy clouds drifting with the wind.

Everything random is drawn once at construction from the generator passed in, so a
night's weather depends only on that stream (not on what the telescope does); the
evaluation methods are cheap and deterministic.

Model (physics.md, "Seeing" and "Clouds / transparency"):

* Zenith seeing at 500 nm: log-normal, ``ln s = ln(median) + night offset + AR(1)``
  with a 30 min correlation time on a 1 min grid, interpolated.
* Transparency ``eta = 10^(-0.4 dm)`` with ``dm`` = a global thin-cirrus term (log-normal
  AR(1), 60 min correlation) plus patchy clouds: Gaussian blobs in the sky-plane
  projection ``(x, y) = ((90 - alt)/90) (sin az, cos az)`` (the horizon is the unit
  circle), drifting with one wind per night; each blob is born and dies smoothly along
  its path (``sin`` envelope over its lifetime). Blob rate and depth grow with
  ``cloudiness``.
* Cloud fraction: the fraction of a fixed grid of sky points above 20 deg altitude with
  ``dm > 0.5`` mag; the dome closes when it exceeds ``dome_close_cloud_fraction``
  (0.3, Rubin model observatory).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from steer.errors import ConfigError

__all__ = ["Weather", "ar1_series", "sky_plane_xy"]

_MIN_PER_DAY = 1440.0
_CLOUD_DM_MAG = 0.5  # extinction above which a sky point counts as cloudy.
_CLOUD_GRID_ALT_MIN_DEG = 20.0


def ar1_series(rng: np.random.Generator, n: int, phi: float) -> NDArray[np.float64]:
    """Stationary AR(1) series with unit variance: ``x_i = phi x_(i-1) + sqrt(1-phi^2) e_i``.

    Args:
        rng: Generator to draw from (``n + 1`` normal deviates).
        n: Number of samples.
        phi: Lag-one autocorrelation, ``exp(-dt / tau)``.

    Returns:
        `n`-dim array; its autocorrelation at lag ``k`` is ``phi^k``.
    """
    x0 = rng.standard_normal()
    e = rng.standard_normal(n)
    b0 = float(np.sqrt(1.0 - phi * phi))
    out = np.empty(n)
    z = phi * x0
    for i, ei in enumerate(e.tolist()):  # the recursion scipy.signal.lfilter runs, op for op
        y = b0 * ei + z
        out[i] = y
        z = phi * y
    return out


def sky_plane_xy(
    alt_deg: ArrayLike, az_deg: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project alt/az onto the sky plane: ``r = (90 - alt)/90``, ``(x, y) = r (sin az, cos az)``."""
    r = (90.0 - np.asarray(alt_deg, dtype=float)) / 90.0
    az = np.radians(np.asarray(az_deg, dtype=float))
    return r * np.sin(az), r * np.cos(az)


def _fibonacci_sky_points(n_total: int, alt_min_deg: float) -> tuple[NDArray, NDArray]:
    """Nearly uniform points on the upper hemisphere above ``alt_min_deg`` (alt, az in deg)."""
    k = np.arange(n_total) + 0.5
    sin_alt = k / n_total  # uniform in sin(alt) on the hemisphere
    az = (np.degrees(np.pi * (1.0 + 5.0**0.5) * k)) % 360.0
    alt = np.degrees(np.arcsin(sin_alt))
    keep = alt >= alt_min_deg
    return alt[keep], az[keep]


class Weather:
    """One night of seeded weather.

    Args:
        night_start_mjd: Start of the night (UTC MJD).
        night_end_mjd: End of the night (UTC MJD).
        rng: The weather stream; consumed entirely at construction.
        cloudiness: 0 clear ... 1 overcast.
        dome_close_cloud_fraction: The dome closes above this cloud fraction.
        seeing_median_arcsec: Long-term median zenith seeing at 500 nm, arcsec.
        seeing_tau_min: Correlation time of the seeing, minutes.

    Attributes:
        grid_mjd: 1-minute grid covering the night (and a margin).
        grid_zenith_seeing_arcsec: Zenith seeing on ``grid_mjd``.
        grid_cirrus_dm_mag: Global cirrus extinction on ``grid_mjd``, mag.
        cloud_grid_mjd: 2-minute grid of the cloud fraction.
        grid_cloud_fraction: Cloud fraction on ``cloud_grid_mjd``.
        wind_xy_per_day: Wind velocity in sky-plane units per day.
        n_blobs: Number of cloud blobs over the night.
    """

    #: Within-night and night-to-night spread of ln(seeing). A total of ~0.3 matches the
    #: quartiles of site seeing statistics (e.g. Cerro Pachon DIMM: 0.55-0.9" around 0.7").
    SEEING_SIGMA_LN_WITHIN = 0.2
    SEEING_SIGMA_LN_NIGHT = 0.2
    CIRRUS_TAU_MIN = 60.0
    CLOUD_GRID_MIN = 2.0

    def __init__(
        self,
        night_start_mjd: float,
        night_end_mjd: float,
        rng: np.random.Generator,
        cloudiness: float,
        dome_close_cloud_fraction: float = 0.3,
        seeing_median_arcsec: float = 0.8,
        seeing_tau_min: float = 30.0,
    ) -> None:
        if not np.isfinite(cloudiness) or not 0.0 <= cloudiness <= 1.0:
            raise ConfigError(f"cloudiness={cloudiness} is outside [0, 1]",
                              hint="0 is clear, 1 overcast")
        if not night_end_mjd > night_start_mjd:
            raise ConfigError(
                f"night_end_mjd={night_end_mjd} is not after night_start_mjd={night_start_mjd}"
            )
        self.night_start_mjd = float(night_start_mjd)
        self.night_end_mjd = float(night_end_mjd)
        self.cloudiness = float(cloudiness)
        self.dome_close_cloud_fraction = float(dome_close_cloud_fraction)
        self.seeing_median_arcsec = float(seeing_median_arcsec)
        self.seeing_tau_min = float(seeing_tau_min)

        t0 = self.night_start_mjd - 30.0 / _MIN_PER_DAY
        t1 = self.night_end_mjd + 60.0 / _MIN_PER_DAY
        n = int(np.ceil((t1 - t0) * _MIN_PER_DAY)) + 1
        self.grid_mjd = t0 + np.arange(n) / _MIN_PER_DAY

        # Seeing: log-normal AR(1) around a per-night median.
        night_offset = self.SEEING_SIGMA_LN_NIGHT * rng.standard_normal()
        x = ar1_series(rng, n, np.exp(-1.0 / self.seeing_tau_min))
        ln_seeing = np.log(self.seeing_median_arcsec) + night_offset
        self.grid_zenith_seeing_arcsec = np.clip(
            np.exp(ln_seeing + self.SEEING_SIGMA_LN_WITHIN * x), 0.25, 5.0
        )

        # Thin cirrus over the whole sky: log-normal AR(1) in extinction (mag).
        c = self.cloudiness
        cirrus_median_mag = 0.005 + 0.45 * c * c
        y = ar1_series(rng, n, np.exp(-1.0 / self.CIRRUS_TAU_MIN))
        self.grid_cirrus_dm_mag = cirrus_median_mag * np.exp(0.6 * y)

        self._draw_blobs(rng, t0, t1)
        self._precompute_cloud_fraction(t0, t1)

    # --------------------------------------------------------------- construction
    def _draw_blobs(self, rng: np.random.Generator, t0: float, t1: float) -> None:
        """Draw the patchy clouds: births over the night, lifetimes, sizes, depths, wind."""
        c = self.cloudiness
        wind_speed = rng.uniform(0.3, 1.0) * 24.0  # sky-plane units per day (0.3-1 per hour)
        wind_dir = rng.uniform(0.0, 2.0 * np.pi)
        self.wind_xy_per_day = np.array([np.sin(wind_dir), np.cos(wind_dir)]) * wind_speed
        max_life_d = 4.0 / 24.0
        span_d = (t1 - t0) + max_life_d
        rate_per_day = 10.0 * c * 24.0
        n_blobs = int(rng.poisson(rate_per_day * span_d)) if c > 0 else 0
        self.n_blobs = n_blobs
        self._blob_birth_mjd = t0 - max_life_d + rng.uniform(0.0, span_d, n_blobs)
        self._blob_life_d = rng.uniform(1.0, 4.0, n_blobs) / 24.0
        self._blob_sigma = rng.uniform(0.08, 0.25, n_blobs)
        self._blob_depth_mag = (0.3 + 1.5 * c) * np.exp(0.5 * rng.standard_normal(n_blobs))
        # Mid-life position uniform over a disc a bit larger than the horizon.
        r_mid = 1.15 * np.sqrt(rng.uniform(0.0, 1.0, n_blobs))
        th_mid = rng.uniform(0.0, 2.0 * np.pi, n_blobs)
        self._blob_mid_xy = np.stack([r_mid * np.sin(th_mid), r_mid * np.cos(th_mid)], axis=1)
        self._blob_mid_mjd = self._blob_birth_mjd + 0.5 * self._blob_life_d
        # Each blob drifts with the wind, +-20% in speed.
        self._blob_vel = self.wind_xy_per_day[None, :] * rng.uniform(0.8, 1.2, (n_blobs, 1))
        self._blob_inv2s2 = 0.5 / self._blob_sigma**2
        # Columns used per evaluation, packed so that one fancy index selects the live ones.
        self._blob_pack = np.column_stack([
            np.pi / self._blob_life_d, self._blob_depth_mag, self._blob_mid_xy,
            self._blob_mid_mjd, self._blob_vel, self._blob_inv2s2,
        ])
        self._blob_death_mjd = self._blob_birth_mjd + self._blob_life_d

    def _precompute_cloud_fraction(self, t0: float, t1: float) -> None:
        """Cloud fraction on a 2-min grid over a fixed set of sky points above 20 deg."""
        alt, az = _fibonacci_sky_points(600, _CLOUD_GRID_ALT_MIN_DEG)
        px, py = sky_plane_xy(alt, az)
        n = int(np.ceil((t1 - t0) * _MIN_PER_DAY / self.CLOUD_GRID_MIN)) + 1
        tg = t0 + np.arange(n) * (self.CLOUD_GRID_MIN / _MIN_PER_DAY)
        dm = np.broadcast_to(self._cirrus(tg)[:, None], (n, px.size)).copy()
        # Blob k is alive on grid cells [first, stop): tg > birth and tg < birth + life.
        first = np.searchsorted(tg, self._blob_birth_mjd, "right")
        stop = np.searchsorted(tg, self._blob_birth_mjd + self._blob_life_d, "left")
        buf = np.empty((int(np.max(stop - first, initial=0)), px.size))
        for k in range(self.n_blobs):
            a, b = int(first[k]), int(stop[k])
            if b <= a:
                continue
            t = tg[a:b]
            env = np.sin(np.pi * (t - self._blob_birth_mjd[k]) / self._blob_life_d[k])
            cx = self._blob_mid_xy[k, 0] + self._blob_vel[k, 0] * (t - self._blob_mid_mjd[k])
            cy = self._blob_mid_xy[k, 1] + self._blob_vel[k, 1] * (t - self._blob_mid_mjd[k])
            d2, dy = buf[: b - a], np.subtract(py[None, :], cy[:, None])
            np.subtract(px[None, :], cx[:, None], out=d2)
            np.square(d2, out=d2)
            np.square(dy, out=dy)
            d2 += dy
            d2 *= -self._blob_inv2s2[k]  # in place, the same bits as exp(-d2 * inv2s2)
            np.exp(d2, out=d2)
            d2 *= (env * self._blob_depth_mag[k])[:, None]
            dm[a:b] += d2
        self.cloud_grid_mjd = tg
        self.grid_cloud_fraction = np.mean(dm > _CLOUD_DM_MAG, axis=1)

    # ----------------------------------------------------------------- evaluation
    def _cirrus(self, mjd: ArrayLike) -> NDArray[np.float64]:
        return np.interp(np.asarray(mjd, dtype=float), self.grid_mjd, self.grid_cirrus_dm_mag)

    def zenith_seeing_arcsec(self, mjd: ArrayLike) -> NDArray[np.float64]:
        """Zenith seeing FWHM at 500 nm in arcsec at ``mjd`` (linear interpolation)."""
        return np.interp(np.asarray(mjd, dtype=float), self.grid_mjd,
                         self.grid_zenith_seeing_arcsec)

    def extinction_mag(self, alt_deg: ArrayLike, az_deg: ArrayLike, mjd: float) -> NDArray[np.float64]:
        """Cloud extinction ``dm`` in magnitudes toward each direction at one time.

        Args:
            alt_deg: Altitude(s), degrees.
            az_deg: Azimuth(s), degrees.
            mjd: Time (UTC MJD), a scalar.

        Returns:
            ``dm >= 0`` shaped like ``alt_deg``.
        """
        t = float(mjd)
        x, y = sky_plane_xy(alt_deg, az_deg)
        cirrus = float(np.interp(t, self.grid_mjd, self.grid_cirrus_dm_mag))
        if not self.n_blobs:
            return np.full(np.shape(x), cirrus)
        live = np.flatnonzero((self._blob_birth_mjd < t) & (self._blob_death_mjd > t))
        if not live.size:
            return np.full(np.shape(x), cirrus)
        p = self._blob_pack[live]
        env = np.sin((t - self._blob_birth_mjd[live]) * p[:, 0]) * p[:, 1]
        dt = t - p[:, 4]
        cx = p[:, 2] + p[:, 5] * dt
        cy = p[:, 3] + p[:, 6] * dt
        xf, yf = np.reshape(x, (-1, 1)), np.reshape(y, (-1, 1))
        d2 = (xf - cx) ** 2 + (yf - cy) ** 2
        return cirrus + (np.exp(-d2 * p[:, 7]) @ env).reshape(np.shape(x))

    def transparency_one(self, alt_deg: float, az_deg: float, mjd: float) -> float:
        """:meth:`transparency` toward one direction, as a float (faster for one target)."""
        t = float(mjd)
        r = (90.0 - alt_deg) / 90.0
        x, y = r * math.sin(math.radians(az_deg)), r * math.cos(math.radians(az_deg))
        dm = float(np.interp(t, self.grid_mjd, self.grid_cirrus_dm_mag))
        if self.n_blobs:
            live = np.flatnonzero((self._blob_birth_mjd < t) & (self._blob_death_mjd > t))
            if live.size:
                p = self._blob_pack[live]
                dt = t - p[:, 4]
                d2 = (x - p[:, 2] - p[:, 5] * dt) ** 2 + (y - p[:, 3] - p[:, 6] * dt) ** 2
                env = np.sin((t - self._blob_birth_mjd[live]) * p[:, 0]) * p[:, 1]
                dm += float(np.dot(np.exp(-d2 * p[:, 7]), env))
        return 10.0 ** (-0.4 * dm)

    def transparency(self, alt_deg: ArrayLike, az_deg: ArrayLike, mjd: float) -> NDArray[np.float64]:
        """Cloud transmission ``eta = 10^(-0.4 dm)`` in (0, 1] toward each direction.

        Args:
            alt_deg: Altitude(s), degrees.
            az_deg: Azimuth(s), degrees.
            mjd: Time (UTC MJD), a scalar.

        Returns:
            ``eta`` shaped like ``alt_deg``.
        """
        return 10.0 ** (-0.4 * self.extinction_mag(alt_deg, az_deg, mjd))

    def cloud_fraction(self, mjd: ArrayLike) -> NDArray[np.float64]:
        """Fraction of the sky above 20 deg with more than 0.5 mag of cloud extinction."""
        return np.interp(np.asarray(mjd, dtype=float), self.cloud_grid_mjd,
                         self.grid_cloud_fraction)

    def dome_open(self, mjd: float) -> bool:
        """True when the cloud fraction is at or below ``dome_close_cloud_fraction``."""
        return bool(self.cloud_fraction(mjd) <= self.dome_close_cloud_fraction)

    def __repr__(self) -> str:
        return (f"Weather(cloudiness={self.cloudiness:.2f}, n_blobs={self.n_blobs}, "
                f"median_seeing={np.median(self.grid_zenith_seeing_arcsec):.2f}\")")
