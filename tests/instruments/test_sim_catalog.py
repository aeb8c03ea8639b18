"""Catalog: CSV validation with helpful errors, round trip, synthetic targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from steer.errors import CatalogError
from steer.instruments.sim import Almanac, Catalog, altaz_deg, get_preset

HEADER = "target_id,ra_deg,dec_deg,mag,band,priority\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cat.csv"
    path.write_text(text)
    return path


def test_from_csv_reads_valid_file_and_ignores_extra_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "target_id,ra_deg,dec_deg,mag,band,priority,notes\n"
                            "A,10.5,-20,18.2,r,1,hello\nB,350,45.5,16,g,5,\n")
    cat = Catalog.from_csv(path)
    assert len(cat) == 2
    assert list(cat.target_id) == ["A", "B"]
    assert cat.ra_deg.dtype == float and cat.priority[1] == 5.0
    assert cat.index_of("B") == 1


def test_missing_columns_are_named_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "target_id,ra_deg,mag,band\nA,10,18,r\n")
    with pytest.raises(CatalogError) as info:
        Catalog.from_csv(path)
    text = str(info.value)
    assert "missing required column(s) ['dec_deg', 'priority']" in text
    assert str(path) in text


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("A,10,95,18,r,1", "dec_deg=95.0"),
        ("A,10,-20,18,w,1", "band='w'"),
        ("A,10,-20,18,r,0", "priority=0.0"),
        ("A,10,-20,nan,r,1", "mag=nan"),
        ("A,10,-20,abc,r,1", "mag='abc'"),
        ("A,400,-20,18,r,1", "ra_deg=400.0"),
    ],
)
def test_bad_values_are_named_with_their_row(tmp_path: Path, row: str, needle: str) -> None:
    path = _write(tmp_path, HEADER + "OK,1,1,15,g,1\n" + row + "\n")
    with pytest.raises(CatalogError) as info:
        Catalog.from_csv(path)
    assert needle in str(info.value)
    assert "row 2" in str(info.value) and str(path) in str(info.value)


def test_duplicate_ids_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="duplicated"):
        Catalog.from_csv(_write(tmp_path, HEADER + "A,1,1,15,g,1\nA,2,2,16,r,1\n"))
    with pytest.raises(CatalogError, match="no targets"):
        Catalog.from_csv(_write(tmp_path, HEADER))
    with pytest.raises(CatalogError, match="cannot read"):
        Catalog.from_csv(tmp_path / "absent.csv")


def test_constructor_validates_too() -> None:
    with pytest.raises(CatalogError, match="dec_deg"):
        Catalog(target_id=["A"], ra_deg=[1.0], dec_deg=[-91.0], mag=[15.0], band=["r"],
                priority=[1.0])
    with pytest.raises(CatalogError, match="equal length"):
        Catalog(target_id=["A", "B"], ra_deg=[1.0], dec_deg=[0.0], mag=[15.0], band=["r"],
                priority=[1.0])


def test_csv_round_trip(tmp_path: Path) -> None:
    cat = Catalog(target_id=["x1", "x2"], ra_deg=[0.123456789012, 359.9],
                  dec_deg=[-89.5, 12.25], mag=[15.5, 20.0], band=["u", "y"], priority=[0.5, 2])
    path = tmp_path / "out.csv"
    cat.to_csv(path)
    back = Catalog.from_csv(path)
    for name in ("target_id", "ra_deg", "dec_deg", "mag", "band", "priority"):
        assert np.array_equal(getattr(back, name), getattr(cat, name))


def test_synthetic_catalog_is_observable_and_well_formed() -> None:
    cfg = get_preset("small-robotic")
    alm = Almanac.for_night("2026-12-01", cfg.site_lat_deg, cfg.site_lon_deg,
                            cfg.site_height_m, grid_min=15.0)
    cat = Catalog.synthetic(500, np.random.default_rng(3), alm, cfg.site_lat_deg)
    again = Catalog.synthetic(500, np.random.default_rng(3), alm, cfg.site_lat_deg)
    assert len(cat) == 500 and np.array_equal(cat.ra_deg, again.ra_deg)
    assert cat.target_id[0] == "T0001" and cat.target_id[-1] == "T0500"
    assert set(np.unique(cat.band)) == {"g", "r", "i"}
    assert cat.mag.min() >= 15.0 and cat.mag.max() <= 21.0
    values, counts = np.unique(cat.priority, return_counts=True)
    assert list(values) == [1.0, 2.0, 5.0]
    assert counts[0] / 500 == pytest.approx(0.7, abs=0.07)
    t = np.linspace(alm.night_start_mjd, alm.night_end_mjd, 60)
    alt, _ = altaz_deg(cat.ra_deg[:, None], cat.dec_deg[:, None], alm.lst_deg(t)[None, :],
                       cfg.site_lat_deg)
    assert np.all(alt.max(axis=1) > 29.5)  # every target rises above ~30 deg
    with pytest.raises(CatalogError):
        Catalog.synthetic(0, np.random.default_rng(0), alm, cfg.site_lat_deg)
