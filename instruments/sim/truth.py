"""Hidden truth of the sky for one seed: which targets vary, and how.

Per target (physics.md, "Science signal"):

* ``KIND_CONSTANT`` (~50%): the catalog magnitude, always.
* ``KIND_PERIODIC`` (~30%): RR-Lyrae-like light curve, mean magnitude = catalog
  magnitude, peak-to-peak amplitude 0.2-1.0 mag, period 0.2-1.0 d, random phase. The
  asymmetric shape (fast rise, slow decline) is the fundamental plus the first harmonic
  of a sawtooth: brightness ``~ sin(2 pi phi) + 0.5 sin(4 pi phi)``.
* ``KIND_TRANSIENT`` (~20%): Bazin et al. (2009, A&A 499, 653) flux curve
  ``f(t) = A exp(-(t - t0)/tau_fall) / (1 + exp(-(t - t0)/tau_rise))`` on top of a
  constant host 2.5-4 mag fainter than the peak; peak magnitude = catalog magnitude,
  ``t0`` within +-15 d of the night, ``tau_rise`` 1-5 d, ``tau_fall`` 10-40 d.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from steer.instruments.sim.catalog import Catalog
from steer.instruments.sim.sky import mag_error, noisy_mag

__all__ = ["SkyTruth", "CampaignNight", "KIND_CONSTANT", "KIND_PERIODIC", "KIND_TRANSIENT", "KIND_NAMES"]

KIND_CONSTANT = 0
KIND_PERIODIC = 1
KIND_TRANSIENT = 2
KIND_NAMES: dict[int, str] = {0: "constant", 1: "periodic", 2: "transient"}

_KIND_FRACTIONS = (0.5, 0.3, 0.2)
_PHASE_EPOCH_MJD = 60000.0  # phase zero-point of the periodic variables
_SHAPE_PTP = 1.5 * np.sqrt(3.0)  # peak-to-peak of sin(x) + 0.5 sin(2x)
_STD_FLOOR_MAG = 0.005  # calibration / micro-variability floor of every target


@dataclass(eq=False)
class SkyTruth:
    """The true light curve of every catalog target (`N` targets).

    Per-target arrays hold NaN where a parameter does not apply to the target's kind.

    Attributes:
        kind: `N` ints, ``KIND_CONSTANT`` / ``KIND_PERIODIC`` / ``KIND_TRANSIENT``.
        ref_mag: Catalog magnitude (constant value, periodic mean, transient peak).
        amplitude_mag: Peak-to-peak amplitude of periodic variables, mag.
        period_d: Period of periodic variables, days.
        phase: Phase offset of periodic variables, cycles in [0, 1).
        t0_mjd: Bazin ``t0`` of transients, MJD.
        tau_rise_d: Bazin rise time, days.
        tau_fall_d: Bazin fall time, days.
        peak_mjd: Time of maximum flux of transients, MJD.
        host_mag: Constant host magnitude under transients.
        night_mid_mjd: Middle of the night the truth was drawn for.
        variability_std_mag: Std of the true light curve over the night +- 1 day, with
            a 0.005 mag floor (so ~0.005 for constants).
        timescale_d: Characteristic time scale: period/4 (periodic), 0.3 x the rise
            (before peak) or fall (after) time at mid-night (transient), 1.0 (constant).
    """

    kind: NDArray[np.int64]
    ref_mag: NDArray[np.float64]
    amplitude_mag: NDArray[np.float64]
    period_d: NDArray[np.float64]
    phase: NDArray[np.float64]
    t0_mjd: NDArray[np.float64]
    tau_rise_d: NDArray[np.float64]
    tau_fall_d: NDArray[np.float64]
    peak_mjd: NDArray[np.float64]
    host_mag: NDArray[np.float64]
    night_mid_mjd: float
    variability_std_mag: NDArray[np.float64] | None = None
    timescale_d: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        """Precompute the Bazin normalisation and the summary statistics."""
        tr = np.where(self.kind == KIND_TRANSIENT, self.tau_rise_d, 1.0)
        tf = np.where(self.kind == KIND_TRANSIENT, self.tau_fall_d, 20.0)
        x_peak = tr * np.log(tf / tr - 1.0)
        log_shape_max = -x_peak / tf - np.logaddexp(0.0, -x_peak / tr)
        host_rel = 10.0 ** (-0.4 * (np.where(self.kind == KIND_TRANSIENT, self.host_mag,
                                             self.ref_mag + 3.0) - self.ref_mag))
        self._host_rel = host_rel  # host flux / peak flux
        self._log_amp_rel = np.log(1.0 - host_rel) - log_shape_max  # ln(A / peak flux)
        if self.variability_std_mag is None or self.timescale_d is None:
            grid = self.night_mid_mjd + np.arange(-1.25, 1.25 + 1e-9, 10.0 / 1440.0)
            n = self.kind.size
            mags = self.mag(np.arange(n)[:, None], grid[None, :])
            self.variability_std_mag = np.sqrt(mags.std(axis=1) ** 2 + _STD_FLOOR_MAG**2)
            rising = self.night_mid_mjd < self.peak_mjd
            trans_ts = 0.3 * np.where(rising, self.tau_rise_d, self.tau_fall_d)
            self.timescale_d = np.select(
                [self.kind == KIND_PERIODIC, self.kind == KIND_TRANSIENT],
                [self.period_d / 4.0, trans_ts], 1.0)

    def __len__(self) -> int:
        return int(self.kind.size)

    def for_night(self, night_mid_mjd: float) -> SkyTruth:
        """The same light curves, summarised for another night (a campaign's later night).

        Periodic stars keep their phase and transients their ``t0`` (all in
        absolute MJD); only ``variability_std_mag`` and ``timescale_d`` are
        recomputed around ``night_mid_mjd``.
        """
        cols = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("night_mid_mjd", "variability_std_mag", "timescale_d")}
        return SkyTruth(**cols, night_mid_mjd=float(night_mid_mjd))

    def extended(self, other: SkyTruth) -> SkyTruth:
        """This truth with ``other``'s targets appended (a target of opportunity)."""
        cols = {f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(self) if f.name != "night_mid_mjd"}
        return SkyTruth(**cols, night_mid_mjd=self.night_mid_mjd)

    @classmethod
    def transient(cls, peak_mag: float, near_mjd: float, rng: np.random.Generator,
                  night_mid_mjd: float) -> SkyTruth:
        """The truth of one transient that peaks within a day of ``near_mjd`` (a ToO alert).

        Args:
            peak_mag: Magnitude at maximum (the alert's magnitude).
            near_mjd: When the alert arrived; the peak is drawn within +-1 day of it.
            rng: Its own stream (so the rest of the night's truth is untouched).
            night_mid_mjd: Middle of the night (for the summary statistics).
        """
        tau_rise, tau_fall = rng.uniform(1.0, 5.0), rng.uniform(10.0, 40.0)
        peak = float(near_mjd) + rng.uniform(-1.0, 1.0)
        t0 = peak - tau_rise * np.log(tau_fall / tau_rise - 1.0)
        nan = np.array([np.nan])
        return cls(kind=np.array([KIND_TRANSIENT]), ref_mag=np.array([float(peak_mag)]),
                   amplitude_mag=nan, period_d=nan, phase=nan, t0_mjd=np.array([t0]),
                   tau_rise_d=np.array([tau_rise]), tau_fall_d=np.array([tau_fall]),
                   peak_mjd=np.array([peak]),
                   host_mag=np.array([float(peak_mag) + rng.uniform(2.5, 4.0)]),
                   night_mid_mjd=float(night_mid_mjd))

    @classmethod
    def draw(cls, catalog: Catalog, rng: np.random.Generator, night_mid_mjd: float) -> SkyTruth:
        """Draw the hidden truth of every target in ``catalog``.

        Args:
            catalog: The targets (gives the reference magnitudes).
            rng: The truth stream.
            night_mid_mjd: Middle of the night (transients peak around it).

        Returns:
            The truth; identical for identical ``rng`` state and catalog.
        """
        n = len(catalog)
        nan = np.full(n, np.nan)
        kind = rng.choice(3, size=n, p=_KIND_FRACTIONS).astype(np.int64)
        # Draw every parameter for every target (fixed stream use), keep the relevant ones.
        amp = rng.uniform(0.2, 1.0, n)
        period = rng.uniform(0.2, 1.0, n)
        phase = rng.uniform(0.0, 1.0, n)
        t0 = night_mid_mjd + rng.uniform(-15.0, 15.0, n)
        tau_rise = rng.uniform(1.0, 5.0, n)
        tau_fall = rng.uniform(10.0, 40.0, n)
        host_dm = rng.uniform(2.5, 4.0, n)
        per = kind == KIND_PERIODIC
        tra = kind == KIND_TRANSIENT
        ref = np.asarray(catalog.mag, dtype=float).copy()
        return cls(
            kind=kind,
            ref_mag=ref,
            amplitude_mag=np.where(per, amp, nan),
            period_d=np.where(per, period, nan),
            phase=np.where(per, phase, nan),
            t0_mjd=np.where(tra, t0, nan),
            tau_rise_d=np.where(tra, tau_rise, nan),
            tau_fall_d=np.where(tra, tau_fall, nan),
            peak_mjd=np.where(tra, t0 + tau_rise * np.log(tau_fall / tau_rise - 1.0), nan),
            host_mag=np.where(tra, ref + host_dm, nan),
            night_mid_mjd=float(night_mid_mjd),
        )

    def mag(self, target_index: ArrayLike, mjd: ArrayLike) -> NDArray[np.float64]:
        """True magnitude of targets at times (broadcasting ``target_index`` with ``mjd``).

        Args:
            target_index: Catalog row(s), int or int array.
            mjd: Time(s), UTC MJD.

        Returns:
            Magnitudes with the broadcast shape of the inputs.
        """
        idx, t = np.broadcast_arrays(np.asarray(target_index, dtype=np.int64),
                                     np.asarray(mjd, dtype=float))
        shape_out = idx.shape
        idx, t = idx.ravel(), t.ravel()
        kind = self.kind[idx]
        out = self.ref_mag[idx].astype(float, copy=True)
        sel = kind == KIND_PERIODIC
        if sel.any():
            i = idx[sel]
            x = 2.0 * np.pi * ((t[sel] - _PHASE_EPOCH_MJD) / self.period_d[i] + self.phase[i])
            shape = np.sin(x) + 0.5 * np.sin(2.0 * x)
            out[sel] = self.ref_mag[i] - self.amplitude_mag[i] * shape / _SHAPE_PTP
        sel = kind == KIND_TRANSIENT
        if sel.any():
            i = idx[sel]
            dt = t[sel] - self.t0_mjd[i]
            log_shape = -dt / self.tau_fall_d[i] - np.logaddexp(0.0, -dt / self.tau_rise_d[i])
            flux_rel = np.exp(self._log_amp_rel[i] + log_shape) + self._host_rel[i]
            out[sel] = self.ref_mag[i] - 2.5 * np.log10(flux_rel)
        return out.reshape(shape_out)

    def history(
        self,
        rng: np.random.Generator,
        night_start_mjd: float,
        m5_typical_mag: ArrayLike = 21.5,
        n_nights: int = 30,
        visits_per_target_mean: float = 4.0,
        m5_scatter_mag: float = 0.3,
        night_length_d: float = 0.33,
    ) -> dict[str, NDArray]:
        """Sparse prior photometry from the ``n_nights`` nights before this one.

        Each target gets a Poisson number of visits, each on a random earlier night at a
        random time in the first ``night_length_d`` days after that night's start; the
        depth is ``m5_typical_mag`` +- ``m5_scatter_mag`` and the noise follows
        :func:`~steer.instruments.sim.sky.mag_error` (normal in flux). Non-detections
        (non-positive drawn flux) are dropped.

        Args:
            rng: The history stream.
            night_start_mjd: Start of the current night.
            m5_typical_mag: Typical depth, a float or an `N` array (per target band).
            n_nights: How many previous nights the history covers.
            visits_per_target_mean: Mean number of visits per target.
            m5_scatter_mag: Visit-to-visit scatter of the depth, mag.
            night_length_d: Length of the observing window of each past night, days.

        Returns:
            ``{"target_index", "mjd", "mag", "error_mag"}`` arrays sorted by time.
        """
        n = len(self)
        counts = rng.poisson(visits_per_target_mean, n)
        idx = np.repeat(np.arange(n), counts)
        m = idx.size
        nights_back = rng.integers(1, n_nights + 1, m)
        mjd = night_start_mjd - nights_back + rng.uniform(0.0, night_length_d, m)
        m5_base = np.broadcast_to(np.asarray(m5_typical_mag, dtype=float), (n,))
        m5 = m5_base[idx] + m5_scatter_mag * rng.standard_normal(m)
        true = self.mag(idx, mjd)
        err = mag_error(true, m5)
        measured = noisy_mag(rng, true, err)
        keep = np.isfinite(measured)
        order = np.argsort(mjd[keep], kind="stable")
        return {
            "target_index": idx[keep][order],
            "mjd": mjd[keep][order],
            "mag": measured[keep][order],
            "error_mag": err[keep][order],
        }


@dataclass(frozen=True)
class CampaignNight:
    """One night's place in a multi-night campaign (one seed, one sky, many nights).

    Attributes:
        night: 0 for the first night, then 1, 2, ...
        truth: The campaign's truth (drawn on night 0); ``None`` on night 0.
        history: Every earlier visit (the synthetic archive plus the campaign's
            nights so far); ``None`` on night 0.
        truth_offset_d: Night 0 only: where the transients are centred, in days
            after night 0's middle (the campaign's middle, so that transients
            rise and fade during it).
    """

    night: int = 0
    truth: SkyTruth | None = None
    history: dict[str, NDArray] | None = None
    truth_offset_d: float = 0.0
