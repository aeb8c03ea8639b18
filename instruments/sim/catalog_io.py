"""Read target catalogs as astronomers keep them: CSV, ECSV, FITS and VOTable.

Only an identifier and a position are required:

* id: the first column named ``target_id``, ``name``, ``id``, ``main_id`` or
  ``source_id`` (case-insensitive);
* position (ICRS, J2000): ``ra_deg``/``dec_deg``, or ``ra``/``dec`` (also
  ``raj2000``/``dej2000``, ``ra_icrs``/``de_icrs``). Numbers are degrees
  unless the column's unit in the file's metadata says otherwise (``hourangle``
  or ``h`` for right ascension in hours, ``rad``, ``arcmin``...). Strings are
  sexagesimal: ``"05:55:10.31"``, ``"05 55 10.31"`` or ``"05h55m10.31s"``
  for right ascension (hours, or degrees when the column's unit is ``deg``),
  ``"+07:24:25.4"`` or ``"+07d24m25.4s"`` for declination (degrees).

Optional columns and their defaults: ``mag`` (also ``vmag``, ``magnitude``;
default :data:`DEFAULT_MAG` = 15.0, a placeholder that only sets the predicted
errors), ``band`` (one of ``u g r i z y``, case-insensitive; default
:data:`DEFAULT_BAND` = ``r``) and ``priority`` (> 0; default 1.0). Empty or
masked optional cells take the default; empty required cells are errors.
CSV files may start with ``#`` comment lines. Every bad value raises
:class:`~steer.errors.CatalogError` with one line naming the file, the row
(1 = first data row) and the value.
"""

from __future__ import annotations

import csv
import re
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from steer.errors import CatalogError
from steer.instruments.sim.catalog import Catalog

__all__ = ["read_catalog", "write_catalog", "DEFAULT_MAG", "DEFAULT_BAND", "DEFAULT_PRIORITY"]

DEFAULT_MAG = 15.0
DEFAULT_BAND = "r"
DEFAULT_PRIORITY = 1.0

_ID_NAMES = ("target_id", "name", "id", "main_id", "source_id")
_RA_NAMES = ("ra_deg", "ra", "raj2000", "ra_icrs", "_raj2000")
_DEC_NAMES = ("dec_deg", "dec", "dej2000", "decj2000", "de_icrs", "dec_icrs", "_dej2000")
_MAG_NAMES = ("mag", "vmag", "magnitude")
_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits",
            ".fts": "fits", ".xml": "votable", ".vot": "votable", ".votable": "votable"}
_SEXA = re.compile(
    r"^\s*([+-]?)\s*(\d+(?:\.\d*)?)\s*(?:[:hd\u00b0]\s*|\s+)(\d+(?:\.\d*)?)\s*(?:[:m']\s*|\s+)?"
    r"(\d+(?:\.\d*)?)?\s*[s\"]?\s*$")
_UNIT_TO_DEG = {"deg": 1.0, "degree": 1.0, "degrees": 1.0, "d": 1.0, "h": 15.0, "hr": 15.0,
                "hour": 15.0, "hourangle": 15.0, "rad": 180.0 / np.pi, "arcmin": 1.0 / 60.0,
                "arcsec": 1.0 / 3600.0, "mas": 1.0 / 3.6e6}


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise CatalogError(f"{path}: unknown catalog format {path.suffix!r}",
                           "use .csv, .ecsv, .fits or a VOTable (.xml, .vot)")
    return fmt


def _find(names: list[str], wanted: tuple[str, ...]) -> str | None:
    lower = {n.lower(): n for n in names}
    return next((lower[w] for w in wanted if w in lower), None)


def _read_table(path: Path) -> Any:
    """The file as an astropy Table (ids kept as text in CSV files)."""
    from astropy.io import ascii as ascii_io
    from astropy.table import Table

    fmt = _format_of(path)
    kwargs: dict[str, Any] = {}
    if fmt == "ascii.csv":
        with open(path, newline="", encoding="utf-8") as fh:
            lines = (line for line in fh if not line.lstrip().startswith("#"))
            header = next(csv.reader(lines), [])
        str_cols = [h.strip() for h in header
                    if h.strip().lower() in _ID_NAMES + ("band",)]
        kwargs["converters"] = {c: [ascii_io.convert_numpy(str)] for c in str_cols}
        kwargs["comment"] = r"\s*#"
    try:
        if fmt == "votable":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return Table.read(path, format=fmt)
        return Table.read(path, format=fmt, **kwargs)
    except FileNotFoundError:
        raise CatalogError(f"catalog {str(path)!r} does not exist") from None
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CatalogError(f"cannot read catalog {str(path)!r} as {fmt}: {first}") from None


