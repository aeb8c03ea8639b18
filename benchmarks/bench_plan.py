"""Benchmark: ``steer suggest`` / ``steer plan`` timings, and astroplan's schedulers.

Writes ``benchmarks/results/plan.json``::

    .venv/bin/python benchmarks/bench_plan.py [--sizes 100,1000,10000] [--astroplan 100,200]
        [--repeats 3]

* ``suggest``: wall time of the ``steer suggest`` command as a new process
  (start-up and imports included), median of ``--repeats`` runs after one
  warm-up run, at each catalog size, with ``feature`` and ``bo``; and in a
  fresh process per case, after the command's imports and one first answer,
  the median of ``--repeats`` more answers (catalog read, night built,
  policy): what a second question costs once Python has imported astropy
  and torch (the issue's "after the first import").
* ``plan``: wall time of ``steer plan`` of a 1,000-target night with ``feature``.
* astroplan: ``PriorityScheduler`` and ``SequentialScheduler`` (default time
  resolution) on the same targets, the same constraints (altitude >= 30 deg,
  airmass <= 2, Sun below -12 deg), the same night, a slew rate of 2 deg/s
  (the small-robotic mount's top speed; steer's own slew model adds
  acceleration and settling) and blocks of 60 s exposure + 15.5 s readout,
  one block per target; steer ``plan`` (feature) on the same catalog for
  comparison: wall time, visits placed, distinct targets, priority-5 targets
  placed, median airmass. astroplan reads no IERS table from the network
  (``iers.conf.auto_download = False``).

Synthetic targets (``Catalog.synthetic``, seeded by size) that rise above 30
deg at La Silla on the night of 2026-03-20. Run it with nothing else busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STEER = str(REPO / ".venv" / "bin" / "steer")
SITE = "lasilla"
NIGHT = "2026-03-20"
TIME = "2026-03-21T04:00:00Z"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _catalogs(sizes: list[int], folder: Path) -> dict[int, Path]:
    from steer.instruments.sim import Almanac, Catalog
    from steer.instruments.sim.sites import SITES

    s = SITES[SITE]
    alm = Almanac.for_night(NIGHT, s.lat_deg, s.lon_deg, s.height_m)
    out = {}
    for n in sizes:
        out[n] = folder / f"targets-{n}.csv"
        Catalog.synthetic(n, np.random.default_rng(n), alm, s.lat_deg).to_csv(out[n])
    return out


def _wall(argv: list[str], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, env=ENV, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs_s": times}


def _answer(path: Path, policy: str) -> dict[str, float]:
    """One in-process answer: catalog read, night built, policy ranked (seconds each)."""
    from steer.envs.planner import Conditions, night_date_for, open_night, parse_time, suggest
    from steer.instruments.sim.catalog_io import read_catalog
    from steer.instruments.sim.sites import resolve_site

    t0 = time.perf_counter()
    cat = read_catalog(path)
    t1 = time.perf_counter()
    site = resolve_site(SITE)
    when = parse_time(TIME)
    env = open_night(cat, str(path), site, night_date_for(when, site.lon_deg), None, Conditions())
    t2 = time.perf_counter()
    suggest(env, policy, when, 10)
    t3 = time.perf_counter()
    return {"read_catalog_s": t1 - t0, "open_night_s": t2 - t1, "policy_s": t3 - t2,
            "total_s": t3 - t0}


def _in_process(path: Path, policy: str, repeats: int) -> None:
    """Child: the command's preparation (imports, gc.freeze), one first answer, then
    ``repeats`` timed answers after that first import; prints JSON."""
    from steer.envs.plan_cli import _warm

    t0 = time.perf_counter()
    _warm(policy, {})
    first = _answer(path, policy)
    first["imports_s"] = time.perf_counter() - t0 - first["total_s"]
    runs = [_answer(path, policy) for _ in range(repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(json.dumps({"first": first, "after_first_import_median": med,
                      "after_first_import_total_s": [r["total_s"] for r in runs]}))


def _breakdown(path: Path, policy: str, repeats: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--in-process", str(path), policy,
                          str(repeats)], check=True, env=ENV, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _steer_plan(path: Path) -> tuple[dict[str, float], list[dict]]:
    from steer.envs.night_plan import plan
    from steer.envs.planner import Conditions, open_night
    from steer.instruments.sim.catalog_io import read_catalog
    from steer.instruments.sim.sites import resolve_site

    t0 = time.perf_counter()
    cat = read_catalog(path)
    env = open_night(cat, str(path), resolve_site(SITE), NIGHT, None, Conditions())
    result = plan(env, "feature")
    wall = time.perf_counter() - t0
    return _metrics(wall, [(v["target_id"], v["airmass"]) for v in result.visits], cat), \
        result.visits


def _metrics(wall_s: float, placed: list[tuple[str, float]], cat) -> dict[str, float]:
    ids = {t for t, _ in placed}
    prio5 = {str(t) for t, p in zip(cat.target_id, cat.priority, strict=True) if p >= 5}
    return {"wall_s": wall_s, "visits": len(placed), "targets_placed": len(ids),
            "priority5_placed": len(ids & prio5), "priority5_total": len(prio5),
            "airmass_median": float(np.median([x for _, x in placed])) if placed else None}


def _astroplan(path: Path, scheduler: str) -> dict[str, float]:
    from steer.instruments.sim import airmass, configure_astropy_offline

    configure_astropy_offline()
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    from astroplan import (
        FixedTarget,
        Observer,
        ObservingBlock,
        PriorityScheduler,
        Schedule,
        SequentialScheduler,
        Transitioner,
    )
    from astroplan.constraints import AirmassConstraint, AltitudeConstraint, AtNightConstraint

    from steer.instruments.sim import Almanac
    from steer.instruments.sim.catalog_io import read_catalog
    from steer.instruments.sim.sites import SITES

    s = SITES[SITE]
    cat = read_catalog(path)
    alm = Almanac.for_night(NIGHT, s.lat_deg, s.lon_deg, s.height_m)
    loc = EarthLocation(lat=s.lat_deg * u.deg, lon=s.lon_deg * u.deg, height=s.height_m * u.m)
    t0 = time.perf_counter()
    observer = Observer(location=loc)
    constraints = [AltitudeConstraint(min=30 * u.deg), AirmassConstraint(2.0),
                   AtNightConstraint(max_solar_altitude=-12 * u.deg)]
    blocks = [ObservingBlock(FixedTarget(SkyCoord(r * u.deg, d * u.deg), name=str(n)),
                             75.5 * u.s, int(6 - p))  # astroplan: lower number = more important
              for n, r, d, p in zip(cat.target_id, cat.ra_deg, cat.dec_deg, cat.priority,
                                    strict=True)]
    cls = PriorityScheduler if scheduler == "priority" else SequentialScheduler
    sched = Schedule(Time(alm.night_start_mjd, format="mjd"), Time(alm.night_end_mjd, format="mjd"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls(constraints=constraints, observer=observer,
            transitioner=Transitioner(slew_rate=2 * u.deg / u.second))(blocks, sched)
        wall = time.perf_counter() - t0
        placed = [b for b in sched.observing_blocks]
        if placed:
            mid = Time([b.start_time.mjd + 0.5 * (b.end_time.mjd - b.start_time.mjd)
                        for b in placed], format="mjd")
            coords = SkyCoord([b.target.ra for b in placed], [b.target.dec for b in placed])
            alt = coords.transform_to(AltAz(obstime=mid, location=loc)).alt.deg
        else:
            alt = np.zeros(0)
    out = _metrics(wall, [(b.target.name, float(airmass(a))) for b, a in zip(placed, alt,
                                                                              strict=True)], cat)
    out["block_s_median"] = float(np.median([(b.end_time - b.start_time).to_value(u.s)
                                             for b in placed])) if placed else None
    return out


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--in-process":
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        _in_process(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--astroplan", default="100,200", help="catalog sizes for astroplan")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "plan.json"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    sizes = [int(v) for v in args.sizes.split(",")]
    ap_sizes = [int(v) for v in args.astroplan.split(",") if v]
    with tempfile.TemporaryDirectory() as tmp:
        cats = _catalogs(sorted(set(sizes + ap_sizes + [1000])), Path(tmp))
        base = [STEER, "suggest", "--site", SITE, "--time", TIME, "--format", "json"]
        subprocess.run([*base[:1], "suggest", str(cats[sizes[0]]), *base[2:]], check=True,
                       env=ENV, stdout=subprocess.DEVNULL)  # warm-up: caches, bytecode
        suggest_rows = []
        for n in sizes:
            for policy in ("feature", "bo"):
                row = {"targets": n, "policy": policy,
                       **_wall([STEER, "suggest", str(cats[n]), *base[2:], "--policy", policy],
                               args.repeats),
                       "in_process": _breakdown(cats[n], policy, args.repeats)}
                warm = row["in_process"]["after_first_import_median"]["total_s"]
                print(f"suggest {n:>6} {policy:<8} {row['median_s']:.2f} s as a command, "
                      f"{warm:.2f} s in process after the first import", flush=True)
                suggest_rows.append(row)
        plan_row = {"targets": 1000, "policy": "feature",
                    **_wall([STEER, "plan", str(cats[1000]), "--site", SITE, "--night", NIGHT,
                             "--format", "json"], args.repeats)}
        print(f"plan 1000 feature {plan_row['median_s']:.2f} s", flush=True)
        comparison = []
        for n in ap_sizes:
            steer_m, _ = _steer_plan(cats[n])
            comparison.append({"catalog_targets": n, "scheduler": "steer plan (feature)",
                               **steer_m})
            for name in ("priority", "sequential"):
                m = _astroplan(cats[n], name)
                comparison.append({"catalog_targets": n,
                                   "scheduler": f"astroplan {name.title()}Scheduler", **m})
                print(f"astroplan {name} {n}: {m['wall_s']:.1f} s, {m['visits']} visits",
                      flush=True)
            print(f"steer plan {n}: {steer_m['wall_s']:.2f} s, {steer_m['visits']} visits",
                  flush=True)
    try:
        from astroplan import __version__ as astroplan_version
    except ImportError:  # only the steer timings were asked for (--astroplan "")
        astroplan_version = None
    out = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "torch_threads": 1, "astroplan": astroplan_version},
           "site": SITE, "night": NIGHT, "time": TIME, "suggest": suggest_rows,
           "plan": plan_row, "astroplan_comparison": comparison}
    Path(args.out).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
