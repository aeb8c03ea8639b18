"""The simulated observatory: a seeded night at a telescope, behind the Instrument protocol.

One :class:`SimulatedObservatory` is one night. Construction does the slow work once
(astropy almanac, catalog to date coordinates, weather, hidden truth, history); every
per-step method is vectorised numpy over all `N` targets and costs well under a
millisecond. Random streams come from ``SeedSequence(seed).spawn(4)``: weather, truth,
history and measurement noise are independent, so the weather and the truth of a seeded
night are the same whatever the policy does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from steer.errors import ConfigError, UnsafeActionError
from steer.instruments.sim.almanac import Almanac
from steer.instruments.sim.catalog import Catalog
from steer.instruments.sim.geometry import slew_components_s
from steer.instruments.sim.kernels import Geometry, TargetKernel
from steer.instruments.sim.presets import BANDS, ObservatoryConfig
from steer.instruments.sim.sky import mag_error, noisy_mag_scalar
from steer.instruments.sim.truth import CampaignNight, SkyTruth
from steer.instruments.sim.weather import Weather
from steer.instruments.telescope import Action, Measurement

__all__ = ["SimulatedObservatory", "PARK_ALT_DEG", "PARK_AZ_DEG", "START_FILTER"]

PARK_ALT_DEG = 80.0
PARK_AZ_DEG = 180.0
START_FILTER = "r"
_S_PER_DAY = 86400.0
_HISTORY_SEEING_ARCSEC = 0.8  # typical conditions assumed for the prior visits
_HISTORY_AIRMASS = 1.2


class SimulatedObservatory:
    """A telescope, its site, one night of weather and a sky with hidden light curves.

    Satisfies :class:`steer.protocols.Instrument`.

    Args:
        config: Telescope and site (see :mod:`~steer.instruments.sim.presets`).
        catalog: Targets (ICRS).
        night_date: Local evening date of the night, ``YYYY-MM-DD``.
        seed: Seed of the night; the same seed gives the same weather, truth and history.
        cloudiness: 0 clear ... 1 overcast.
        almanac: A precomputed almanac for the same night and site, to skip the ~0.3 s
            astropy computation (e.g. when an environment replays one night many times).
        campaign: This night's place in a multi-night campaign
            (:class:`~steer.instruments.sim.truth.CampaignNight`): a later night
            keeps the campaign's truth and takes the history so far; its weather
            and noise come from ``SeedSequence([seed, night])``.

    Attributes:
        config, catalog, almanac, weather, truth: The night's ingredients.
        history: Prior photometry ``{"target_index", "mjd", "mag", "error_mag"}``.
        mjd: Current time, UTC MJD (starts at ``night_start_mjd``).
        alt_deg, az_deg: Current pointing (starts parked at alt 80, az 180).
        filter_band: Filter in the beam (starts ``"r"``).
        night_start_mjd, night_end_mjd: Bounds of the night.
    """

    def __init__(
        self,
        config: ObservatoryConfig,
        catalog: Catalog,
        night_date: str,
        seed: int,
        cloudiness: float = 0.2,
        almanac: Almanac | None = None,
        campaign: CampaignNight | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"seed={seed!r} must be a non-negative int")
        if len(catalog) == 0:
            raise ConfigError("the catalog has no targets")
        self.config = config
        self.catalog = catalog
        self.seed = int(seed)
        self.cloudiness = float(cloudiness)
        ss_weather, ss_truth, ss_history, ss_noise = np.random.SeedSequence(self.seed).spawn(4)
        if campaign is not None and campaign.night > 0:  # a later night: its own sky and noise
            ss_weather, ss_noise = np.random.SeedSequence([self.seed, campaign.night]).spawn(2)
        if almanac is None:
            almanac = Almanac.for_night(
                night_date, config.site_lat_deg, config.site_lon_deg, config.site_height_m,
                sun_alt_max_deg=config.sun_alt_max_deg)
        elif (almanac.night_date != str(night_date) or almanac.lat_deg != config.site_lat_deg
              or almanac.lon_deg != config.site_lon_deg
              or almanac.sun_alt_max_deg != config.sun_alt_max_deg):
            raise ConfigError(
                f"almanac {almanac!r} is not for night {night_date} at {config.name!r}")
        self.almanac = almanac
        self.night_date = almanac.night_date
        self.night_start_mjd = almanac.night_start_mjd
        self.night_end_mjd = almanac.night_end_mjd

        ra, dec = almanac.to_date_coords(catalog.ra_deg, catalog.dec_deg)
        self._band = catalog.band
        self._band_code = np.array([BANDS.index(b) for b in self._band])  # int per target
        self._kernel = TargetKernel(np.atleast_1d(ra), np.atleast_1d(dec), self._band, config)

        self.weather = Weather(self.night_start_mjd, self.night_end_mjd,
                               np.random.default_rng(ss_weather), self.cloudiness,
                               dome_close_cloud_fraction=config.dome_close_cloud_fraction)
        if campaign is not None and campaign.truth is not None:  # the campaign's one sky
            self.truth = campaign.truth.for_night(almanac.night_mid_mjd)
        else:
            mid = almanac.night_mid_mjd + (0.0 if campaign is None else campaign.truth_offset_d)
            self.truth = SkyTruth.draw(catalog, np.random.default_rng(ss_truth), mid)
            if campaign is not None:
                self.truth = self.truth.for_night(almanac.night_mid_mjd)
        m5_typical = self._kernel.m5(
            Geometry(alt_deg=0.0, az_deg=0.0, sin_alt=0.0, airmass=_HISTORY_AIRMASS,
                     cos_moon_sep=1.0, moon_sep_deg=180.0, moon_alt_deg=-90.0,
                     moon_phase_angle_deg=180.0),
            30.0, _HISTORY_SEEING_ARCSEC, 1.0)
        if campaign is not None and campaign.history is not None:
            self.history = campaign.history
        else:
            self.history = self.truth.history(np.random.default_rng(ss_history),
                                              self.night_start_mjd, m5_typical_mag=m5_typical)
        self._noise_rng = np.random.default_rng(ss_noise)

        self.mjd = float(self.night_start_mjd)
        self.alt_deg = PARK_ALT_DEG
        self.az_deg = PARK_AZ_DEG
        self.filter_band = START_FILTER
        self.n_exposures = 0
        self._cache_mjd: float | None = None
        self._cache: Geometry | None = None
        self._mask_of: Geometry | None = None  # the geometry ``_mask`` was computed for
        self._mask: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._slew_key: tuple[float, float, float] | None = None
        self._slew: tuple[NDArray[np.float64], NDArray[np.float64]] = (np.empty(0), np.empty(0))

    # ------------------------------------------------------------------ geometry
    def _moon_at(self, t: float) -> tuple[float, float, float, float]:
        """LST, Moon alt, Moon az and lunar phase angle at ``t`` (degrees)."""
        moon_alt, moon_az = self.almanac.moon_altaz_deg(t)
        return (float(self.almanac.lst_deg(t)), float(moon_alt), float(moon_az),
                float(self.almanac.moon_phase_angle_deg(t)))

    def _geometry(self, mjd: float | None) -> Geometry:
        """Geometry of all targets at ``mjd`` (default now), cached for the last time asked."""
        t = self.mjd if mjd is None else float(mjd)
        if self._cache_mjd != t or self._cache is None:
            self._cache = self._kernel.geometry(*self._moon_at(t))
            self._cache_mjd = t
        return self._cache

    def targets_altaz(self, mjd: float | None = None) -> tuple[NDArray, NDArray]:
        """`N` target altitudes and azimuths in degrees (now, or at ``mjd``)."""
        g = self._geometry(mjd)
        return g.alt_deg.copy(), g.az_deg.copy()

    def airmass(self, mjd: float | None = None) -> NDArray[np.float64]:
        """`N` target air masses (Kasten & Young; ``inf`` below the horizon)."""
        return np.array(self._geometry(mjd).airmass, dtype=float)

    def moon_sep_deg(self, mjd: float | None = None) -> NDArray[np.float64]:
        """`N` target-Moon separations in degrees."""
        return self._geometry(mjd).moon_sep_deg.copy()

    # --------------------------------------------------------------- feasibility
    @property
    def night_over(self) -> bool:
        """True once the clock has reached the end of the night."""
        return self.mjd >= self.night_end_mjd

    def _night_and_dome(self, t: float) -> str | None:
        """Reason the whole sky is unobservable at ``t``, or None."""
        if t >= self.night_end_mjd:
            return (f"the night is over: mjd {t:.5f} >= night end {self.night_end_mjd:.5f} "
                    f"(Sun above {self.config.sun_alt_max_deg} deg)")
        if t < self.night_start_mjd:
            return (f"the Sun is up: mjd {t:.5f} < night start {self.night_start_mjd:.5f} "
                    f"(Sun above {self.config.sun_alt_max_deg} deg)")
        frac = float(self.weather.cloud_fraction(t))
        if frac > self.config.dome_close_cloud_fraction:
            return (f"the dome is closed: cloud fraction {frac:.2f} > "
                    f"{self.config.dome_close_cloud_fraction}")
        return None

    def feasible_mask(self, mjd: float | None = None) -> NDArray[np.bool_]:
        """`N` booleans: observable now (night, dome open, altitude, airmass, Moon limits)."""
        t = self.mjd if mjd is None else float(mjd)
        g = self._geometry(t)  # the mask is kept with the geometry of the same time
        if g is not self._mask_of:
            if self._night_and_dome(t) is not None:
                ok = np.zeros(len(self.catalog), dtype=bool)
            else:
                c = self.config
                ok = (g.alt_deg >= c.alt_min_deg) & (g.alt_deg <= c.alt_max_deg)
                ok &= g.airmass <= c.airmass_max
                if g.moon_alt_deg > 0.0:
                    ok &= g.moon_sep_deg >= c.moon_min_sep_deg
            self._mask, self._mask_of = ok, g
        return self._mask.copy()

    def overhead_s(self, target_index: int | None = None) -> NDArray[np.float64] | float:
        """Seconds of slew + settle + filter change from the current state to targets.

        Readout and shutter (``readout_s + shutter_s``) come on top, after each exposure.

        Args:
            target_index: One catalog row, or None for all `N` targets.

        Returns:
            A float for one target, else an `N` array.
        """
        motion, settle = self._slew_all()
        filt = np.where(self._band_code != BANDS.index(self.filter_band),
                        self.config.filter_change_s, 0.0)
        if target_index is not None:
            i = int(target_index)
            return float(motion[i] + settle[i] + filt[i])
        return motion + settle + filt

    def _slew_all(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Slew motion and settle seconds to all targets from the current state (cached)."""
        key = (self.mjd, self.alt_deg, self.az_deg)
        if self._slew_key != key:
            g = self._geometry(None)
            self._slew = slew_components_s(self.alt_deg, self.az_deg, g.alt_deg, g.az_deg,
                                           self.config)
            self._slew_key = key
        return self._slew

    def predicted_m5(
        self,
        exptime_s: float | NDArray[np.float64],
        zenith_seeing_arcsec: float,
        transparency: float,
        mjd: float | None = None,
    ) -> NDArray[np.float64]:
        """`N` five-sigma depths in each target's band for ASSUMED seeing and clouds.

        Uses the true geometry, airmass and moonlit sky at ``mjd`` (default: now) but
        not the hidden weather. Targets below the horizon get the depth at the horizon
        (finite); use :meth:`feasible_mask` to know which can be observed.

        Args:
            exptime_s: Exposure time(s), seconds (scalar or `N` array).
            zenith_seeing_arcsec: Assumed zenith seeing at 500 nm, arcsec.
            transparency: Assumed cloud transmission in (0, 1].
            mjd: Time (default: now).

        Returns:
            m5 in AB magnitudes.
        """
        return self._kernel.m5(self._geometry(mjd), exptime_s, zenith_seeing_arcsec,
                               transparency)

    # ------------------------------------------------------------ check / execute
    def _target_label(self, i: int) -> str:
        return f"target {str(self.catalog.target_id[i])!r} (index {i})"

    def conditions_at(self, target_index: int, mjd: float) -> dict[str, float]:
        """The true seeing, sky and cloud transmission towards a target at ``mjd``.

        What the simulated night holds (hidden from policies): device simulators
        are set to it so that what steer measures on their frames can be
        compared with what the night was.

        Returns:
            ``seeing_fwhm_arcsec`` (delivered, at the target's airmass and band),
            ``zenith_seeing_arcsec``, ``sky_mag_arcsec2`` and ``transparency``.
        """
        i = int(target_index)
        gm = self._kernel.geometry_one(*self._moon_at(float(mjd)), i)
        zenith_seeing = float(self.weather.zenith_seeing_arcsec(float(mjd)))
        eta = float(self.weather.transparency_one(gm.alt_deg, gm.az_deg, float(mjd)))
        _m5, sky, fwhm = self._kernel.m5_one(gm, 30.0, zenith_seeing, eta, i)
        return {"seeing_fwhm_arcsec": float(fwhm), "zenith_seeing_arcsec": zenith_seeing,
                "sky_mag_arcsec2": float(sky), "transparency": eta}

    def check(self, action: Action) -> None:
        """Raise :class:`UnsafeActionError` if ``action`` cannot be done now; change nothing.

        Refuses: a target index out of range or a target_id that does not match it, an
        exposure time not in (0, ``exptime_max_s``], the Sun up or the night over, the
        dome closed, the target below ``alt_min_deg`` or above ``alt_max_deg``, its
        airmass above ``airmass_max``, or closer than ``moon_min_sep_deg`` to the Moon
        while the Moon is up. Limits apply at the current time (before the slew).
        """
        n = len(self.catalog)
        i = action.target_index
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < n:
            raise UnsafeActionError(f"target_index={i!r} is out of range [0, {n})")
        i = int(i)
        if action.target_id and action.target_id != self.catalog.target_id[i]:
            raise UnsafeActionError(
                f"target_id {action.target_id!r} does not match {self._target_label(i)}",
                hint="the index and the id must name the same catalog row")
        t_exp = action.exptime_s
        if not (isinstance(t_exp, int | float | np.floating | np.integer)
                and math.isfinite(t_exp) and 0.0 < t_exp <= self.config.exptime_max_s):
            raise UnsafeActionError(
                f"exptime_s={t_exp!r} for {self._target_label(i)} is outside "
                f"(0, {self.config.exptime_max_s}] s")
        reason = self._night_and_dome(self.mjd)
        if reason is not None:
            raise UnsafeActionError(f"cannot observe {self._target_label(i)}: {reason}",
                                    hint="wait() or stop")
        g = self._geometry(None)
        c = self.config
        alt, x, sep = float(g.alt_deg[i]), float(g.airmass[i]), float(g.moon_sep_deg[i])
        label = self._target_label(i)
        if alt < c.alt_min_deg:
            raise UnsafeActionError(
                f"{label} is at alt {alt:.2f} deg, below the altitude limit {c.alt_min_deg} deg")
        if alt > c.alt_max_deg:
            raise UnsafeActionError(
                f"{label} is at alt {alt:.2f} deg, above the altitude limit {c.alt_max_deg} deg")
        if x > c.airmass_max:
            raise UnsafeActionError(
                f"{label} is at airmass {x:.3f}, above the airmass limit {c.airmass_max}")
        if g.moon_alt_deg > 0.0 and sep < c.moon_min_sep_deg:
            raise UnsafeActionError(
                f"{label} is {sep:.2f} deg from the Moon, closer than the limit "
                f"{c.moon_min_sep_deg} deg")

    def execute(self, action: Action) -> Measurement:
        """Slew, change filter, expose, read out; return the measurement.

        Conditions are evaluated at mid-exposure at the target's true position: true
        seeing, true patchy transparency, moonlit sky. The measured magnitude is drawn
        normal in flux (see :func:`~steer.instruments.sim.sky.noisy_mag`); it is NaN when
        the target saturates (then ``error_mag`` is NaN too) or is not detected (drawn
        flux <= 0). The clock advances by exactly ``sum(overheads_s.values())`` seconds.

        Raises:
            UnsafeActionError: As :meth:`check`; nothing changes then.
        """
        self.check(action)
        c = self.config
        i = int(action.target_index)
        t_exp = float(action.exptime_s)
        band = str(self._band[i])
        t_start = self.mjd
        slew_motion, slew_settle = self._slew_all()
        motion, settle = slew_motion[i], slew_settle[i]
        overheads = {
            "slew": float(motion),
            "settle": float(settle),
            "filter": float(c.filter_change_s if band != self.filter_band else 0.0),
            "exposure": t_exp,
            "readout": float(c.readout_s + c.shutter_s),
        }
        pre_s = overheads["slew"] + overheads["settle"] + overheads["filter"]
        t_mid = t_start + (pre_s + 0.5 * t_exp) / _S_PER_DAY
        gm = self._kernel.geometry_one(*self._moon_at(t_mid), i)
        alt, az = gm.alt_deg, gm.az_deg
        zenith_seeing = float(self.weather.zenith_seeing_arcsec(t_mid))
        eta = self.weather.transparency_one(alt, az, t_mid)
        m5, sky, fwhm = self._kernel.m5_one(gm, t_exp, zenith_seeing, eta, i)
        true_mag = float(self.truth.mag(i, t_mid))
        err = float(mag_error(true_mag, m5))
        value = noisy_mag_scalar(self._noise_rng, true_mag, err)
        sat_limit = float(self._kernel.sat30[i]) + 2.5 * math.log10(t_exp / 30.0)
        saturated = bool(true_mag - 2.5 * math.log10(eta) < sat_limit)
        if saturated:
            value, err = float("nan"), float("nan")

        self.mjd = t_start + sum(overheads.values()) / _S_PER_DAY
        t_end = t_start + (pre_s + t_exp) / _S_PER_DAY
        alt_end, az_end, *_ = self._kernel.altaz_one(float(self.almanac.lst_deg(t_end)), i)
        self.alt_deg, self.az_deg = float(alt_end), float(az_end)
        self.filter_band = band
        self.n_exposures += 1
        conditions: dict[str, Any] = {
            "seeing_fwhm_arcsec": fwhm,
            "zenith_seeing_arcsec": zenith_seeing,
            "transparency": eta,
            "airmass": float(gm.airmass),
            "alt_deg": alt,
            "az_deg": az,
            "moon_sep_deg": float(gm.moon_sep_deg),
            "moon_alt_deg": gm.moon_alt_deg,
            "sky_mag_arcsec2": sky,
            "m5_mag": m5,
            "cloud_fraction": float(self.weather.cloud_fraction(t_mid)),
            "band": band,
        }
        return Measurement(value_mag=value, error_mag=err, mjd_mid=t_mid, exptime_s=t_exp,
                           conditions=conditions, overheads_s=overheads, saturated=saturated)

    def wait(self, seconds: float) -> float:
        """Let ``seconds`` pass (dome closed, nothing observable); return the new mjd."""
        if not (isinstance(seconds, int | float | np.floating | np.integer)
                and math.isfinite(seconds) and seconds > 0):
            raise UnsafeActionError(f"wait seconds={seconds!r} must be a positive number")
        self.mjd += float(seconds) / _S_PER_DAY
        return self.mjd

    def add_target(self, target_id: str, ra_deg: float, dec_deg: float, mag: float,
                   band: str, priority: float) -> int:
        """Add a target of opportunity to tonight's catalog; return its row.

        Its hidden truth is a transient near its peak (:meth:`SkyTruth.transient`),
        drawn from a stream of its own (seed, row), so the rest of the night is
        unchanged and a replay that adds it at the same decision is identical.

        Raises:
            CatalogError: a bad value or a ``target_id`` already in the catalog.
        """
        c = self.catalog
        catalog = Catalog(np.append(c.target_id, str(target_id)), np.append(c.ra_deg, ra_deg),
                          np.append(c.dec_deg, dec_deg), np.append(c.mag, mag),
                          np.append(c.band, str(band)), np.append(c.priority, priority))
        index = len(c)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 104729, index]))
        one = SkyTruth.transient(float(mag), self.mjd, rng, self.almanac.night_mid_mjd)
        ra, dec = self.almanac.to_date_coords(catalog.ra_deg, catalog.dec_deg)
        self.catalog = catalog
        self._band = catalog.band
        self._band_code = np.array([BANDS.index(b) for b in self._band])
        self._kernel = TargetKernel(np.atleast_1d(ra), np.atleast_1d(dec), self._band,
                                    self.config)
        self.truth = self.truth.extended(one)
        self._cache_mjd, self._cache, self._slew_key = None, None, None
        return index

    # -------------------------------------------------------------------- misc
    def describe(self) -> dict[str, Any]:
        """What this instrument is and can do: preset, site, limits, night, units."""
        c = self.config
        return {
            "kind": "simulated-observatory",
            "preset": c.name,
            "site": {"lat_deg": c.site_lat_deg, "lon_deg": c.site_lon_deg,
                     "height_m": c.site_height_m},
            "limits": {"alt_min_deg": c.alt_min_deg, "alt_max_deg": c.alt_max_deg,
                       "airmass_max": c.airmass_max, "moon_min_sep_deg": c.moon_min_sep_deg,
                       "sun_alt_max_deg": c.sun_alt_max_deg,
                       "dome_close_cloud_fraction": c.dome_close_cloud_fraction,
                       "exptime_max_s": c.exptime_max_s},
            "overheads_s": {"readout": c.readout_s + c.shutter_s, "settle": c.settle_s,
                            "filter": c.filter_change_s},
            "bands": sorted(set(self._band.tolist())),
            "n_targets": len(self.catalog),
            "night_date": self.night_date,
            "night_start_mjd": self.night_start_mjd,
            "night_end_mjd": self.night_end_mjd,
            "seed": self.seed,
            "cloudiness": self.cloudiness,
            "units": {"time": "UTC MJD", "angles": "deg", "magnitudes": "AB"},
        }

    def close(self) -> None:
        """Nothing to release for a simulation."""

    def __repr__(self) -> str:
        return (f"SimulatedObservatory(preset={self.config.name!r}, night={self.night_date}, "
                f"seed={self.seed}, n_targets={len(self.catalog)}, mjd={self.mjd:.5f})")