def _cells(col: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values and a mask of missing cells (masked, NaN-free empty strings)."""
    mask = np.ma.getmaskarray(col).copy()
    data = np.asarray(col.filled(col.dtype.type()) if hasattr(col, "filled") and mask.any()
                      else col)
    if data.dtype.kind in "SU":
        data = np.char.strip(data.astype(str))
        mask |= data == ""
    elif data.dtype.kind == "O":
        data = np.array([str(v).strip() for v in data])
        mask |= data == ""
    return data, mask


def _unit_factor(col: Any, source: str, name: str) -> float | None:
    """Degrees per unit of the column's metadata unit (None if it has none)."""
    unit = getattr(col, "unit", None)
    if unit is None:
        return None
    text = str(unit).strip().lower()
    if text in ("", "none"):
        return None
    if text not in _UNIT_TO_DEG:
        raise CatalogError(f"{source}: column {name!r} has unit {str(unit)!r}, not an angle",
                           "use deg or hourangle")
    return _UNIT_TO_DEG[text]


def _sexagesimal(text: str) -> float | None:
    """``[+-]D:M:S`` (any of ``: h d m s`` or spaces as separators) as a float, or None."""
    m = _SEXA.match(text)
    if m is None:
        return None
    sign, d, mi, se = m.groups()
    if float(mi) >= 60.0 or (se is not None and float(se) >= 60.0):
        return None
    value = float(d) + float(mi) / 60.0 + (float(se) if se else 0.0) / 3600.0
    return -value if sign == "-" else value


def _angles(col: Any, name: str, ids: np.ndarray, source: str, is_ra: bool) -> np.ndarray:
    """An RA or Dec column in degrees, naming the first bad row."""
    data, mask = _cells(col)
    factor = _unit_factor(col, source, name)
    label = "ra" if is_ra else "dec"

    def bad(i: int, value: Any, why: str) -> CatalogError:
        return CatalogError(f"{source}: row {i + 1} (target {str(ids[i])!r}): "
                            f"{name}={value!r} {why}")

    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise bad(i, "", f"is empty ({label} is required)")
    if data.dtype.kind in "iuf":
        return data.astype(float) * (factor or 1.0)
    out = np.empty(len(data))
    sexa_factor = factor if factor is not None else (15.0 if is_ra else 1.0)
    for i, text in enumerate(data):
        try:
            out[i] = float(text) * (factor or 1.0)
            continue
        except ValueError:
            pass
        value = _sexagesimal(str(text))
        if value is None:
            raise bad(i, str(text), "is neither a number nor sexagesimal "
                      "(e.g. 05:55:10.3 / +07:24:25)")
        out[i] = value * sexa_factor
    return out


def _optional_numbers(table: Any, name: str | None, default: float, ids: np.ndarray,
                      source: str) -> np.ndarray:
    n = len(ids)
    if name is None:
        return np.full(n, default)
    data, mask = _cells(table[name])
    if data.dtype.kind in "iufb":
        out = data.astype(float)
    else:
        out = np.empty(n)
        for i, text in enumerate(data):
            if mask[i]:
                continue
            try:
                out[i] = float(text)
            except ValueError:
                raise CatalogError(f"{source}: row {i + 1} (target {str(ids[i])!r}): "
                                   f"{name}={str(text)!r} is not a number") from None
    out[mask] = default
    return out


def read_catalog(path: str | PathLike[str]) -> Catalog:
    """Read a CSV, ECSV, FITS or VOTable catalog (see the module docstring).

    Args:
        path: The file; the format follows its extension (``.csv``, ``.ecsv``,
            ``.fits``/``.fit``/``.fts``, ``.xml``/``.vot``/``.votable``, each
            optionally ``.gz``).

    Returns:
        The validated catalog, in file order.

    Raises:
        CatalogError: unknown format, unreadable file, missing id or position
            column, no rows, or a bad value (one line naming the row and value).
    """
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise CatalogError(f"catalog {source!r} does not exist")
    table = _read_table(p)
    names = list(table.colnames)
    id_col, ra_col, dec_col = (_find(names, w) for w in (_ID_NAMES, _RA_NAMES, _DEC_NAMES))
    missing = [what for what, c in (("an id (target_id, name or id)", id_col),
                                    ("ra (ra_deg or ra)", ra_col),
                                    ("dec (dec_deg or dec)", dec_col)) if c is None]
    if missing:
        raise CatalogError(f"{source}: no column for {' and '.join(missing)}; "
                           f"the file has {names}",
                           "a catalog needs an id and a position; mag, band, priority are "
                           "optional")
    if len(table) == 0:
        raise CatalogError(f"{source}: no targets (the catalog is empty)")
    ids, id_mask = _cells(table[id_col])
    ids = ids.astype(str)
    if id_mask.any():
        raise CatalogError(f"{source}: row {int(np.flatnonzero(id_mask)[0]) + 1}: "
                           f"{id_col} is empty")
    ra = _angles(table[ra_col], ra_col, ids, source, is_ra=True)
    dec = _angles(table[dec_col], dec_col, ids, source, is_ra=False)
    mag = _optional_numbers(table, _find(names, _MAG_NAMES), DEFAULT_MAG, ids, source)
    priority = _optional_numbers(table, _find(names, ("priority",)), DEFAULT_PRIORITY, ids,
                                 source)
    band_col = _find(names, ("band", "filter"))
    if band_col is None:
        band = np.full(len(ids), DEFAULT_BAND)
    else:
        band, band_mask = _cells(table[band_col])
        band = np.char.lower(band.astype(str))
        band[band_mask] = DEFAULT_BAND
    from steer.instruments.sim.catalog import _check_values

    _check_values(ids, ra, dec, mag, band.astype(str), priority, source, 1)
    return Catalog(target_id=ids, ra_deg=ra, dec_deg=dec, mag=mag, band=band, priority=priority)


def write_catalog(catalog: Catalog, path: str | PathLike[str]) -> None:
    """Write ``catalog`` in the format of ``path``'s extension (ECSV keeps units).

    Args:
        catalog: The catalog.
        path: ``.csv``, ``.ecsv``, ``.fits`` or ``.xml`` / ``.vot``.
    """
    import astropy.units as u
    from astropy.table import Table

    t = Table({"target_id": catalog.target_id, "ra_deg": catalog.ra_deg * u.deg,
               "dec_deg": catalog.dec_deg * u.deg, "mag": catalog.mag, "band": catalog.band,
               "priority": catalog.priority})
    t.write(path, format=_format_of(Path(path)), overwrite=True)

