"""Photometry of a CCD frame (INDI or Alpaca): the target and the field stars.

Positions come from a WCS (an Alpaca camera's geometry, or a FITS WCS), or
from the INDI CCD simulator's header (``RA``/``DEC`` J2000 degrees of the
frame centre, ``SCALE`` arcsec/pixel, ``PIERSIDE``) with its own gnomonic
projection, then refined by centroiding. Fluxes are aperture sums
with a local sigma-clipped annulus background (photutils). The zero point is
fitted on the field stars against their catalog magnitudes, so the target's
magnitude is differential (clouds cancel) and the transparency is the
zero point's deficit against the clear-sky zero point.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from steer.errors import InstrumentError

__all__ = ["FrameGeometry", "ImagePhotometry", "measure", "project", "read_fits", "star_fwhm"]

log = logging.getLogger(__name__)

_SATURATION_FRACTION = 0.95  # peak above this fraction of the full well -> saturated


@dataclass(frozen=True)
class FrameGeometry:
    """Where a frame points and how sky maps to pixels.

    Attributes:
        ra_deg, dec_deg: J2000 centre of the frame (FITS ``RA``/``DEC``).
        scale_arcsec_per_px: Pixel scale (FITS ``SCALE``).
        width_px, height_px: Frame size.
        pier_east: The simulator rotates the field by 180 deg on the east pier.
    """

    ra_deg: float
    dec_deg: float
    scale_arcsec_per_px: float
    width_px: int
    height_px: int
    pier_east: bool = False


def read_fits(blob: bytes) -> tuple[NDArray[np.float64], Any]:
    """Decode a FITS BLOB into (`H x W` float image, header).

    Raises:
        InstrumentError: the bytes are not a FITS image.
    """
    from astropy.io import fits

    try:
        with fits.open(io.BytesIO(blob)) as hdul:
            data = np.asarray(hdul[0].data, dtype=float)
            header = hdul[0].header.copy()
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise InstrumentError(f"the CCD BLOB ({len(blob)} bytes) is not a FITS image: {exc}",
                              "check CCD_TRANSFER_FORMAT (FORMAT_FITS)") from exc
    if data.ndim != 2:
        raise InstrumentError(f"the FITS image has shape {data.shape}, expected 2-D")
    return data, header


def geometry_from_header(header: Any, shape: tuple[int, int]) -> FrameGeometry:
    """Read the frame geometry from the CCD simulator's FITS header."""
    try:
        return FrameGeometry(float(header["RA"]), float(header["DEC"]), float(header["SCALE"]),
                             int(shape[1]), int(shape[0]),
                             str(header.get("PIERSIDE", "WEST")).strip().upper() == "EAST")
    except KeyError as exc:
        raise InstrumentError(f"FITS header lacks {exc}", "is the mount connected to the CCD "
                              "(ACTIVE_DEVICES) and a focal length set?") from exc


