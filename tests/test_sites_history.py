"""Sites (shipped table, aliases, site files) and history readers (tables, journals)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from steer.envs.history import read_history
from steer.errors import ConfigError
from steer.instruments.sim.catalog_io import read_catalog
from steer.instruments.sim.sites import SITES, load_site_file, resolve_site, site_from_coords

REPO = Path(__file__).resolve().parents[1]
STARS = REPO / "experiments" / "catalogs" / "bright-stars.csv"


@pytest.mark.parametrize("name, key", [("lasilla", "lasilla"), ("La Silla", "lasilla"),
                                        ("VLT", "paranal"), ("Roque de los Muchachos", "lapalma"),
                                        ("keck", "maunakea"), ("LSST", "rubin")])
def test_shipped_sites_and_aliases(name: str, key: str) -> None:
    assert resolve_site(name) is SITES[key]


def test_every_shipped_site_names_its_source_and_la_silla_matches_the_preset() -> None:
    from steer.instruments.sim import get_preset

    for site in SITES.values():
        assert site.source and -90 <= site.lat_deg <= 90 and -180 <= site.lon_deg <= 180
    small = get_preset("small-robotic")
    assert (SITES["lasilla"].lat_deg, SITES["lasilla"].lon_deg) == (small.site_lat_deg,
                                                                    small.site_lon_deg)
    rubin = get_preset("rubin-like")
    assert SITES["rubin"].lat_deg == rubin.site_lat_deg and SITES["rubin"].preset == "rubin-like"


def test_unknown_site_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown site 'atlantis'.*lasilla, paranal"):
        resolve_site("atlantis")


def test_site_file(tmp_path: Path) -> None:
    p = tmp_path / "home.toml"
    p.write_text('name = "Backyard"\nlat_deg = 48.85\nlon_deg = 2.35\nheight_m = 35\n'
                 'alt_min_deg = 25\npreset = "small-robotic"\n', encoding="utf-8")
    site = resolve_site(str(p))
    assert (site.name, site.lat_deg, site.lon_deg, site.height_m, site.alt_min_deg) == (
        "Backyard", 48.85, 2.35, 35.0, 25.0)


@pytest.mark.parametrize("text, message", [
    ("lat_deg = 48\nlon_deg = 2\n", "missing height_m"),
    ("lat_deg = 98\nlon_deg = 2\nheight_m = 1\n", "lat_deg = 98.0 is outside [-90, 90]"),
    ("lat_deg = 48\nlon_deg = 2\nheight_m = 1\nhorizon = 3\n", "unknown key(s) ['horizon']"),
    ("lat_deg = 48\nlon_deg = 2\nheight_m = 1\npreset = 'big'\n", "unknown preset 'big'"),
    ("lat_deg = '48'\nlon_deg = 2\nheight_m = 1\n", "lat_deg = '48' is not a number"),
    ("lat_deg = = 3\n", "is not valid TOML"),
])
def test_bad_site_files(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_site_file(p)
    assert message in str(err.value)


def test_site_from_coords_range() -> None:
    assert site_from_coords(-29.0, 290.0, 10).lon_deg == -70.0  # east-positive, wrapped
    with pytest.raises(ConfigError, match="height_m = 20000.0 is outside"):
        site_from_coords(10, 10, 20000)


def _history_csv(path: Path) -> Path:
    path.write_text("# past photometry\ntarget_id,mjd,mag,mag_err,band\n"
                    "RR Lyr,61110.1,7.6,0.01,g\nRR Lyr,61111.1,7.9,0.01,g\n"
                    "3C 273,61115.2,12.8,0.02,\nNowhere,61115.2,12.8,0.02,g\n"
                    "T CrB,61118.1,10.1,0.02,r\nOJ 287,61117.1,,0.03,g\n", encoding="utf-8")
    return path


def test_history_table_counts_what_it_skips(tmp_path: Path) -> None:
    cat = read_catalog(STARS)
    hist, rep = read_history(_history_csv(tmp_path / "h.csv"), cat)
    assert (rep.rows, rep.used, rep.unknown_targets, rep.other_band, rep.unusable) == (6, 3, 1, 1,
                                                                                       1)
    assert rep.unknown_examples == ["Nowhere"] and rep.targets == 2 and rep.max_visits == 2
    rr = cat.index_of("RR Lyr")
    assert list(hist["target_index"]) == [rr, rr, cat.index_of("3C 273")]
    np.testing.assert_allclose(hist["mjd"], [61110.1, 61111.1, 61115.2])
    assert len(rep.warnings()) == 3 and "1 of 6 rows name targets not in the catalog" in \
        rep.warnings()[0]


def test_history_ecsv(tmp_path: Path) -> None:
    from astropy.table import Table

    cat = read_catalog(STARS)
    Table({"target_id": ["Vega", "Vega"], "mjd": [61100.0, 61101.0], "mag": [0.0, 0.1],
           "mag_err": [0.01, 0.01]}).write(tmp_path / "h.ecsv")
    hist, rep = read_history(tmp_path / "h.ecsv", cat)
    assert rep.used == 2 and set(hist["target_index"]) == {cat.index_of("Vega")}


def test_history_from_a_runs_folder(tmp_path: Path) -> None:
    cat = read_catalog(STARS)
    journals = tmp_path / "runs" / "journals"
    journals.mkdir(parents=True)
    lines = [
        {"status": "ok", "proposal": {"action": {"target_index": 0, "target_id": "Vega",
                                                 "exptime_s": 30.0}},
         "measurement": {"value_mag": 0.05, "error_mag": 0.01, "mjd_mid": 61100.2,
                         "conditions": {"band": "g"}}},
        {"status": "rejected", "proposal": {"action": {"target_id": "Vega"}}, "measurement": None},
        {"status": "ok", "proposal": {"action": {"target_id": "T0001"}},
         "measurement": {"value_mag": 17.0, "error_mag": 0.05, "mjd_mid": 61100.3}},
        {"status": "ok", "proposal": {"action": {"target_id": "Deneb"}},
         "measurement": {"value_mag": None, "error_mag": None, "mjd_mid": 61100.4,
                         "saturated": True}},
    ]
    (journals / "run1.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n",
                                         encoding="utf-8")
    hist, rep = read_history(tmp_path / "runs", cat)
    assert (rep.rows, rep.used, rep.unknown_targets, rep.unusable) == (3, 1, 1, 1)
    assert list(hist["target_index"]) == [cat.index_of("Vega")]


@pytest.mark.parametrize("text, message", [
    ("target_id,mjd,mag\nVega,1,2\n", "missing column(s) ['mag_err']"),
    ("target_id,mjd,mag,mag_err\nNowhere,61100,1,0.1\n",
     "nothing usable in history"),
    ("target_id,mjd,mag,mag_err\n", "has no visits"),
])
def test_bad_history(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "h.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_history(p, read_catalog(STARS))
    assert message in str(err.value)


def test_missing_history_and_empty_runs_folder(tmp_path: Path) -> None:
    cat = read_catalog(STARS)
    with pytest.raises(ConfigError, match="does not exist"):
        read_history(tmp_path / "nope.csv", cat)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ConfigError, match="has no journals"):
        read_history(tmp_path / "runs", cat)
