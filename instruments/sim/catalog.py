"""Target catalogs: validated numpy columns, CSV input/output, synthetic nights.

A catalog has exactly six required columns: ``target_id, ra_deg, dec_deg, mag, band,
priority`` (ICRS J2000 coordinates, reference mean AB magnitude in ``band``, priority
weight > 0). Extra CSV columns are ignored.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from steer.errors import CatalogError
from steer.instruments.sim.geometry import altaz_deg
from steer.instruments.sim.presets import BANDS

if TYPE_CHECKING:
    from steer.instruments.sim.almanac import Almanac

__all__ = ["Catalog", "REQUIRED_COLUMNS"]

#: The columns every catalog CSV must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("target_id", "ra_deg", "dec_deg", "mag", "band", "priority")


def _check_values(
    target_id: NDArray, ra: NDArray, dec: NDArray, mag: NDArray, band: NDArray,
    priority: NDArray, source: str, row_offset: int,
) -> None:
    """Raise CatalogError naming the first bad value, its row and the source."""
    def bad(i: int, what: str) -> CatalogError:
        return CatalogError(f"{source}: row {i + row_offset} (target {str(target_id[i])!r}): "
                            f"{what}")

    checks = (
        (~np.isfinite(ra) | (ra < 0.0) | (ra > 360.0), "ra_deg", ra, "must be in [0, 360]"),
        (~np.isfinite(dec) | (np.abs(dec) > 90.0), "dec_deg", dec, "must be in [-90, 90]"),
        (~np.isfinite(mag), "mag", mag, "must be a finite number"),
        (~np.isfinite(priority) | (priority <= 0.0), "priority", priority, "must be > 0"),
    )
    for mask, name, values, rule in checks:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise bad(i, f"{name}={values[i].item()!r} {rule}")
    unknown = ~np.isin(band, np.array(BANDS))
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise bad(i, f"band={str(band[i])!r} is not one of {''.join(BANDS)}")
    empty = np.char.str_len(target_id.astype(str)) == 0
    if empty.any():
        raise bad(int(np.flatnonzero(empty)[0]), "target_id is empty")
    uniq, counts = np.unique(target_id, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][0]
        i = int(np.flatnonzero(target_id == dup)[1])
        raise bad(i, f"target_id {str(dup)!r} is duplicated")


@dataclass(frozen=True, eq=False)
class Catalog:
    """Targets to observe, as parallel numpy arrays (`N` rows).

    Attributes:
        target_id: `N` unique identifiers (str).
        ra_deg: ICRS right ascension, degrees in [0, 360].
        dec_deg: ICRS declination, degrees in [-90, 90].
        mag: Reference mean AB magnitude in ``band``.
        band: Band of each target, one of ``u g r i z y``.
        priority: Science weight, > 0.
    """

    target_id: NDArray[np.str_]
    ra_deg: NDArray[np.float64]
    dec_deg: NDArray[np.float64]
    mag: NDArray[np.float64]
    band: NDArray[np.str_]
    priority: NDArray[np.float64]

    def __post_init__(self) -> None:
        """Coerce the columns to arrays and validate them."""
        cols = {
            "target_id": np.asarray(self.target_id).astype(str),
            "ra_deg": np.asarray(self.ra_deg, dtype=float),
            "dec_deg": np.asarray(self.dec_deg, dtype=float),
            "mag": np.asarray(self.mag, dtype=float),
            "band": np.asarray(self.band).astype(str),
            "priority": np.asarray(self.priority, dtype=float),
        }
        lengths = {name: (a.shape[0] if a.ndim == 1 else -1) for name, a in cols.items()}
        if len(set(lengths.values())) != 1 or -1 in lengths.values():
            raise CatalogError(f"catalog columns must be 1-d and of equal length, got {lengths}")
        for name, arr in cols.items():
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        _check_values(cols["target_id"], cols["ra_deg"], cols["dec_deg"], cols["mag"],
                      cols["band"], cols["priority"], "catalog", 0)

    def __len__(self) -> int:
        return int(self.ra_deg.shape[0])

    def index_of(self, target_id: str) -> int:
        """Row of ``target_id``; raises CatalogError if absent."""
        hits = np.flatnonzero(self.target_id == target_id)
        if hits.size == 0:
            raise CatalogError(f"target_id {target_id!r} is not in the catalog")
        return int(hits[0])

    @classmethod
    def from_csv(cls, path: str | PathLike[str]) -> Catalog:
        """Read a catalog from a CSV file with a header row.

        Args:
            path: File with at least the columns of :data:`REQUIRED_COLUMNS`.

        Returns:
            The validated catalog.

        Raises:
            CatalogError: Naming the file and the missing columns, or the bad value and
                its row (1 = first data row), or if the file has no rows.
        """
        source = str(path)
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                header = [h.strip() for h in (reader.fieldnames or [])]
                missing = [c for c in REQUIRED_COLUMNS if c not in header]
                if missing:
                    raise CatalogError(
                        f"{source}: missing required column(s) {missing}",
                        hint=f"a catalog needs the columns {', '.join(REQUIRED_COLUMNS)}",
                    )
                reader.fieldnames = header
                rows = list(reader)
        except OSError as err:
            raise CatalogError(f"cannot read catalog {source}: {err}") from None
        if not rows:
            raise CatalogError(f"{source}: no targets (header only)")
        cols: dict[str, list] = {c: [] for c in REQUIRED_COLUMNS}
        for i, row in enumerate(rows, start=1):
            for c in REQUIRED_COLUMNS:
                value = (row.get(c) or "").strip()
                if c in ("target_id", "band"):
                    cols[c].append(value)
                    continue
                try:
                    cols[c].append(float(value))
                except ValueError:
                    raise CatalogError(
                        f"{source}: row {i}: {c}={value!r} is not a number"
                    ) from None
        arrays = {c: np.asarray(v) for c, v in cols.items()}
        _check_values(arrays["target_id"].astype(str), arrays["ra_deg"].astype(float),
                      arrays["dec_deg"].astype(float), arrays["mag"].astype(float),
                      arrays["band"].astype(str), arrays["priority"].astype(float), source, 1)
        return cls(**arrays)

    @classmethod
    def read(cls, path: str | PathLike[str]) -> Catalog:
        """Read a CSV, ECSV, FITS or VOTable catalog with flexible columns.

        Only an id and a position are required; see
        :func:`steer.instruments.sim.catalog_io.read_catalog`.
        """
        from steer.instruments.sim.catalog_io import read_catalog

        return read_catalog(path)

    def to_csv(self, path: str | PathLike[str]) -> None:
        """Write the catalog as CSV (header + one row per target, full float precision)."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(REQUIRED_COLUMNS)
            for i in range(len(self)):
                writer.writerow([self.target_id[i], repr(float(self.ra_deg[i])),
                                 repr(float(self.dec_deg[i])), repr(float(self.mag[i])),
                                 self.band[i], repr(float(self.priority[i]))])

    @classmethod
    def synthetic(
        cls,
        n_targets: int,
        rng: np.random.Generator,
        almanac: Almanac,
        lat_deg: float,
        bands: tuple[str, ...] = ("g", "r", "i"),
        mag_range: tuple[float, float] = (15.0, 21.0),
        min_alt_deg: float = 30.0,
    ) -> Catalog:
        """Draw targets that rise above ``min_alt_deg`` during the almanac's night.

        Positions are uniform on the sphere over RA within the night's sidereal-time
        range +- 3 h and the declinations that can reach ``min_alt_deg`` from the site,
        kept only if they do reach it during the night (checked on a 10-min grid).
        Magnitudes are uniform in ``mag_range``; priorities are 1 (70%), 2 (20%) or
        5 (10%); ids are ``T0001``, ``T0002``...

        Args:
            n_targets: Number of targets (>= 1).
            rng: Generator to draw from.
            almanac: The night (gives sidereal times).
            lat_deg: Site latitude, degrees.
            bands: Bands to draw from, uniformly.
            mag_range: ``(bright, faint)`` limits of the reference magnitude.
            min_alt_deg: Every target reaches this altitude during the night.

        Returns:
            The catalog.
        """
        if n_targets < 1:
            raise CatalogError(f"n_targets={n_targets} must be >= 1")
        bad = [b for b in bands if b not in BANDS]
        if bad or not bands:
            raise CatalogError(f"bands {list(bands)} must be a non-empty subset of {BANDS}")
        t = np.arange(almanac.night_start_mjd, almanac.night_end_mjd, 10.0 / 1440.0)
        lst = almanac.lst_deg(t)
        span_deg = (lst[-1] - lst[0]) % 360.0 + 90.0  # +- 3 h of RA (45 deg each side)
        ra0 = lst[0] - 45.0
        dec_lo = max(-90.0, lat_deg - (90.0 - min_alt_deg))
        dec_hi = min(90.0, lat_deg + (90.0 - min_alt_deg))
        s_lo, s_hi = math.sin(math.radians(dec_lo)), math.sin(math.radians(dec_hi))
        ra_out: list[NDArray] = []
        dec_out: list[NDArray] = []
        have = 0
        for _ in range(100):
            m = max(2 * (n_targets - have), 16)
            ra = (ra0 + rng.uniform(0.0, span_deg, m)) % 360.0
            dec = np.degrees(np.arcsin(rng.uniform(s_lo, s_hi, m)))
            alt, _ = altaz_deg(ra[:, None], dec[:, None], lst[None, :], lat_deg)
            ok = alt.max(axis=1) >= min_alt_deg
            ra_out.append(ra[ok])
            dec_out.append(dec[ok])
            have += int(ok.sum())
            if have >= n_targets:
                break
        else:  # pragma: no cover - only for degenerate sites
            raise CatalogError(f"could not place {n_targets} targets above {min_alt_deg} deg")
        ra_all = np.concatenate(ra_out)[:n_targets]
        dec_all = np.concatenate(dec_out)[:n_targets]
        mag = rng.uniform(mag_range[0], mag_range[1], n_targets)
        band = rng.choice(np.array(bands), n_targets)
        priority = rng.choice(np.array([1.0, 2.0, 5.0]), n_targets, p=[0.7, 0.2, 0.1])
        width = max(4, len(str(n_targets)))
        ids = np.array([f"T{i + 1:0{width}d}" for i in range(n_targets)])
        return cls(target_id=ids, ra_deg=ra_all, dec_deg=dec_all, mag=mag, band=band,
                   priority=priority)