def project(geom: FrameGeometry, ra_deg: NDArray | float,
            dec_deg: NDArray | float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pixel (x, y) of J2000 positions, as the CCD simulator draws them.

    Gnomonic standard coordinates (xi east, eta north) in arcsec; on the west
    pier north is -x and east is +y (measured on INDI 1.9.9), flipped on the east.
    """
    ra = np.radians(np.asarray(ra_deg, float))
    dec = np.radians(np.asarray(dec_deg, float))
    ra0, dec0 = math.radians(geom.ra_deg), math.radians(geom.dec_deg)
    den = math.sin(dec0) * np.sin(dec) + math.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    xi = np.cos(dec) * np.sin(ra - ra0) / den
    eta = (math.cos(dec0) * np.sin(dec) - math.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / den
    k = math.degrees(1.0) * 3600.0 / geom.scale_arcsec_per_px  # pixels per radian
    sign = -1.0 if geom.pier_east else 1.0
    x = geom.width_px / 2.0 - sign * k * eta
    y = geom.height_px / 2.0 + sign * k * xi
    return np.asarray(x, float), np.asarray(y, float)


@dataclass
class ImagePhotometry:
    """What one frame says about the target and the sky.

    Attributes:
        value_mag: Target magnitude (field-star zero point); NaN if not measured.
        error_mag: One-sigma error of ``value_mag`` (background noise + zero point).
        x_px, y_px: Target centroid.
        expected_x_px, expected_y_px: Where the header said the target would be.
        fwhm_px, fwhm_arcsec: Median FWHM of the well-exposed stars.
        zeropoint_mag: Fitted zero point (magnitude of 1 ADU/s).
        zeropoint_err_mag: Its standard error.
        transparency: ``10**(-0.4 * (zp_clear - zp))`` clipped to [0, 1.2]; NaN without a
            clear-sky zero point.
        n_ref: Field stars used for the zero point.
        background_adu, background_rms_adu: Sky level and noise per pixel.
        peak_adu: Target peak pixel.
        saturated: The target's peak reaches the full well.
        detail: Per-star diagnostics (JSON-serialisable).
    """

    value_mag: float
    error_mag: float
    x_px: float
    y_px: float
    expected_x_px: float
    expected_y_px: float
    fwhm_px: float
    fwhm_arcsec: float
    zeropoint_mag: float
    zeropoint_err_mag: float
    transparency: float
    n_ref: int
    background_adu: float
    background_rms_adu: float
    peak_adu: float
    saturated: bool
    detail: dict[str, Any] = field(default_factory=dict)


def _aperture_fluxes(data: NDArray, x: NDArray, y: NDArray, r_px: float,
                     sky: str = "median") -> dict[str, NDArray]:
    from astropy.stats import SigmaClip
    from photutils.aperture import (
        ApertureStats,
        CircularAnnulus,
        CircularAperture,
        aperture_photometry,
    )

    pos = np.column_stack([x, y])
    ap = CircularAperture(pos, r=r_px)
    ann = CircularAnnulus(pos, r_in=r_px + 3.0, r_out=r_px + 9.0)
    # "mean": clip only what a star adds (5 sigma high, never low): a skewed sky (the
    # Alpaca simulator's, piled up at its bias level) loses its tail to a 3-sigma clip,
    # and the mean then sits low by ~0.15 sigma: hundreds of ADU over a wide aperture
    clip = (SigmaClip(sigma_lower=1e6, sigma_upper=5.0, maxiters=5) if sky == "mean"
            else SigmaClip(sigma=3.0, maxiters=5))
    bkg = ApertureStats(data, ann, sigma_clip=clip)
    raw = aperture_photometry(data, ap)["aperture_sum"].value
    npix = float(np.pi * r_px**2)
    n_ann = np.maximum(np.asarray(bkg.sum_aper_area.value, float), 1.0)
    sky_adu = np.asarray(bkg.mean if sky == "mean" else bkg.median, float)
    rms = np.asarray(bkg.std, float)
    flux = raw - sky_adu * npix
    err = rms * np.sqrt(npix * (1.0 + npix / n_ann))
    peak = np.array([np.nanmax(data[max(int(b) - 2, 0):int(b) + 3, max(int(a) - 2, 0):int(a) + 3],
                               initial=0.0) for a, b in zip(x, y, strict=True)])
    return {"flux": flux, "err": err, "sky": sky_adu, "rms": rms, "peak": peak}


def _orientation(data: NDArray, geom: FrameGeometry, ra_deg: Any, dec_deg: Any) -> FrameGeometry:
    """The header's pier side, or the flipped one if the field stars say so.

    The CCD simulator draws with the pier side it snooped when the exposure
    started, while the header may carry a later one (seen right after the
    first SYNC on a fresh server): the field is then rotated by 180 deg.
    """
    from dataclasses import replace

    h, w = data.shape
    sky = float(np.median(data))
    scores = []
    for g in (geom, replace(geom, pier_east=not geom.pier_east)):
        x, y = project(g, np.asarray(ra_deg), np.asarray(dec_deg))
        xi, yi = np.round(x).astype(int), np.round(y).astype(int)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        scores.append(float(np.sum(data[yi[ok], xi[ok]] - sky)))
    return geom if scores[0] >= scores[1] else replace(geom, pier_east=not geom.pier_east)


def measure(data: NDArray, header: Any, target_ra_deg: float, target_dec_deg: float,
            ref_ra_deg: NDArray, ref_dec_deg: NDArray, ref_mag: NDArray, exptime_s: float,
            zp_clear_mag: float | None = None, full_well_adu: float = 65000.0,
            centroid_box_px: int = 11, wcs: Any = None, sky: str = "median",
            aperture_fwhm: float = 2.0) -> ImagePhotometry:
    """Measure the target and the field stars in one frame.

    Args:
        data: `H x W` image (ADU).
        header: Its FITS header (pointing, scale, pier side), read when ``wcs`` is None.
        target_ra_deg, target_dec_deg: J2000 position of the target.
        ref_ra_deg, ref_dec_deg, ref_mag: `R` field stars and their catalog magnitudes.
        exptime_s: Exposure the fluxes are normalised by (the simulated seconds).
        zp_clear_mag: Clear-sky zero point for the transparency (None: NaN).
        full_well_adu: Saturation level.
        centroid_box_px: Box for centroid refinement.
        wcs: An ``astropy.wcs.WCS`` of the frame (0-based pixels): the positions come
            from it instead of the INDI simulator's header geometry.
        sky: The annulus statistic, after 3-sigma clipping: ``"median"`` (robust to
            the bright PSF wings INDI's CCD simulator draws into the annulus) or
            ``"mean"`` (unbiased on integer ADU with a low, flat sky, where the median
            is off by up to half an ADU per pixel: most of a faint star's flux in a
            wide aperture; the Alpaca simulator's frames).
        aperture_fwhm: Aperture radius in measured FWHMs (4 to 15 px). The target
            and the field stars share it, so the zero point absorbs what falls
            outside; 2 keeps the INDI simulator's wide wings, 1 is near the best
            signal-to-noise for faint targets on a Gaussian PSF.

    Raises:
        InstrumentError: the target is outside the frame or no field star is measurable.
    """
    from photutils.centroids import centroid_com, centroid_sources
    from photutils.psf import fit_fwhm

    if wcs is not None:
        from astropy.wcs.utils import proj_plane_pixel_scales

        def proj(ra: Any, dec: Any) -> tuple[NDArray, NDArray]:
            x, y = wcs.world_to_pixel_values(np.asarray(ra, float), np.asarray(dec, float))
            return np.asarray(x, float), np.asarray(y, float)

        scale = float(np.mean(proj_plane_pixel_scales(wcs))) * 3600.0
    else:
        geom = _orientation(data, geometry_from_header(header, data.shape), ref_ra_deg,
                            ref_dec_deg)

        def proj(ra: Any, dec: Any) -> tuple[NDArray, NDArray]:
            return project(geom, ra, dec)

        scale = geom.scale_arcsec_per_px
    tx, ty = proj(target_ra_deg, target_dec_deg)
    rx, ry = proj(np.asarray(ref_ra_deg), np.asarray(ref_dec_deg))
    h, w = data.shape
    margin = centroid_box_px + 12
    if not (margin <= float(tx) < w - margin and margin <= float(ty) < h - margin):
        raise InstrumentError(f"the target is expected at pixel ({float(tx):.1f}, {float(ty):.1f}), "
                              f"outside the {w}x{h} frame", "check the pointing (JNow/J2000)")
    inside = (rx >= margin) & (rx < w - margin) & (ry >= margin) & (ry < h - margin)
    rx, ry, rmag = rx[inside], ry[inside], np.asarray(ref_mag, float)[inside]
    ex, ey = np.append(rx, tx), np.append(ry, ty)
    # the pointing offset is common to all stars: refine on the field, then apply
    cx, cy = centroid_sources(data - np.median(data), ex, ey, box_size=centroid_box_px,
                              centroid_func=centroid_com)
    shift = np.column_stack([cx - ex, cy - ey])
    good_shift = np.isfinite(shift).all(axis=1)
    dx, dy = (np.median(shift[good_shift], axis=0) if good_shift.any() else (0.0, 0.0))
    ex, ey = ex + dx, ey + dy
    bright = np.argsort(rmag)[: max(3, min(8, len(rmag)))]
    try:
        fw = fit_fwhm(data - np.median(data), xypos=np.column_stack([ex[bright], ey[bright]]),
                      fit_shape=9)
        fwhm_px = float(np.nanmedian(fw))
    except Exception:  # noqa: BLE001  (a failed fit leaves FWHM unknown, not the frame)
        fwhm_px = float("nan")
    r_px = float(np.clip(aperture_fwhm * fwhm_px if np.isfinite(fwhm_px) else 6.0, 4.0, 15.0))
    ph = _aperture_fluxes(data, ex, ey, r_px, sky)
    flux, err, peak = ph["flux"] / exptime_s, ph["err"] / exptime_s, ph["peak"]
    sat = peak >= _SATURATION_FRACTION * full_well_adu
    ref_flux, ref_err, ref_sat = flux[:-1], err[:-1], sat[:-1]
    use = (ref_flux > 10.0 * ref_err) & ~ref_sat & np.isfinite(ref_flux)
    if use.sum() < 2:
        raise InstrumentError(f"only {int(use.sum())} of {len(rmag)} field stars measurable: "
                              "no zero point", "clouds too thick, or pointing off the field")
    zps = rmag[use] + 2.5 * np.log10(ref_flux[use])
    zp = float(np.median(zps))
    zp_err = float(1.253 * np.std(zps) / math.sqrt(use.sum())) if use.sum() > 2 else 0.05
    t_flux, t_err = float(flux[-1]), float(err[-1])
    saturated = bool(sat[-1])
    if saturated or not t_flux > 0:
        value, error = float("nan"), float("nan")
    else:
        value = zp - 2.5 * math.log10(t_flux)
        error = math.hypot(1.0857 * t_err / t_flux, zp_err)
    # the clear-sky zero point is for a 2-FWHM aperture: correct a smaller one on the
    # field stars (their flux in 2 FWHM over their flux in r) before judging the clouds
    r_cal = float(np.clip(2.0 * fwhm_px if np.isfinite(fwhm_px) else 6.0, 4.0, 15.0))
    apcor = 1.0
    if r_cal > r_px:
        big = _aperture_fluxes(data, ex[:-1][use], ey[:-1][use], r_cal, sky)["flux"]
        ratio = big / ph["flux"][:-1][use]
        apcor = float(np.median(ratio[np.isfinite(ratio) & (ratio > 0)])) if (
            np.isfinite(ratio) & (ratio > 0)).any() else 1.0
    zp_total = zp + 2.5 * math.log10(apcor)
    transparency = (float(np.clip(10 ** (-0.4 * (zp_clear_mag - zp_total)), 0.0, 1.2))
                    if zp_clear_mag is not None else float("nan"))
    return ImagePhotometry(
        value_mag=value, error_mag=error, x_px=float(ex[-1]), y_px=float(ey[-1]),
        expected_x_px=float(tx), expected_y_px=float(ty), fwhm_px=fwhm_px,
        fwhm_arcsec=fwhm_px * scale, zeropoint_mag=zp, zeropoint_err_mag=zp_err,
        transparency=transparency, n_ref=int(use.sum()),
        background_adu=float(ph["sky"][-1]), background_rms_adu=float(ph["rms"][-1]),
        peak_adu=float(peak[-1]), saturated=saturated,
        detail={"aperture_px": r_px, "aperture_correction": apcor, "pointing_offset_px": [float(dx), float(dy)],
                "zp_scatter_mag": float(np.std(zps)), "target_snr": t_flux / t_err
                if t_err > 0 else float("nan")})


def star_fwhm(data: NDArray, x: NDArray, y: NDArray, scale_arcsec_px: float,
              fit_shape_px: int = 31) -> tuple[float, float, int, list[float]]:
    """Median FWHM of the stars expected at pixels ``(x, y)``: centroided, then a
    Gaussian fit each (photutils ``fit_fwhm``).

    Returns:
        ``(arcsec, px, n fitted, per-star arcsec)``; NaN and 0 when no star could
        be fitted (wider than the fit box, or lost).

    Raises:
        InstrumentError: no star falls inside the frame.
    """
    from photutils.centroids import centroid_com, centroid_sources
    from photutils.psf import fit_fwhm

    x, y = np.asarray(x, float), np.asarray(y, float)
    h, w = data.shape
    m = fit_shape_px // 2 + 2
    inside = (x >= m) & (x < w - m) & (y >= m) & (y < h - m)
    if not inside.any():
        raise InstrumentError("no focus star falls inside the frame",
                              "check the pointing (JNow/J2000) and the field radius")
    img = data - float(np.median(data))
    cx, cy = centroid_sources(img, x[inside], y[inside], box_size=fit_shape_px,
                              centroid_func=centroid_com)
    ok = np.isfinite(cx) & np.isfinite(cy)
    ok &= (cx >= m) & (cx < w - m) & (cy >= m) & (cy < h - m)
    if not ok.any():
        return float("nan"), float("nan"), 0, []
    try:
        fw = np.asarray(fit_fwhm(img, xypos=np.column_stack([cx[ok], cy[ok]]),
                                 fit_shape=fit_shape_px), float)
    except Exception as exc:  # noqa: BLE001  (photutils raises various fit errors)
        log.warning("FWHM fit failed: %s", exc)
        return float("nan"), float("nan"), 0, []
    fw = fw[np.isfinite(fw) & (fw > 0) & (fw < fit_shape_px)]
    if fw.size == 0:
        return float("nan"), float("nan"), 0, []
    px = float(np.median(fw))
    return px * scale_arcsec_px, px, int(fw.size), [float(v * scale_arcsec_px) for v in fw]
