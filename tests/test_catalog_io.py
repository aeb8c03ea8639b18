"""Catalog readers: CSV, ECSV, FITS, VOTable, sexagesimal, units, defaults, bad rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from steer.errors import CatalogError
from steer.instruments.sim.catalog_io import (
    DEFAULT_BAND,
    DEFAULT_MAG,
    DEFAULT_PRIORITY,
    read_catalog,
    write_catalog,
)

REPO = Path(__file__).resolve().parents[1]
STARS = REPO / "experiments" / "catalogs" / "bright-stars.csv"

# Betelgeuse and Sirius, ICRS J2000 (SIMBAD), in degrees.
BETELGEUSE_DEG = (88.79293750, 7.40706389)
SIRIUS_DEG = (101.28715417, -16.71611667)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_bright_stars_read_with_sexagesimal_positions() -> None:
    cat = read_catalog(STARS)
    assert len(cat) == 39
    i = cat.index_of("Betelgeuse")
    assert cat.ra_deg[i] == pytest.approx(BETELGEUSE_DEG[0], abs=1e-6)
    assert cat.dec_deg[i] == pytest.approx(BETELGEUSE_DEG[1], abs=1e-6)
    j = cat.index_of("Sirius")
    assert (cat.ra_deg[j], cat.dec_deg[j]) == pytest.approx(SIRIUS_DEG, abs=1e-6)
    assert cat.mag[j] == pytest.approx(-1.46)
    assert set(cat.band) == {"g"}
    assert cat.priority[cat.index_of("OJ 287")] == 5.0


@pytest.mark.parametrize("ra, dec", [
    ("05:55:10.305", "+07:24:25.43"),
    ("05 55 10.305", "+07 24 25.43"),
    ("05h55m10.305s", "+07d24m25.43s"),
    ("88.79293750", "7.40706389"),
])
def test_sexagesimal_styles_and_decimal_strings(tmp_path: Path, ra: str, dec: str) -> None:
    p = _write(tmp_path / "c.csv", f"name,ra,dec\nBetelgeuse,{ra},{dec}\nX,0:00:00,-89:00:00\n")
    cat = read_catalog(p)
    assert (cat.ra_deg[0], cat.dec_deg[0]) == pytest.approx(BETELGEUSE_DEG, abs=2e-6)
    assert cat.dec_deg[1] == pytest.approx(-89.0)


def test_defaults_for_optional_columns(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.csv", "id,ra_deg,dec_deg,mag,priority\n007,10,20,,\nb,11,21,12.5,3\n")
    cat = read_catalog(p)
    assert list(cat.target_id) == ["007", "b"]  # ids stay text: the leading zeros are kept
    assert cat.mag[0] == DEFAULT_MAG and cat.mag[1] == 12.5
    assert cat.priority[0] == DEFAULT_PRIORITY and cat.priority[1] == 3.0
    assert list(cat.band) == [DEFAULT_BAND, DEFAULT_BAND]


def test_ecsv_units_from_metadata(tmp_path: Path) -> None:
    import astropy.units as u
    from astropy.table import Table

    t = Table({"target_id": ["Betelgeuse"], "ra": [BETELGEUSE_DEG[0] / 15.0] * u.hourangle,
               "dec": [BETELGEUSE_DEG[1] * 60.0] * u.arcmin, "band": ["I"]})
    t.write(tmp_path / "c.ecsv")
    cat = read_catalog(tmp_path / "c.ecsv")
    assert (cat.ra_deg[0], cat.dec_deg[0]) == pytest.approx(BETELGEUSE_DEG, abs=1e-9)
    assert cat.band[0] == "i"


@pytest.mark.parametrize("suffix", [".ecsv", ".fits", ".xml", ".csv"])
def test_round_trip_every_format(tmp_path: Path, suffix: str) -> None:
    cat = read_catalog(STARS)
    write_catalog(cat, tmp_path / f"c{suffix}")
    back = read_catalog(tmp_path / f"c{suffix}")
    assert list(back.target_id) == list(cat.target_id)
    np.testing.assert_allclose(back.ra_deg, cat.ra_deg, atol=1e-9)
    np.testing.assert_allclose(back.dec_deg, cat.dec_deg, atol=1e-9)
    np.testing.assert_allclose(back.mag, cat.mag)
    assert list(back.band) == list(cat.band)


def test_fits_in_radians(tmp_path: Path) -> None:
    import astropy.units as u
    from astropy.table import Table

    Table({"name": ["S"], "ra": [np.radians(SIRIUS_DEG[0])] * u.rad,
           "dec": [np.radians(SIRIUS_DEG[1])] * u.rad}).write(tmp_path / "c.fits")
    cat = read_catalog(tmp_path / "c.fits")
    assert (cat.ra_deg[0], cat.dec_deg[0]) == pytest.approx(SIRIUS_DEG, abs=1e-9)


@pytest.mark.parametrize("text, message", [
    ("name,ra,dec\nA,10,20\nB,12:61:00,20\n",
     "row 2 (target 'B'): ra='12:61:00' is neither a number nor sexagesimal"),
    ("name,ra,dec\nA,10,20\nB,,20\n", "row 2 (target 'B'): ra='' is empty"),
    ("name,ra,dec\nA,10,95\n", "row 1 (target 'A'): dec_deg=95.0 must be in [-90, 90]"),
    ("name,ra,dec,band\nA,10,20,V\n", "row 1 (target 'A'): band='v' is not one of ugrizy"),
    ("name,ra,dec,priority\nA,10,20,0\n", "row 1 (target 'A'): priority=0.0 must be > 0"),
    ("name,ra,dec,mag\nA,10,20,bright\n", "row 1 (target 'A'): mag='bright' is not a number"),
    ("name,ra,dec\nA,10,20\nA,11,21\n", "row 2 (target 'A'): target_id 'A' is duplicated"),
    ("name,ra\nA,10\n", "no column for dec (dec_deg or dec)"),
    ("ra,dec\n10,20\n", "no column for an id"),
    ("name,ra,dec\n", "no targets (the catalog is empty)"),
])
def test_bad_rows_one_line_naming_row_and_value(tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(CatalogError) as err:
        read_catalog(p)
    assert message in str(err.value)
    assert str(p) in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="unknown catalog format '.txt'"):
        read_catalog(_write(tmp_path / "c.txt", "x"))
    with pytest.raises(CatalogError, match="does not exist"):
        read_catalog(tmp_path / "none.csv")


def test_non_angle_unit_is_refused(tmp_path: Path) -> None:
    import astropy.units as u
    from astropy.table import Table

    Table({"name": ["S"], "ra": [1.0] * u.m, "dec": [2.0] * u.deg}).write(tmp_path / "c.ecsv")
    with pytest.raises(CatalogError, match="column 'ra' has unit 'm', not an angle"):
        read_catalog(tmp_path / "c.ecsv")
