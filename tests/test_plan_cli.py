"""``steer suggest`` and ``steer plan`` on real stars at real sites, checked with astropy.

The independent check: astropy's ``AltAz`` (no refraction, as the simulator
and the limit are geometric) puts every suggested target above the altitude
limit at the stated time, and every planned target above it at the start of
its slew, the start of its exposure and the end of its readout, with the Sun
(``get_sun``) below -12 deg at each of those times. Tolerances: 0.001 deg for
the targets (the simulator matches astropy to better than an arcsecond), 0.01
deg for the Sun (dusk and dawn are interpolated on a 5-min grid, ~1 s).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from steer.cli import main

REPO = Path(__file__).resolve().parents[1]
STARS = str(REPO / "experiments" / "catalogs" / "bright-stars.csv")
# (site, a time inside the night of 2026-03-20 there, its latitude sign)
SITES = [("lasilla", "2026-03-21T04:00:00Z"), ("lapalma", "2026-03-21T01:00:00Z")]
ALT_TOL_DEG = 1e-3
SUN_TOL_DEG = 1e-2


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _altaz(site_name: str, ra_deg: np.ndarray, dec_deg: np.ndarray,
           iso_or_mjd: list[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Target and Sun altitudes from astropy (independent of the simulator)."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_sun
    from astropy.time import Time

    from steer.instruments.sim import configure_astropy_offline
    from steer.instruments.sim.sites import resolve_site

    configure_astropy_offline()
    site = resolve_site(site_name)
    loc = EarthLocation(lat=site.lat_deg * u.deg, lon=site.lon_deg * u.deg,
                        height=site.height_m * u.m)
    t = (Time(iso_or_mjd, format="mjd", scale="utc") if isinstance(iso_or_mjd, np.ndarray)
         else Time([s.rstrip("Z") for s in iso_or_mjd], format="isot", scale="utc"))
    frame = AltAz(obstime=t, location=loc, pressure=0 * u.hPa)
    alt = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs").transform_to(frame).alt
    sun = get_sun(t).transform_to(frame).alt
    return np.asarray(alt.deg), np.asarray(sun.deg)


@pytest.mark.parametrize("site, when", SITES)
@pytest.mark.parametrize("policy", ["feature", "bo"])
def test_suggest_targets_are_up_and_the_sun_is_down(capsys, site: str, when: str,
                                                     policy: str) -> None:
    code, out, err = _run(capsys, "suggest", STARS, "--site", site, "--time", when, "--n", "8",
                          "--policy", policy, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == list(range(1, 9))
    for key in ("rank", "target_id", "ra_deg", "dec_deg", "alt_deg", "az_deg", "airmass",
                "moon_sep_deg", "exptime_s", "score", "reason"):
        assert all(key in r for r in rows)
    assert len({r["target_id"] for r in rows}) == 8  # eight different targets
    assert all(r["reason"] and "\n" not in r["reason"] for r in rows)
    # frames predicted not to saturate first (the policies' exposure mask), each group by score
    sat = [r["saturates"] for r in rows]
    assert sat == sorted(sat)
    for group in (False, True):
        scores = [r["score"] for r in rows if r["saturates"] is group]
        assert scores == sorted(scores, reverse=True)
    # a row placed below one with a lower score says why (it saturates at every exposure)
    for r in rows:
        listed_after = "after the targets that would not saturate" in r["reason"]
        assert listed_after == (r["saturates"] and not all(sat)), r["reason"]
    ra, dec = np.array([r["ra_deg"] for r in rows]), np.array([r["dec_deg"] for r in rows])
    alt, sun = _altaz(site, ra, dec, [when] * len(rows))
    assert (alt >= 30.0 - ALT_TOL_DEG).all(), alt
    assert (sun < -12.0).all(), sun
    np.testing.assert_allclose([r["alt_deg"] for r in rows], alt, atol=2e-3)


def test_suggest_table_and_csv(capsys) -> None:
    code, out, _ = _run(capsys, "suggest", STARS, "--site", "lasilla", "--time", SITES[0][1],
                        "--n", "3")
    assert code == 0
    assert "3 best of 39 targets at 2026-03-21T04:00:00Z, La Silla" in out
    assert "never observed" in out and "slew" in out
    code, out, _ = _run(capsys, "suggest", STARS, "--lat", "-29.2611", "--lon", "-70.7314",
                        "--height", "2400", "--time", SITES[0][1], "--n", "3", "--format", "csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("rank,target_id,ra_deg,dec_deg,alt_deg") and len(lines) == 4


def test_history_changes_the_ranking_and_is_reported(capsys, tmp_path: Path) -> None:
    args = ["suggest", STARS, "--site", "lapalma", "--time", SITES[1][1], "--n", "39",
            "--policy", "feature", "--format", "json"]
    _, out, _ = _run(capsys, *args)
    before = json.loads(out)
    top, top_score = before[0]["target_id"], before[0]["score"]
    h = tmp_path / "h.csv"
    # the top target was observed an hour ago (its revisit term drops), plus one unknown row
    h.write_text("target_id,mjd,mag,mag_err\n" + f"{top},61120.0,10.0,0.01\n"
                 "Nowhere,61120.0,10.0,0.01\n", encoding="utf-8")
    code, out, err = _run(capsys, *args, "--history", str(h))
    assert code == 0
    after = json.loads(out)
    row = next(r for r in after if r["target_id"] == top)
    assert row["score"] < top_score  # seen an hour ago: less due
    # the only target that does not saturate stays first; among the rest it would drop
    assert after[0]["target_id"] != top or not any(not r["saturates"] for r in after[1:])
    assert "last seen 1.0 h ago" in row["reason"]
    assert "1 of 2 rows name targets not in the catalog (e.g. 'Nowhere'); ignored" in err


@pytest.mark.slow
@pytest.mark.parametrize("site", ["lasilla", "lapalma"])
def test_plan_visits_fit_the_night_and_the_limit(capsys, tmp_path: Path, site: str) -> None:
    out_path = tmp_path / "plan.ecsv"
    code, out, err = _run(capsys, "plan", STARS, "--site", site, "--night", "2026-03-20",
                          "--format", "json", "--out", str(out_path))
    assert code == 0, err
    visits = json.loads(out)
    assert len(visits) > 50
    start = np.array([v["start_mjd"] for v in visits])
    end = np.array([v["end_mjd"] for v in visits])
    assert (end > start).all() and (start[1:] >= end[:-1] - 1e-9).all()  # no overlaps
    ra = np.array([v["ra_deg"] for v in visits])
    dec = np.array([v["dec_deg"] for v in visits])
    exp_start = start + np.array([v["slew_s"] for v in visits]) / 86400.0
    for t in (start, exp_start, end):
        alt, sun = _altaz(site, ra, dec, t)
        assert (alt >= 30.0 - ALT_TOL_DEG).all(), alt.min()
        assert (sun <= -12.0 + SUN_TOL_DEG).all(), sun.max()
    from astropy.table import Table

    t = Table.read(out_path)
    assert len(t) == len(visits) and t["alt_deg"].unit == "deg"
    assert t.meta["site"]["name"] and t.meta["alt_min_deg"] == 30.0
    assert out_path.with_suffix(".png").stat().st_size > 10_000
    for key in ("start_utc", "target_id", "exptime_s", "alt_deg", "airmass", "moon_sep_deg",
                "slew_s"):
        assert key in visits[0]


@pytest.mark.slow
def test_plan_with_bo_and_a_higher_limit_json_out(capsys, tmp_path: Path) -> None:
    out_path = tmp_path / "plan.json"
    code, out, err = _run(capsys, "plan", STARS, "--site", "paranal", "--night", "2026-03-20",
                          "--policy", "bo", "--min-alt", "45", "--out", str(out_path))
    assert code == 0, err
    data = json.loads(out_path.read_text())
    visits = data["visits"]
    assert data["meta"]["alt_min_deg"] == 45.0 and len(visits) > 10
    alt, sun = _altaz("paranal", np.array([v["ra_deg"] for v in visits]),
                      np.array([v["dec_deg"] for v in visits]),
                      np.array([v["end_mjd"] for v in visits]))
    assert (alt >= 45.0 - ALT_TOL_DEG).all() and (sun <= -12.0 + SUN_TOL_DEG).all()
    assert "visits to" in out


def _bad(capsys, tmp_path: Path, *argv: str) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("steer: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not any(p.suffix in (".png", ".ecsv", ".json") for p in tmp_path.iterdir())
    return err


@pytest.mark.parametrize("argv, message", [
    (["suggest", STARS, "--site", "atlantis"], "unknown site 'atlantis'"),
    (["suggest", STARS, "--site", "lasilla", "--time", "yesterday at 9"],
     "--time 'yesterday at 9' is not an ISO 8601 time"),
    (["suggest", STARS, "--site", "lasilla", "--time", "2026-03-21T15:00:00Z"],
     "2026-03-21T15:00:00Z is not in the night of 2026-03-20 (Sun +50.4 deg)"),
    (["suggest", STARS, "--lat", "78.2", "--lon", "15.6", "--height", "10",
      "--time", "2026-06-21T00:00:00Z"], "no night: the Sun never goes below -12.0 deg on"),
    (["plan", STARS, "--lat", "78.2", "--lon", "15.6", "--height", "10", "--night",
      "2026-06-21"], "the Sun never goes below -12.0 deg on the night of 2026-06-21"),
    (["plan", STARS, "--site", "lasilla", "--night", "21/03/2026"], "--night '21/03/2026' is "
     "not a date"),
    (["suggest", STARS, "--site", "lasilla", "--lat", "3"], "either --site or --lat"),
    (["suggest", STARS, "--lat", "3"], "no site"),
    (["suggest", STARS, "--site", "lasilla", "--n", "0"], "--n 0 must be at least 1"),
    (["suggest", STARS, "--site", "lasilla", "--seeing", "0"], "--seeing 0.0 is outside"),
    (["suggest", STARS, "--site", "lasilla", "--policy", "sobol", "--time",
      "2026-03-21T04:00:00Z"], "policy 'sobol' does not choose catalog targets"),
    (["suggest", STARS, "--site", "lasilla", "--policy", "nope", "--time",
      "2026-03-21T04:00:00Z"], "unknown policy 'nope'"),
    (["suggest", "missing.csv", "--site", "lasilla"], "catalog 'missing.csv' does not exist"),
])
def test_bad_input_one_line_exit_2(capsys, tmp_path: Path, argv: list[str], message: str) -> None:
    assert message in _bad(capsys, tmp_path, *argv)


def test_nothing_rises_empty_catalog_bad_history_nothing_written(capsys, tmp_path: Path) -> None:
    south = tmp_path / "south.csv"
    south.write_text("name,ra,dec\nsigma Oct,21:08:46.9,-88:57:23\nbeta Hyi,00:25:45.1,"
                     "-77:15:15\n", encoding="utf-8")
    out = tmp_path / "plan.ecsv"
    err = _bad(capsys, tmp_path, "plan", str(south), "--site", "lapalma", "--night",
               "2026-03-20", "--out", str(out))
    assert f"no target of catalog {str(south)!r} rises above 30.0 deg" in err
    assert "Roque de los Muchachos" in err and not out.exists()
    empty = tmp_path / "empty.csv"
    empty.write_text("name,ra,dec\n", encoding="utf-8")
    assert "no targets (the catalog is empty)" in _bad(
        capsys, tmp_path, "plan", str(empty), "--site", "lasilla", "--night", "2026-03-20")
    hist = tmp_path / "h.csv"
    hist.write_text("target_id,mjd,mag,mag_err\nT0001,61100,15,0.1\n", encoding="utf-8")
    err = _bad(capsys, tmp_path, "plan", STARS, "--site", "lasilla", "--night", "2026-03-20",
               "--history", str(hist), "--out", str(out))
    assert "nothing usable in history" in err and "1 of 1 rows name targets not in the " \
        "catalog (e.g. 'T0001')" in err and not out.exists()
    assert "unknown format '.txt'" in _bad(capsys, tmp_path, "plan", STARS, "--site", "lasilla",
                                          "--night", "2026-03-20", "--out",
                                          str(tmp_path / "p.txt"))
